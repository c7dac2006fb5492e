package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// The control worker starts the drill planner as it starts the watchdog: under its one
// workflow ID, with the configured pass interval, taking a running planner as success
// (USE_EXISTING), and asking again after a failed start until one succeeds.
func TestStartDrillPlannerEnsuresTheSingleton(t *testing.T) {
	cfg := config.Default()
	cfg.Temporal.ControlTaskQueue = "control-q"
	cfg.DrillPlanner.Every = 42 * time.Second
	tc := &mocks.Client{}
	isPlanner := mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return o.ID == protocol.DrillPlannerWorkflowID && o.TaskQueue == "control-q" &&
			o.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING &&
			o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	})
	in := protocol.DrillPlannerInput{Every: 42 * time.Second}
	run := &mocks.WorkflowRun{}
	run.On("GetID").Return(protocol.DrillPlannerWorkflowID)
	run.On("GetRunID").Return("run-1")
	tc.On("ExecuteWorkflow", mock.Anything, isPlanner, protocol.WorkflowDrillPlanner, in).
		Return(nil, errors.New("temporal unavailable")).Once()
	tc.On("ExecuteWorkflow", mock.Anything, isPlanner, protocol.WorkflowDrillPlanner, in).Return(run, nil).Once()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	startDrillPlanner(ctx, tc, cfg, zap.NewNop())()
	require.NoError(t, ctx.Err(), "started before the deadline")
	tc.AssertNumberOfCalls(t, "ExecuteWorkflow", 2)
	tc.AssertExpectations(t)
}

// A worker stopping while Temporal is away stops asking at once.
func TestStartDrillPlannerStopsWithTheWorker(t *testing.T) {
	tc := &mocks.Client{}
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, protocol.WorkflowDrillPlanner, mock.Anything).
		Return(nil, errors.New("temporal unavailable"))
	ctx, cancel := context.WithCancel(context.Background())
	wait := startDrillPlanner(ctx, tc, config.Default(), zap.NewNop())
	cancel()
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the start did not end with the worker")
	}
	assert.GreaterOrEqual(t, len(tc.Calls), 1)
}
