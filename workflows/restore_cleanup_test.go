package workflows

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// newRestoreEnv is a Restore with a three-step chain whose activities succeed unless a test
// overrides them.
func newRestoreEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Restore, workflowOpts(protocol.WorkflowRestore))
	registerAgentCheck(env)
	env.RegisterActivityWithOptions(func(context.Context, protocol.PlanRestoreInput) (protocol.RestorePlan, error) {
		return protocol.RestorePlan{ItemID: "item1", Steps: []protocol.RestoreStepPlan{{PointID: "p1"}, {PointID: "p2"}, {PointID: "p3"}}}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPlanRestore})
	env.RegisterActivityWithOptions(func(context.Context, protocol.PrepareRestoreInput) (protocol.PrepareRestoreResult, error) {
		return protocol.PrepareRestoreResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPrepareRestore})
	env.RegisterActivityWithOptions(func(context.Context, protocol.RestoreStepInput) (protocol.RestoreStepResult, error) {
		return protocol.RestoreStepResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityRestoreStep})
	env.RegisterActivityWithOptions(func(context.Context, protocol.RecoverInput) (string, error) {
		return "ONLINE", nil
	}, activity.RegisterOptions{Name: protocol.ActivityRecoverDatabase})
	env.RegisterActivityWithOptions(func(context.Context, protocol.VerifyDatabaseInput) (protocol.VerifyDatabaseResult, error) {
		return protocol.VerifyDatabaseResult{OK: true}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityVerifyDatabase})
	env.RegisterActivityWithOptions(func(context.Context, protocol.DropScratchInput) error {
		return nil
	}, activity.RegisterOptions{Name: protocol.ActivityDropScratchDatabase})
	return env
}

// TestVerifyRestoreDropsScratchWhenAStepFails: the second RESTORE of a verify-restore's chain
// is refused; the run fails with that error and the scratch database (and only it) is dropped.
func TestVerifyRestoreDropsScratchWhenAStepFails(t *testing.T) {
	env := newRestoreEnv(t)
	env.OnActivity(protocol.ActivityRestoreStep, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.RestoreStepInput) (protocol.RestoreStepResult, error) {
			if in.Index == 1 {
				return protocol.RestoreStepResult{}, protocol.UserError(protocol.ErrRestoreChainRejected, "refused")
			}
			return protocol.RestoreStepResult{}, nil
		})
	var dropped []protocol.DropScratchInput
	env.OnActivity(protocol.ActivityDropScratchDatabase, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.DropScratchInput) error {
			dropped = append(dropped, in)
			return nil
		})
	env.ExecuteWorkflow(protocol.WorkflowRestore, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p3", Verify: true})
	require.True(t, env.IsWorkflowCompleted())
	assert.Equal(t, protocol.ErrRestoreChainRejected, protocol.ErrorType(env.GetWorkflowError()))
	require.Len(t, dropped, 1, "the scratch database is dropped once")
	assert.True(t, strings.HasPrefix(dropped[0].Scratch, "Sales_sqlvault_verify_"), dropped[0].Scratch)
	// The test environment's run ID is not a UUID, so compare with what the workflow derives
	// from it (the agent's own check of the shape runs in e2e with real run IDs): a new run
	// takes the tail of its run ID (runTagChange).
	assert.Equal(t, protocol.VerifyScratchName("Sales", shortRunID("default-test-run-id", 1)), dropped[0].Scratch)
	assert.Equal(t, "SQLVM1", dropped[0].TargetInstance)
}

// TestRestoreWithoutVerifyLeavesItsTargetOnFailure: a failed restore under a name the user
// chose is not dropped (its RESTORING state is what the error tells the user about).
func TestRestoreWithoutVerifyLeavesItsTargetOnFailure(t *testing.T) {
	env := newRestoreEnv(t)
	env.OnActivity(protocol.ActivityRestoreStep, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.RestoreStepInput) (protocol.RestoreStepResult, error) {
			return protocol.RestoreStepResult{}, protocol.UserError(protocol.ErrRestoreChainRejected, "refused")
		})
	dropped := 0
	env.OnActivity(protocol.ActivityDropScratchDatabase, mock.Anything, mock.Anything).Return(
		func(context.Context, protocol.DropScratchInput) error { dropped++; return nil }).Maybe()
	env.ExecuteWorkflow(protocol.WorkflowRestore, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p3", TargetDatabase: "Sales_copy"})
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())
	assert.Zero(t, dropped)
}
