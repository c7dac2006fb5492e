package worker

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// startDrillPlanner starts the restore-drill planner the same way: one per namespace, so
// drills stay bounded per instance however many control workers run.
func startDrillPlanner(ctx context.Context, tc client.Client, cfg *config.Config, log *zap.Logger) func() {
	return ensureSingleton(ctx, tc, cfg.Temporal.ControlTaskQueue, log, "drill planner", protocol.DrillPlannerWorkflowID,
		protocol.WorkflowDrillPlanner, protocol.DrillPlannerInput{Every: cfg.DrillPlanner.Every})
}
