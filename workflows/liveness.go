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
//
// Version 2 runs the check as a local activity: it is a control activity, so the control
// worker that runs this workflow task runs it in place — one marker in the history instead of
// an activity task dispatched through the server and a second workflow task for its result.
// Every backup and restore starts with this check, so when a fleet's schedules come due
// together this is the server's load the check adds (BenchmarkFleet).
func checkAgent(ctx workflow.Context, vm string) error {
	v := workflow.GetVersion(ctx, agentCheckVersion, workflow.DefaultVersion, 2)
	if v == workflow.DefaultVersion {
		return nil
	}
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second,
		NonRetryableErrorTypes: []string{protocol.ErrAgentUnavailable}}
	in := protocol.CheckAgentInput{VM: vm}
	var res protocol.CheckAgentResult
	if v == 1 {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 2 * time.Minute, RetryPolicy: retry,
		})
		return workflow.ExecuteActivity(actx, protocol.ActivityCheckAgent, in).Get(ctx, &res)
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 2 * time.Minute, RetryPolicy: retry,
	})
	return workflow.ExecuteLocalActivity(lctx, protocol.ActivityCheckAgent, in).Get(ctx, &res)
}
