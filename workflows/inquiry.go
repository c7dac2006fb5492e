package workflows

import (
	"strings"
	"time"

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
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              protocol.AgentTaskQueue(in.VM),
		ScheduleToCloseTimeout: agentWait,
		StartToCloseTimeout:    prepareTimeout,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: protocol.UserErrors},
	})
	var res protocol.InquiryResult
	if err := workflow.ExecuteActivity(actx, protocol.ActivityDiscover, in).Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
