package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Register registers every workflow under its public type name; those with an input
// decode it strictly (strictInput).
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(strictInput(Backup), workflowOpts(protocol.WorkflowBackup))
	r.RegisterWorkflowWithOptions(strictInput(Restore), workflowOpts(protocol.WorkflowRestore))
	r.RegisterWorkflowWithOptions(strictInput(Inquiry), workflowOpts(protocol.WorkflowInquiry))
	r.RegisterWorkflowWithOptions(strictInput(ConfigureProtection), workflowOpts(protocol.WorkflowConfigureProtection))
	r.RegisterWorkflowWithOptions(strictInput(StopProtection), workflowOpts(protocol.WorkflowStopProtection))
	r.RegisterWorkflowWithOptions(strictInputOnly(ResumeProtection), workflowOpts(protocol.WorkflowResumeProtection))
	r.RegisterWorkflowWithOptions(strictInput(Retention), workflowOpts(protocol.WorkflowRetention))
	r.RegisterWorkflowWithOptions(strictInput(Reconcile), workflowOpts(protocol.WorkflowReconcile))
	r.RegisterWorkflowWithOptions(Rediscover, workflowOpts(protocol.WorkflowRediscover))
	r.RegisterWorkflowWithOptions(strictInput(PutPolicy), workflowOpts(protocol.WorkflowPutPolicy))
	r.RegisterWorkflowWithOptions(strictInput(RPOWatchdog), workflowOpts(protocol.WorkflowRPOWatchdog))
	r.RegisterWorkflowWithOptions(strictInput(RestoreDrill), workflowOpts(protocol.WorkflowRestoreDrill))
	r.RegisterWorkflowWithOptions(strictInputOnly(DrillPlanner), workflowOpts(protocol.WorkflowDrillPlanner))
}

func workflowOpts(name string) workflow.RegisterOptions { return workflow.RegisterOptions{Name: name} }
