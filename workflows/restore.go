package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

const (
	planTimeout        = 5 * time.Minute
	restoreStepTimeout = 24 * time.Hour
)

// Restore restores a protected database to a recovery point or an instant: plan the chain
// (control side, from the vault's manifests), check the target (on the target VM's agent),
// take a tail-log backup when overwriting the protected database, then one activity per
// RESTORE step so that a crash resumes at the step that was running, and finally recover
// (or leave the database RESTORING). It can instead write the chain as files, or restore
// into a scratch database to check it.
func Restore(ctx workflow.Context, in protocol.RestoreInput) (_ *protocol.RestoreResult, err error) {
	start := workflow.Now(ctx)
	// Registered first, so it runs last: after the clean-up, with the error the caller gets.
	defer func() {
		recordOutcome(ctx, protocol.MetricRestores, protocol.MetricRestoreDuration, in.RestoreKind(), start, err)
	}()
	if err := in.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), protocol.ErrInvalidInput, nil)
	}
	progress := protocol.RestoreProgress{Phase: protocol.PhasePlanning}
	if err := workflow.SetQueryHandler(ctx, protocol.QueryProgress, func() (protocol.RestoreProgress, error) {
		return progress, nil
	}); err != nil {
		return nil, err
	}
	targetInstance, targetDB := in.Target()
	info := workflow.GetInfo(ctx)
	if in.Verify {
		// A scratch name nobody uses, derived from the run so a retry finds the same one.
		targetDB = protocol.VerifyScratchName(in.Database, runTag(ctx))
	}
	vm := in.TargetAgentVM()
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		protocol.SAInstance.ValueSet(in.Instance), protocol.SADatabase.ValueSet(in.Database), protocol.SAVM.ValueSet(vm)); err != nil {
		return nil, err
	}
	agentQueue := protocol.AgentTaskQueue(vm)
	restoreErrors := userErrorsAnd(protocol.ErrNotRestorable, protocol.ErrTargetExists, protocol.ErrTargetInAG,
		protocol.ErrRestoreChainRejected, protocol.ErrVerifyFailed)

	if err := checkAgent(ctx, vm); err != nil {
		return nil, err
	}

	// 1. The chain.
	var plan protocol.RestorePlan
	planCtx := controlStepCtx(ctx, planTimeout, 0, restoreErrors)
	if err := workflow.ExecuteActivity(planCtx, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{
		Instance: in.Instance, Database: in.Database, PointID: in.PointID, At: in.At,
		AllowUnauthenticated: in.AllowUnauthenticated,
	}).Get(ctx, &plan); err != nil {
		return nil, err
	}
	res := &protocol.RestoreResult{TargetInstance: targetInstance, TargetDatabase: targetDB, Steps: plan.Steps, Skipped: plan.Skipped}
	progress.Steps = len(plan.Steps)
	sameInstance := strings.EqualFold(targetInstance, in.Instance)
	relocate := !sameInstance || !strings.EqualFold(targetDB, in.Database) || in.DataPath != "" || in.LogPath != ""

	shortCtx := agentStepCtx(ctx, vm, 0, restoreErrors)
	longCtx := agentLongStepCtx(ctx, vm, restoreStepTimeout, 10, restoreErrors)

	// 2a. Restore as files: the decrypted backups and a script, nothing restored.
	if in.AsFilesDir != "" {
		progress.Phase = protocol.PhaseWriting
		vaultGrant, err := mintGrant(ctx, protocol.MintGrantInput{Op: protocol.GrantRestore, ItemID: plan.ItemID,
			PointIDs: plan.PointIDs()}, vm, restoreStepTimeout+agentWait)
		if err != nil {
			return nil, err
		}
		var files protocol.RestoreAsFilesResult
		if err := workflow.ExecuteActivity(longCtx, protocol.ActivityRestoreAsFiles, protocol.RestoreAsFilesInput{
			TargetInstance: targetInstance, TargetDatabase: targetDB, Dir: in.AsFilesDir, Plan: plan,
			Relocate: relocate, DataPath: in.DataPath, LogPath: in.LogPath, AllowUnauthenticated: in.AllowUnauthenticated, Grant: vaultGrant,
		}).Get(ctx, &files); err != nil {
			return nil, err
		}
		res.Files = &files
		progress.Phase = protocol.PhaseDone
		return res, nil
	}

	// 2b. The target may be restored (and, over the protected database, needs a tail-log).
	// Replacing a database under active protection takes its item's current protection
	// tag, checked on the control side against the vault (issue 16).
	if in.Overwrite && workflow.GetVersion(ctx, overwriteGuardChange, workflow.DefaultVersion, 1) == 1 {
		if err := workflow.ExecuteActivity(planCtx, protocol.ActivityCheckOverwrite, protocol.CheckOverwriteInput{
			TargetInstance: targetInstance, TargetDatabase: targetDB, ProtectionTag: in.ProtectionTag,
		}).Get(ctx, nil); err != nil {
			return nil, err
		}
	}
	var prep protocol.PrepareRestoreResult
	if err := workflow.ExecuteActivity(shortCtx, protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{
		TargetInstance: targetInstance, TargetDatabase: targetDB, Overwrite: in.Overwrite,
		SourceIsTarget: sameInstance && strings.EqualFold(targetDB, in.Database), SkipTailLog: in.SkipTailLog,
	}).Get(ctx, &prep); err != nil {
		return nil, err
	}
	if prep.NeedsTailLog {
		progress.Phase = protocol.PhaseTailLog
		tail := protocol.BackupInput{Instance: in.Instance, Database: in.Database, Type: protocol.Log, TailLog: true,
			VM: vm, Reason: "tail-log backup before restore " + info.WorkflowExecution.ID}
		childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: protocol.TailLogWorkflowID(info.WorkflowExecution.ID),
		})
		var tr protocol.BackupResult
		if err := workflow.ExecuteChildWorkflow(childCtx, protocol.WorkflowBackup, tail).Get(ctx, &tr); err != nil {
			return nil, err
		}
		res.TailLog = &tr.RecoveryPoint
	}

	// 3. One activity per RESTORE, all WITH NORECOVERY; recovery is its own step.
	// From the first RESTORE on, a verify-restore's scratch database exists: whatever ends
	// the run (a failed step, a failed check, cancellation), it is dropped.
	if in.Verify && workflow.GetVersion(ctx, scratchCleanupVersion, workflow.DefaultVersion, 1) == 1 {
		defer func() {
			if err != nil {
				dropScratch(ctx, agentQueue, targetInstance, in.Database, targetDB)
			}
		}()
	}
	progress.Phase = protocol.PhaseRestoring
	for i, step := range plan.Steps {
		progress.Step, progress.PointID = i+1, step.PointID
		// A grant per step: it reads that point only, and lasts that step's time.
		vaultGrant, err := mintGrant(ctx, protocol.MintGrantInput{Op: protocol.GrantRestore, ItemID: plan.ItemID,
			PointIDs: []string{step.PointID}}, vm, restoreStepTimeout+agentWait)
		if err != nil {
			return nil, err
		}
		if err := workflow.ExecuteActivity(longCtx, protocol.ActivityRestoreStep, protocol.RestoreStepInput{
			TargetInstance: targetInstance, TargetDatabase: targetDB, ItemID: plan.ItemID, Step: step, Index: i,
			Replace: i == 0 && (in.Overwrite || prep.NeedsTailLog), Relocate: relocate, DataPath: in.DataPath, LogPath: in.LogPath,
			AllowUnauthenticated: in.AllowUnauthenticated, Grant: vaultGrant,
		}).Get(ctx, nil); err != nil {
			return nil, err
		}
	}
	res.State = "RESTORING"
	if !in.NoRecovery {
		progress.Phase = protocol.PhaseRecovery
		if err := workflow.ExecuteActivity(shortCtx, protocol.ActivityRecoverDatabase, protocol.RecoverInput{
			TargetInstance: targetInstance, TargetDatabase: targetDB,
		}).Get(ctx, &res.State); err != nil {
			return nil, err
		}
		// Workflow time issues no command: histories recorded before still replay.
		res.RestoreSeconds = workflow.Now(ctx).Sub(start).Seconds()
	}
	if in.Verify {
		progress.Phase = protocol.PhaseVerifying
		var v protocol.VerifyDatabaseResult
		if err := workflow.ExecuteActivity(longCtx, protocol.ActivityVerifyDatabase, protocol.VerifyDatabaseInput{
			TargetInstance: targetInstance, Database: targetDB, Drop: true,
		}).Get(ctx, &v); err != nil {
			return nil, err
		}
		res.Verify = &v
		if !v.OK {
			return res, temporal.NewNonRetryableApplicationError(v.Message, protocol.ErrVerifyFailed, nil, res)
		}
	}
	progress.Phase = protocol.PhaseDone
	return res, nil
}

