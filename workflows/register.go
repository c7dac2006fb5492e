package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Register registers every workflow under its public type name.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(Backup, workflowOpts(protocol.WorkflowBackup))
	r.RegisterWorkflowWithOptions(Restore, workflowOpts(protocol.WorkflowRestore))
	r.RegisterWorkflowWithOptions(Inquiry, workflowOpts(protocol.WorkflowInquiry))
	r.RegisterWorkflowWithOptions(ConfigureProtection, workflowOpts(protocol.WorkflowConfigureProtection))
	r.RegisterWorkflowWithOptions(StopProtection, workflowOpts(protocol.WorkflowStopProtection))
	r.RegisterWorkflowWithOptions(ResumeProtection, workflowOpts(protocol.WorkflowResumeProtection))
	r.RegisterWorkflowWithOptions(Retention, workflowOpts(protocol.WorkflowRetention))
	r.RegisterWorkflowWithOptions(Reconcile, workflowOpts(protocol.WorkflowReconcile))
	r.RegisterWorkflowWithOptions(Rediscover, workflowOpts(protocol.WorkflowRediscover))
}

func workflowOpts(name string) workflow.RegisterOptions { return workflow.RegisterOptions{Name: name} }
