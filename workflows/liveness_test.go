package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// registerAgentCheck registers a CheckAgent that finds every agent alive, and the control
// steps every agent step may be preceded by: a MintVaultGrant that mints none (the agent
// uses its own credential), as a control side without the account key answers.
func registerAgentCheck(env *testsuite.TestWorkflowEnvironment) {
	env.RegisterActivityWithOptions(func(_ context.Context, in protocol.CheckAgentInput) (protocol.CheckAgentResult, error) {
		return protocol.CheckAgentResult{VM: in.VM, Polling: true}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityCheckAgent})
	env.RegisterActivityWithOptions(func(context.Context, protocol.MintGrantInput) (*protocol.VaultGrant, error) {
		return nil, nil
	}, activity.RegisterOptions{Name: protocol.ActivityMintVaultGrant})
}

// TestBackupToAVMWithoutAgentFailsAtOnce: CheckAgent's AgentUnavailable ends the backup
// before any step is sent to the VM's queue, and is not retried.
func TestBackupToAVMWithoutAgentFailsAtOnce(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.OnActivity(protocol.ActivityCheckAgent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.CheckAgentInput) (protocol.CheckAgentResult, error) {
			calls++
			assert.Equal(t, "NOPE", in.VM)
			return protocol.CheckAgentResult{}, protocol.UserError(protocol.ErrAgentUnavailable, "no agent for NOPE")
		})
	prepared := false
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(
		func(context.Context, protocol.PrepareBackupInput) (protocol.PrepareBackupResult, error) {
			prepared = true
			return prep, nil
		}).Maybe()
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: `NOPE`, Database: "Sales", Type: protocol.Full})
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(env.GetWorkflowError()))
	assert.Equal(t, 1, calls, "AgentUnavailable is not retried")
	assert.False(t, prepared, "nothing is sent to a queue nobody polls")
}
