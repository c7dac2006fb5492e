package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// PutPolicy validates a policy document and stores it in the vault (the PutPolicy activity,
// which is idempotent). The workflow exists so that policy writes, like every other vault
// write, run on the control side: the CLI only starts workflows and reads. Its ID comes from
// the policy name (protocol.PutPolicyWorkflowID), so writes of one policy run one at a time.
// Re-planning the schedules of items that use an edited policy is sqlvault.Reconcile's job,
// started by the caller.
func PutPolicy(ctx workflow.Context, in protocol.PutPolicyInput) (*protocol.PutPolicyResult, error) {
	cctx := controlCtx(ctx, protocol.ErrInvalidPolicy, protocol.ErrPolicyExists)
	var res protocol.PutPolicyResult
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityPutPolicy, in).Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