// overwriteGuardChange gates the protection-tag check of an overwrite restore: runs
// recorded before it went straight to the target check.
const overwriteGuardChange = "overwrite-needs-protection-tag"

// runTagChange gates where a run's tag comes from. Run IDs are UUIDv7: their leading 12
// hex digits are the start's millisecond, so two runs started in the same millisecond (two
// verify-restores of one database, two configure calls) got the same scratch database or
// first-full child ID. New runs take the random tail instead (as newPointID does); runs
// recorded before keep the leading digits on replay.
const runTagChange = "short-run-id-tail"

// runTag is the 12 hex digits of this run's ID that name what belongs to the run: a
// verify-restore's scratch database, ConfigureProtection's first-full children. Derived
// from the run, so a retried step finds the same name.
func runTag(ctx workflow.Context) string {
	v := workflow.GetVersion(ctx, runTagChange, workflow.DefaultVersion, 1)
	return shortRunID(workflow.GetInfo(ctx).WorkflowExecution.RunID, v)
}

// shortRunID is 12 hex digits of runID: its tail from version 1 of runTagChange, its head
// (the UUIDv7 timestamp) before.
func shortRunID(runID string, v workflow.Version) string {
	r := strings.ReplaceAll(runID, "-", "")
	if len(r) <= 12 {
		return r
	}
	if v == workflow.DefaultVersion {
		return r[:12]
	}
	return r[len(r)-12:]
}

// scratchCleanupVersion gates the drop of a verify-restore's scratch database on failure
// (issue 11 item 10) for histories recorded before it.
const scratchCleanupVersion = "verify-scratch-cleanup"

// dropScratch drops a verify-restore's scratch database after the run failed or was
// cancelled. It runs in a disconnected context so that cancellation of the workflow does not
// cancel the cleanup too, and retries while SQL Server still holds the database (a cancelled
// RESTORE ends when the agent sees the cancellation at its next heartbeat). If it cannot,
// the log says which database to drop by hand.
func dropScratch(ctx workflow.Context, agentQueue, instance, database, scratch string) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	actx := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{TaskQueue: agentQueue,
		ScheduleToCloseTimeout: agentWait, StartToCloseTimeout: prepareTimeout,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: []string{protocol.ErrNotScratchDatabase, protocol.ErrInstanceNotManaged}}})
	if err := workflow.ExecuteActivity(actx, protocol.ActivityDropScratchDatabase, protocol.DropScratchInput{
		TargetInstance: instance, Database: database, Scratch: scratch,
	}).Get(dctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("could not drop the verify-restore's scratch database: drop it by hand",
			"instance", instance, "database", scratch, "error", err)
	}
}
