package workflows

import (
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Inquiry discovers a VM's instances and databases on its agent: what exists, and what of
// it can be protected with which backup types.
func Inquiry(ctx workflow.Context, in protocol.InquiryInput) (*protocol.InquiryResult, error) {
	if strings.TrimSpace(in.VM) == "" {
		return nil, temporal.NewNonRetryableApplicationError(`invalid inquiry input: "vm" is required`, protocol.ErrInvalidInput, nil)
	}
	if err := checkAgent(ctx, in.VM); err != nil {
		return nil, err
	}
	actx := agentStepCtx(ctx, in.VM, 0, protocol.UserErrors)
	var res protocol.InquiryResult
	if err := workflow.ExecuteActivity(actx, protocol.ActivityDiscover, in).Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
