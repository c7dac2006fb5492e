package workflows

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// newRegisteredEnv registers the workflows exactly as the worker does (Register), so
// inputs go through the same decoding as a start from the Temporal CLI.
func newRegisteredEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *int) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env)
	registerAgentCheck(env)
	prepared := new(int)
	env.RegisterActivityWithOptions(func(context.Context, protocol.PrepareBackupInput) (protocol.PrepareBackupResult, error) {
		*prepared++
		return protocol.PrepareBackupResult{ServerName: "SQLVM1", Database: "SalesDB", ItemID: "item1", Stripes: 1, RecoveryModel: "FULL"}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPrepareBackup})
	env.RegisterActivityWithOptions(func(context.Context, protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
		return protocol.StreamBackupResult{BackupSet: protocol.BackupSet{Type: "L", LastLSN: "42"}}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityStreamBackup})
	env.RegisterActivityWithOptions(func(_ context.Context, in protocol.CommitInput) (protocol.RecoveryPoint, error) {
		return protocol.RecoveryPoint{PointID: in.PointID}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityCommitRecoveryPoint})
	env.RegisterActivityWithOptions(func(context.Context, protocol.PlanRestoreInput) (protocol.RestorePlan, error) {
		t.Error("a refused restore input must not plan anything")
		return protocol.RestorePlan{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPlanRestore})
	return env, prepared
}

func invalidInput(t *testing.T, env *testsuite.TestWorkflowEnvironment) string {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err), "%v", err)
	return err.Error()
}

// Issue 11, item 12: `"strpes": 4` from the Temporal CLI used to start a real full backup
// with the default stripes; a wrong JSON type surfaced as the SDK's raw decode error; and
// an explicit "stripes": 0 was accepted although README says 1–64.
func TestPublicInputsDecodeStrictly(t *testing.T) {
	for _, c := range []struct {
		name, input, want string
	}{
		{"unknown field", `{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "strpes": 4}`, `unknown field "strpes" (did you mean "stripes"?)`},
		{"wrong type", `{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "stripes": "4"}`, `field "stripes" must be a whole number`},
		{"explicit zero stripes", `{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "stripes": 0}`, `"stripes" must be between 1 and 64`},
		{"a newline in the database name", `{"instance": "SQLVM1", "database": "Sales\nDROP DATABASE Payroll;--", "type": "full"}`, `control character`},
		{"a name over 128 characters", `{"instance": "SQLVM1", "database": "` + longName + `", "type": "full"}`, `at most 128`},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, prepared := newRegisteredEnv(t)
			env.ExecuteWorkflow(protocol.WorkflowBackup, json.RawMessage(c.input))
			assert.Contains(t, invalidInput(t, env), c.want)
			assert.Zero(t, *prepared, "nothing ran")
		})
	}
	t.Run("restore: a target name that would end a comment in restore.sql", func(t *testing.T) {
		env, _ := newRegisteredEnv(t)
		env.ExecuteWorkflow(protocol.WorkflowRestore, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p",
			TargetDatabase: "Sales_copy\nDROP DATABASE Payroll;--", AsFilesDir: "/var/backups/sales"})
		assert.Contains(t, invalidInput(t, env), `"targetDatabase"`)
	})
	t.Run("restore: unknown field", func(t *testing.T) {
		env, _ := newRegisteredEnv(t)
		env.ExecuteWorkflow(protocol.WorkflowRestore, json.RawMessage(`{"instance": "SQLVM1", "database": "Sales", "pointId": "p", "overwrte": true}`))
		assert.Contains(t, invalidInput(t, env), `unknown field "overwrte" (did you mean "overwrite"?)`)
	})
	t.Run("a valid input runs", func(t *testing.T) {
		env, prepared := newRegisteredEnv(t)
		env.ExecuteWorkflow(protocol.WorkflowBackup, json.RawMessage(`{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "stripes": 4}`))
		require.True(t, env.IsWorkflowCompleted())
		require.NoError(t, env.GetWorkflowError())
		assert.Equal(t, 1, *prepared)
	})
}

var longName = string(func() []byte {
	b := make([]byte, 129)
	for i := range b {
		b[i] = 'x'
	}
	return b
}())

// Issue 11, item 9: "tailLog" makes BACKUP LOG … WITH NORECOVERY, which leaves the
// database RESTORING. Started from the CLI or Web UI it is refused before the agent is
// asked anything; only a Restore over that database takes one, as its child.
func TestTailLogOnlyAsAStepOfARestore(t *testing.T) {
	env, prepared := newRegisteredEnv(t)
	streamed := false
	env.OnActivity(protocol.ActivityStreamBackup, mock.Anything, mock.Anything).Return(
		func(context.Context, protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
			streamed = true
			return protocol.StreamBackupResult{}, nil
		}).Maybe()
	env.ExecuteWorkflow(protocol.WorkflowBackup, json.RawMessage(`{"instance": "SQLVM1", "database": "SalesDB", "type": "log", "tailLog": true}`))
	msg := invalidInput(t, env)
	assert.Contains(t, msg, `"tailLog" is not accepted here`)
	assert.Zero(t, *prepared)
	assert.False(t, streamed)
}

// The same guard lets the Restore's own tail-log child through.
func TestTailLogChildOfARestoreRuns(t *testing.T) {
	env, _ := newRegisteredEnv(t)
	env.RegisterActivityWithOptions(func(context.Context, protocol.CheckOverwriteInput) error { return nil },
		activity.RegisterOptions{Name: protocol.ActivityCheckOverwrite})
	env.RegisterActivityWithOptions(func(context.Context, protocol.PrepareRestoreInput) (protocol.PrepareRestoreResult, error) {
		return protocol.PrepareRestoreResult{TargetExists: true, TargetState: "ONLINE", NeedsTailLog: true}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPrepareRestore})
	env.RegisterActivityWithOptions(func(context.Context, protocol.RestoreStepInput) (protocol.RestoreStepResult, error) {
		return protocol.RestoreStepResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityRestoreStep})
	env.RegisterActivityWithOptions(func(context.Context, protocol.RecoverInput) (string, error) {
		return "ONLINE", nil
	}, activity.RegisterOptions{Name: protocol.ActivityRecoverDatabase})
	var tail protocol.StreamBackupInput
	env.OnActivity(protocol.ActivityStreamBackup, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
			tail = in
			return protocol.StreamBackupResult{BackupSet: protocol.BackupSet{Type: "L", LastLSN: "42"}}, nil
		})
	env.OnActivity(protocol.ActivityPlanRestore, mock.Anything, mock.Anything).Return(
		protocol.RestorePlan{ItemID: "item1", Steps: []protocol.RestoreStepPlan{{PointID: "p1", Type: "full", LastLSN: "10"}}}, nil)
	env.ExecuteWorkflow(protocol.WorkflowRestore, protocol.RestoreInput{Instance: "SQLVM1", Database: "SalesDB", PointID: "p1", Overwrite: true})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.True(t, tail.TailLog, "the restore's child took the tail-log backup")
}
