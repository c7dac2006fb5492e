package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// The planner starts what the plan says, tells the next plan what still runs on each
// instance, and continues as new after its passes once its drills have ended.
func TestDrillPlannerCountsRunningDrillsPerInstance(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(DrillPlanner, workflowOpts(protocol.WorkflowDrillPlanner))
	var started []string
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in protocol.RestoreDrillInput) (*protocol.DrillRecord, error) {
		started = append(started, workflow.GetInfo(ctx).WorkflowExecution.ID)
		return nil, workflow.Sleep(ctx, 7*time.Minute)
	}, workflowOpts(protocol.WorkflowRestoreDrill))
	var asked []map[string]int
	env.RegisterActivityWithOptions(func(_ context.Context, in protocol.PlanDrillsInput) (protocol.PlanDrillsResult, error) {
		asked = append(asked, in.Running)
		if len(asked) > 1 {
			return protocol.PlanDrillsResult{Items: 2}, nil
		}
		return protocol.PlanDrillsResult{Items: 2, Drills: []protocol.PlannedDrill{
			{ItemID: "ia", Target: "SQLVM1", Input: protocol.RestoreDrillInput{Instance: "SQLVM1", Database: "A"}},
			{ItemID: "ib", Target: "SQLVM1", Input: protocol.RestoreDrillInput{Instance: "SQLVM1", Database: "B"}},
		}}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPlanDrills})

	env.ExecuteWorkflow(protocol.WorkflowDrillPlanner, protocol.DrillPlannerInput{Every: 5 * time.Minute, Passes: 3})
	require.True(t, env.IsWorkflowCompleted())
	assert.True(t, workflow.IsContinueAsNewError(env.GetWorkflowError()), "%v", env.GetWorkflowError())
	assert.ElementsMatch(t, []string{protocol.DrillWorkflowID("ia"), protocol.DrillWorkflowID("ib")}, started)
	require.Len(t, asked, 3)
	assert.Empty(t, asked[0])
	assert.Equal(t, map[string]int{"SQLVM1": 2}, asked[1], "at 5 minutes both drills still run")
	assert.Empty(t, asked[2], "at 10 minutes both have ended")
}

// A planner whose passes are over waits for its drills before it continues as new, so the
// next run does not start more on an instance than the bound allows.
func TestDrillPlannerWaitsForItsDrillsBeforeContinuingAsNew(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(DrillPlanner, workflowOpts(protocol.WorkflowDrillPlanner))
	var ended time.Time
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in protocol.RestoreDrillInput) (*protocol.DrillRecord, error) {
		err := workflow.Sleep(ctx, 3*time.Hour)
		ended = workflow.Now(ctx)
		return nil, err
	}, workflowOpts(protocol.WorkflowRestoreDrill))
	env.RegisterActivityWithOptions(func(_ context.Context, in protocol.PlanDrillsInput) (protocol.PlanDrillsResult, error) {
		if len(in.Running) > 0 {
			return protocol.PlanDrillsResult{}, nil
		}
		return protocol.PlanDrillsResult{Drills: []protocol.PlannedDrill{{ItemID: "ia", Target: "SQLVM1",
			Input: protocol.RestoreDrillInput{Instance: "SQLVM1", Database: "A"}}}}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPlanDrills})
	start := env.Now()
	env.ExecuteWorkflow(protocol.WorkflowDrillPlanner, protocol.DrillPlannerInput{Every: time.Minute, Passes: 2})
	require.True(t, env.IsWorkflowCompleted())
	assert.True(t, workflow.IsContinueAsNewError(env.GetWorkflowError()))
	assert.False(t, ended.IsZero(), "the drill ended before the run")
	assert.GreaterOrEqual(t, env.Now().Sub(start), 3*time.Hour)
}

// A cancelled planner stops planning (it does not spin through its passes).
func TestDrillPlannerStopsWhenCancelled(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(DrillPlanner, workflowOpts(protocol.WorkflowDrillPlanner))
	plans := 0
	env.RegisterActivityWithOptions(func(context.Context, protocol.PlanDrillsInput) (protocol.PlanDrillsResult, error) {
		plans++
		return protocol.PlanDrillsResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPlanDrills})
	env.RegisterDelayedCallback(env.CancelWorkflow, 12*time.Minute)
	env.ExecuteWorkflow(protocol.WorkflowDrillPlanner, protocol.DrillPlannerInput{Every: 5 * time.Minute, Passes: 100})
	require.True(t, env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, env.GetWorkflowError(), &canceled)
	assert.Equal(t, 3, plans, "passes at 0, 5 and 10 minutes, none after the cancel")
}
