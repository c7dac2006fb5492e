package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Backup, workflowOpts(protocol.WorkflowBackup))
	env.RegisterActivityWithOptions(func(context.Context, protocol.PrepareBackupInput) (protocol.PrepareBackupResult, error) {
		return protocol.PrepareBackupResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPrepareBackup})
	env.RegisterActivityWithOptions(func(context.Context, protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
		return protocol.StreamBackupResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityStreamBackup})
	env.RegisterActivityWithOptions(func(context.Context, protocol.CommitInput) (protocol.RecoveryPoint, error) {
		return protocol.RecoveryPoint{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityCommitRecoveryPoint})
	env.RegisterActivityWithOptions(func(context.Context, protocol.ChainStateInput) (*protocol.ChainState, error) {
		return nil, nil
	}, activity.RegisterOptions{Name: protocol.ActivityBackupChainState})
	registerAgentCheck(env)
	return env
}

var prep = protocol.PrepareBackupResult{ServerName: "SQLVM1", Database: "Sales", ItemID: "item1", Stripes: 2, RecoveryModel: "FULL"}

func TestBackupRunsPrepareStreamCommitOnTheRightQueues(t *testing.T) {
	env := newEnv(t)
	var streamIn protocol.StreamBackupInput
	var commitIn protocol.CommitInput
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.PrepareBackupInput) (protocol.PrepareBackupResult, error) {
			assert.Equal(t, "sqlvault-agent-sqlvm1", activity.GetInfo(ctx).TaskQueue)
			return prep, nil
		})
	env.OnActivity(protocol.ActivityStreamBackup, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
			assert.Equal(t, "sqlvault-agent-sqlvm1", activity.GetInfo(ctx).TaskQueue)
			streamIn = in
			return protocol.StreamBackupResult{BackupSet: protocol.BackupSet{Type: "D", LastLSN: "37000000000000042"}}, nil
		})
	env.OnActivity(protocol.ActivityCommitRecoveryPoint, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.CommitInput) (protocol.RecoveryPoint, error) {
			commitIn = in
			return protocol.RecoveryPoint{ItemID: in.ItemID, PointID: in.PointID, LastLSN: in.Stream.BackupSet.LastLSN}, nil
		})
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: `SQLVM1`, Database: "sales", Type: protocol.Full})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res protocol.BackupResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, "37000000000000042", res.RecoveryPoint.LastLSN)
	assert.Equal(t, "Sales", streamIn.Database, "the stream uses the name as SQL Server spells it")
	assert.True(t, streamIn.Compression)
	assert.Equal(t, 2, streamIn.Stripes)
	assert.Equal(t, streamIn.PointID, commitIn.PointID)
	assert.Contains(t, streamIn.PointID, "-full-")
	assert.Equal(t, "SQLVM1", commitIn.VM)

	v, err := env.QueryWorkflow(protocol.QueryProgress)
	require.NoError(t, err)
	var p protocol.BackupProgress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, protocol.PhaseDone, p.Phase)
}

func TestBackupUserErrorFailsFast(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(
		func(context.Context, protocol.PrepareBackupInput) (protocol.PrepareBackupResult, error) {
			calls++
			return protocol.PrepareBackupResult{}, protocol.UserError(protocol.ErrLogBackupSimple, "database Sales uses SIMPLE recovery")
		})
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Log})
	err := env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, protocol.ErrLogBackupSimple, protocol.ErrorType(err))
	assert.Equal(t, 1, calls, "a user error is not retried")
}

func TestBackupRetriesTransientStreamFailures(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(prep, nil)
	attempts := 0
	env.OnActivity(protocol.ActivityStreamBackup, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
			attempts++
			if attempts < 3 {
				return protocol.StreamBackupResult{}, protocol.RetryableError(protocol.ErrVaultUnavailable, errors.New("503"), "vault unreachable")
			}
			return protocol.StreamBackupResult{Attempt: activity.GetInfo(ctx).Attempt}, nil
		})
	env.OnActivity(protocol.ActivityCommitRecoveryPoint, mock.Anything, mock.Anything).Return(protocol.RecoveryPoint{PointID: "p"}, nil)
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Full})
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, 3, attempts)
}

func TestBackupRejectsBadInput(t *testing.T) {
	env := newEnv(t)
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: "", Database: "x", Type: "weekly"})
	err := env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, ae.Error(), `"instance" is required`)
	assert.Contains(t, ae.Error(), `"type" must be one of`)
}

// The stream gets a grant minted on the control side for its own point: every stripe of
// every attempt the stream may make, for as long as its retries may run.
func TestBackupStreamGetsTheGrantMintedForItsPoint(t *testing.T) {
	env := newEnv(t)
	var mintIn protocol.MintGrantInput
	var mintQueue string
	env.OnActivity(protocol.ActivityMintVaultGrant, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.MintGrantInput) (*protocol.VaultGrant, error) {
			mintIn, mintQueue = in, activity.GetInfo(ctx).TaskQueue
			return &protocol.VaultGrant{Sealed: []byte("sealed for " + in.PointIDs[0]), KeyID: "k1"}, nil
		})
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(prep, nil)
	var streamIn protocol.StreamBackupInput
	env.OnActivity(protocol.ActivityStreamBackup, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
			streamIn = in
			return protocol.StreamBackupResult{BackupSet: protocol.BackupSet{Type: "D", LastLSN: "42"}}, nil
		})
	env.OnActivity(protocol.ActivityCommitRecoveryPoint, mock.Anything, mock.Anything).Return(protocol.RecoveryPoint{}, nil)
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: `SQLVM1`, Database: "sales", Type: protocol.Full})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.NotContains(t, mintQueue, "sqlvault-agent-", "minted on the control side")
	assert.Equal(t, protocol.MintGrantInput{Op: protocol.GrantBackup, ItemID: "item1", PointIDs: []string{streamIn.PointID},
		Stripes: 2, Attempts: 8, Valid: streamTimeout + agentWait + protocol.GrantMargin, VM: "SQLVM1"}, mintIn,
		"the grant request names the VM whose agent streams: the control side delivers it the data keys it needs")
	require.NotNil(t, streamIn.Grant)
	assert.Equal(t, "sealed for "+streamIn.PointID, string(streamIn.Grant.Sealed))
}

// A run from before per-VM keys names no VM in its grant request.
func TestBackupGrantOfARunFromBeforePerVMKeysNamesNoVM(t *testing.T) {
	env := newEnv(t)
	env.OnGetVersion(vmDataKeysVersion, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	var mintIn protocol.MintGrantInput
	env.OnActivity(protocol.ActivityMintVaultGrant, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.MintGrantInput) (*protocol.VaultGrant, error) {
			mintIn = in
			return nil, nil
		})
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(prep, nil)
	env.OnActivity(protocol.ActivityStreamBackup, mock.Anything, mock.Anything).Return(protocol.StreamBackupResult{BackupSet: protocol.BackupSet{Type: "D", LastLSN: "42"}}, nil)
	env.OnActivity(protocol.ActivityCommitRecoveryPoint, mock.Anything, mock.Anything).Return(protocol.RecoveryPoint{}, nil)
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: `SQLVM1`, Database: "sales", Type: protocol.Full})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, protocol.GrantBackup, mintIn.Op)
	assert.Empty(t, mintIn.VM)
}
