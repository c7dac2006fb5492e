package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// agentCheckVersion gates the agent check (issue 11 item 11) for histories recorded before it.
const agentCheckVersion = "agent-liveness-check"

// checkAgent fails at once with AgentUnavailable when nothing polls the VM's agent queue and
// its agent has not been seen within its grace period, instead of letting the next step wait
// out agentWait on a queue nobody polls. Workflow code cannot call the Temporal client, so
// the control activity CheckAgent asks. Histories from before the check skip it.
func checkAgent(ctx workflow.Context, vm string) error {
	if workflow.GetVersion(ctx, agentCheckVersion, workflow.DefaultVersion, 1) != 1 {
		return nil
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second,
			NonRetryableErrorTypes: []string{protocol.ErrAgentUnavailable}},
	})
	var res protocol.CheckAgentResult
	return workflow.ExecuteActivity(actx, protocol.ActivityCheckAgent, protocol.CheckAgentInput{VM: vm}).Get(ctx, &res)
}
