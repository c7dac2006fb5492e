package worker

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// webhookOf is the watchdog's webhook from the configuration (nil: none). The secret stays
// a reference; the activity resolves it per request.
func webhookOf(w config.Webhook) *rpowatch.Webhook {
	if w.URL == "" {
		return nil
	}
	return &rpowatch.Webhook{URL: w.URL, Header: w.Header, SecretEnv: w.Secret.Env, SecretFile: w.Secret.File}
}

// startWatchdog starts the RPO watchdog unless it runs already: one workflow ID for the
// namespace, so every control worker asks and the first one starts it (a singleton
// long-running workflow rather than a Temporal Schedule: one execution to query, to find in
// the UI by its search attribute, and whose sweeps never overlap). The returned func waits
// for the start to end (see ensureSingleton).
func startWatchdog(ctx context.Context, tc client.Client, cfg *config.Config, log *zap.Logger) func() {
	return ensureSingleton(ctx, tc, cfg.Temporal.ControlTaskQueue, log, "RPO watchdog", protocol.RPOWatchdogID,
		protocol.WorkflowRPOWatchdog, protocol.RPOWatchdogInput{Interval: cfg.Watchdog.Interval})
}

// ensureSingleton starts the workflow under its one ID unless it runs already (then the
// running one is success, whatever its input). It tries in the background until it succeeds
// or the worker stops, so a Temporal that is briefly away does not keep the worker from
// starting. The returned func waits for that to end.
func ensureSingleton(ctx context.Context, tc client.Client, queue string, log *zap.Logger, what, id, workflow string, input any) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for delay := time.Second; ; delay = min(2*delay, time.Minute) {
			run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: id, TaskQueue: queue,
				WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
				WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			}, workflow, input)
			if err == nil {
				log.Info(what+" running", zap.String("workflowId", run.GetID()), zap.String("runId", run.GetRunID()))
				return
			}
			if ctx.Err() != nil {
				return
			}
			log.Warn("could not start the "+what+"; trying again", zap.Duration("in", delay), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
		}
	}()
	return func() { <-done }
}
