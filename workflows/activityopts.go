package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// The activity options of each role, written once. A retry policy is recorded in the
// ActivityTaskScheduled event, but replay does not compare it: changing one here changes
// new runs only (and the recorded histories still replay).

// stepRetry is how a short step is retried: after 2 s, doubling, at most a minute apart;
// maxAttempts 0 retries until the step's ScheduleToClose (or the run) ends. nonRetryable
// are the error types that fail the step at once.
func stepRetry(maxAttempts int32, nonRetryable []string) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		MaximumAttempts: maxAttempts, NonRetryableErrorTypes: nonRetryable}
}

// userErrorsAnd is protocol.UserErrors and more, in a slice of its own (appending to
// UserErrors itself could write into its backing array).
func userErrorsAnd(more ...string) []string {
	return append(append([]string{}, protocol.UserErrors...), more...)
}

// controlStepCtx runs control activities (the vault, schedules: the workflow's own task
// queue) for at most startToClose an attempt.
func controlStepCtx(ctx workflow.Context, startToClose time.Duration, maxAttempts int32, nonRetryable []string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: startToClose,
		RetryPolicy: stepRetry(maxAttempts, nonRetryable)})
}

// controlCtx is the protection workflows' control step: ten minutes an attempt, twenty
// attempts, user errors and nonRetryable fail at once.
func controlCtx(ctx workflow.Context, nonRetryable ...string) workflow.Context {
	return controlStepCtx(ctx, 10*time.Minute, 20, userErrorsAnd(nonRetryable...))
}

// agentStepCtx runs a short agent activity on the VM's agent: it waits up to agentWait for
// an agent to pick it up, and each attempt has prepareTimeout.
func agentStepCtx(ctx workflow.Context, vm string, maxAttempts int32, nonRetryable []string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: protocol.AgentTaskQueue(vm),
		ScheduleToCloseTimeout: agentWait, StartToCloseTimeout: prepareTimeout, RetryPolicy: stepRetry(maxAttempts, nonRetryable)})
}

// agentLongStepCtx runs a long agent activity (a RESTORE, a check, files written): it
// heartbeats, so a dead agent is noticed within heartbeatTimeout, and is retried from 5 s
// up to 2 minutes apart, maxAttempts times.
func agentLongStepCtx(ctx workflow.Context, vm string, startToClose time.Duration, maxAttempts int32, nonRetryable []string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: protocol.AgentTaskQueue(vm),
		ScheduleToCloseTimeout: startToClose + agentWait, StartToCloseTimeout: startToClose, HeartbeatTimeout: heartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 2 * time.Minute,
			MaximumAttempts: maxAttempts, NonRetryableErrorTypes: nonRetryable}})
}
