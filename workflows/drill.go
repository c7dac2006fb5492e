package workflows

import (
	"errors"
	"hash/fnv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

const (
	drillPickTimeout   = 5 * time.Minute
	drillRecordTimeout = 2 * time.Minute
)

// RestoreDrill proves one protected database restorable: it picks what to restore (the
// newest point, or a random restorable instant of the last days), restores it as a scratch
// database on the target instance and runs DBCC CHECKDB (sqlvault.Restore with Verify, as a
// child: the same restore and verify-restore steps, and the same guarantee that the scratch
// database is dropped whatever ends the restore), then records the result in the vault
// beside the point it proved. A drill that ran and did not prove the database restorable
// fails with RestoreDrillFailed, its record in the error's details; a cancelled drill waits
// for the restore's clean-up and records nothing (it proved nothing either way).
func RestoreDrill(ctx workflow.Context, in protocol.RestoreDrillInput) (*protocol.DrillRecord, error) {
	if err := in.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), protocol.ErrInvalidInput, nil)
	}
	info := workflow.GetInfo(ctx)
	start := workflow.Now(ctx)
	target := in.TargetInstance
	if target == "" {
		target = in.Instance
	}
	rec := &protocol.DrillRecord{ItemID: protocol.ItemID(in.Instance, in.Database), Instance: in.Instance, Database: in.Database,
		TargetInstance: target, StartedAt: start, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		protocol.SAInstance.ValueSet(in.Instance), protocol.SADatabase.ValueSet(in.Database)); err != nil {
		return nil, err
	}

	err := drillRestore(ctx, in, rec)
	if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
		return nil, err
	}
	rec.FinishedAt = workflow.Now(ctx)
	rec.Outcome = protocol.DrillPassed
	if err != nil {
		rec.Outcome = protocol.DrillFailed
		if rec.Error == "" {
			rec.Error = drillErrorText(err)
		}
	}
	recCtx := controlStepCtx(ctx, drillRecordTimeout, 0, nil)
	recCtx = workflow.WithScheduleToCloseTimeout(recCtx, time.Hour)
	if err := workflow.ExecuteActivity(recCtx, protocol.ActivityRecordDrill, *rec).Get(ctx, nil); err != nil {
		return nil, err
	}
	if rec.Outcome != protocol.DrillPassed {
		return nil, temporal.NewNonRetryableApplicationError("restore drill of "+in.Database+" failed: "+rec.Error,
			protocol.ErrDrillFailed, nil, *rec)
	}
	return rec, nil
}

// drillRestore picks the target and runs the verify-restore, filling rec from what it
// learns; its error is the drill's failure (or cancellation).
func drillRestore(ctx workflow.Context, in protocol.RestoreDrillInput, rec *protocol.DrillRecord) error {
	info := workflow.GetInfo(ctx)
	var pick protocol.PickDrillTargetResult
	pickCtx := controlStepCtx(ctx, drillPickTimeout, 0, userErrorsAnd(protocol.ErrNotRestorable))
	pickCtx = workflow.WithScheduleToCloseTimeout(pickCtx, time.Hour)
	if err := workflow.ExecuteActivity(pickCtx, protocol.ActivityPickDrillTarget, protocol.PickDrillTargetInput{
		Instance: in.Instance, Database: in.Database, Pick: in.Pick, RandomInstantDays: in.RandomInstantDays,
		Now: rec.StartedAt, Fraction: drillFraction(info.WorkflowExecution.RunID),
	}).Get(ctx, &pick); err != nil {
		return err
	}
	rec.At, rec.PointID = pick.At, pick.PointID

	// The restore is a child so that its own clean-up (drop the scratch database on any
	// failure or cancellation) covers the drill: a cancelled or terminated drill asks it to
	// cancel (never terminates it, which would skip the drop) and waits for it to finish.
	childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:          info.WorkflowExecution.ID + "-restore",
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
	})
	var res protocol.RestoreResult
	err := workflow.ExecuteChildWorkflow(childCtx, protocol.WorkflowRestore, protocol.RestoreInput{
		Instance: in.Instance, Database: in.Database, PointID: pick.PointID, At: pick.At,
		TargetInstance: in.TargetInstance, TargetVM: in.TargetVM, Verify: true,
	}).Get(ctx, &res)
	if err != nil {
		// A failed check carries the restore's result (the CHECKDB verdict) as details.
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == protocol.ErrVerifyFailed && appErr.HasDetails() {
			var failed protocol.RestoreResult
			if appErr.Details(&failed) == nil {
				fillFromRestore(rec, &failed)
				rec.Error = "DBCC CHECKDB found errors in the restored copy"
			}
		}
		return err
	}
	fillFromRestore(rec, &res)
	return nil
}

func fillFromRestore(rec *protocol.DrillRecord, res *protocol.RestoreResult) {
	rec.ScratchDatabase = res.TargetDatabase
	rec.RestoreSeconds = res.RestoreSeconds
	if n := len(res.Steps); n > 0 {
		rec.PointID = res.Steps[n-1].PointID // the point the restore ended on
	}
	if res.Verify != nil {
		rec.CheckDB = res.Verify.Message
	}
}

// drillErrorText is what failed a drill in the failing step's own words: the message of
// the first application error in the chain (an activity's or the restore's), without the
// SDK's wrapping.
func drillErrorText(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// drillFraction is where in the restorable window a random-instant drill lands: from the
// run ID (deterministic on replay, different run to run).
func drillFraction(runID string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(runID))
	return float64(h.Sum64()%1_000_000) / 1_000_000
}
