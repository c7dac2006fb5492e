package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

const (
	drillPlannerEvery  = 5 * time.Minute
	drillPlannerPasses = 288 // a day of passes at 5 minutes, then continue-as-new
)

// DrillPlanner runs every policy's restore drills: one singleton workflow
// (protocol.DrillPlannerWorkflowID) that, every in.Every, asks the control side which drills
// are due (ActivityPlanDrills: each item at a slot hashed over its period, at most the
// policy's MaxPerInstance on one target instance, counting the drills this run has going)
// and starts each as a child sqlvault.RestoreDrill with the item's drill workflow ID.
//
// One planner rather than a Temporal Schedule per item: schedules fire independently, so
// jittered times over 2,000 items would only make a pile-up on one instance unlikely, not
// impossible (and a slow instance makes it likely); the planner knows what runs and bounds
// it. A drill it cannot start (the item's drill already running, started by hand) counts
// as ended. A cancelled planner stops at once and leaves its drills running. After in.Passes passes (or when Temporal suggests it) the run stops starting
// drills, waits for its drills to end, so the next run's count starts true, and continues
// as new.
func DrillPlanner(ctx workflow.Context, in protocol.DrillPlannerInput) error {
	every, passes := in.Every, in.Passes
	if every <= 0 {
		every = drillPlannerEvery
	}
	if passes <= 0 {
		passes = drillPlannerPasses
	}
	running := map[string]int{}
	inFlight := 0
	sel := workflow.NewSelector(ctx)
	planCtx := controlCtx(ctx)
	for pass := 0; pass < passes && !workflow.GetInfo(ctx).GetContinueAsNewSuggested(); pass++ {
		var plan protocol.PlanDrillsResult
		if err := workflow.ExecuteActivity(planCtx, protocol.ActivityPlanDrills, protocol.PlanDrillsInput{
			Now: workflow.Now(ctx), Running: running,
		}).Get(ctx, &plan); err != nil {
			workflow.GetLogger(ctx).Error("drill planner: could not plan this pass; trying again next pass", "error", err)
		}
		for _, d := range plan.Drills {
			target := d.Target
			running[target]++
			inFlight++
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID: protocol.DrillWorkflowID(d.ItemID),
				// A drill outlives a planner that ends: its restore must finish (or clean up).
				ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
			})
			sel.AddFuture(workflow.ExecuteChildWorkflow(cctx, protocol.WorkflowRestoreDrill, d.Input), func(workflow.Future) {
				// Passed or failed, the drill recorded itself; the planner only counts.
				running[target]--
				if running[target] == 0 {
					delete(running, target)
				}
				inFlight--
			})
		}
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		fired := false
		sel.AddFuture(workflow.NewTimer(timerCtx, every), func(workflow.Future) { fired = true })
		for !fired {
			sel.Select(ctx)
		}
		cancelTimer()
		if ctx.Err() != nil {
			// Cancelled: stop planning. The drills started go on (their parent close policy
			// abandons them) and clean up after themselves.
			return ctx.Err()
		}
	}
	for inFlight > 0 {
		sel.Select(ctx)
	}
	return workflow.NewContinueAsNewError(ctx, protocol.WorkflowDrillPlanner, in)
}
