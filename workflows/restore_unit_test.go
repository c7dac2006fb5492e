package workflows

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// restoreWorld is a Restore under test whose activities (and tail-log child) record what
// they were asked; each answers as a healthy system would unless a test overrides it.
type restoreWorld struct {
	env      *testsuite.TestWorkflowEnvironment
	calls    *calls
	plan     protocol.PlanRestoreInput
	prepare  protocol.PrepareRestoreInput
	steps    []protocol.RestoreStepInput
	recover  protocol.RecoverInput
	verify   protocol.VerifyDatabaseInput
	asFiles  protocol.RestoreAsFilesInput
	dropped  []protocol.DropScratchInput
	tailLog  []protocol.BackupInput
	checked  []string
	needTail bool
	verifyOK bool
	// overwrites records the CheckOverwrite calls; refuseOverwrite makes them fail.
	overwrites      []protocol.CheckOverwriteInput
	refuseOverwrite bool
	// mint makes MintVaultGrant answer a grant naming its points (else none, as a control
	// side without the account key answers); grants records what was asked, not in calls.
	mint   bool
	grants []protocol.MintGrantInput
}

var unitPlan = protocol.RestorePlan{ItemID: "item1", Steps: []protocol.RestoreStepPlan{
	{PointID: "p-full", Type: "full", FirstLSN: "100", LastLSN: "200"},
	{PointID: "p-diff", Type: "differential", FirstLSN: "300", LastLSN: "400"},
	{PointID: "p-log", Type: "log", FirstLSN: "200", LastLSN: "500"},
}}

func newRestoreWorld(t *testing.T) *restoreWorld {
	var s testsuite.WorkflowTestSuite
	w := &restoreWorld{env: s.NewTestWorkflowEnvironment(), calls: &calls{}, verifyOK: true}
	env := w.env
	env.RegisterWorkflowWithOptions(Restore, workflowOpts(protocol.WorkflowRestore))
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in protocol.BackupInput) (*protocol.BackupResult, error) {
		w.calls.addChild(ctx, string(in.Type))
		w.tailLog = append(w.tailLog, in)
		return &protocol.BackupResult{RecoveryPoint: protocol.RecoveryPoint{PointID: "p-tail", Type: protocol.Log, LastLSN: "600"}}, nil
	}, workflowOpts(protocol.WorkflowBackup))
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.CheckAgentInput) (protocol.CheckAgentResult, error) {
		w.calls.add(ctx, protocol.ActivityCheckAgent, in.VM)
		w.checked = append(w.checked, in.VM)
		return protocol.CheckAgentResult{VM: in.VM, Polling: true}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityCheckAgent})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.PlanRestoreInput) (protocol.RestorePlan, error) {
		w.calls.add(ctx, protocol.ActivityPlanRestore, "")
		w.plan = in
		return unitPlan, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPlanRestore})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.CheckOverwriteInput) error {
		w.calls.add(ctx, protocol.ActivityCheckOverwrite, in.ProtectionTag)
		w.overwrites = append(w.overwrites, in)
		if w.refuseOverwrite {
			return protocol.UserError(protocol.ErrProtectedOverwrite, "%s on %s is under active protection", in.TargetDatabase, in.TargetInstance)
		}
		return nil
	}, activity.RegisterOptions{Name: protocol.ActivityCheckOverwrite})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.PrepareRestoreInput) (protocol.PrepareRestoreResult, error) {
		w.calls.add(ctx, protocol.ActivityPrepareRestore, "")
		w.prepare = in
		return protocol.PrepareRestoreResult{TargetExists: w.needTail, TargetState: "ONLINE", NeedsTailLog: w.needTail}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPrepareRestore})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.RestoreStepInput) (protocol.RestoreStepResult, error) {
		w.calls.add(ctx, protocol.ActivityRestoreStep, in.Step.PointID)
		w.steps = append(w.steps, in)
		return protocol.RestoreStepResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityRestoreStep})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.RecoverInput) (string, error) {
		w.calls.add(ctx, protocol.ActivityRecoverDatabase, "")
		w.recover = in
		return "ONLINE", nil
	}, activity.RegisterOptions{Name: protocol.ActivityRecoverDatabase})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.VerifyDatabaseInput) (protocol.VerifyDatabaseResult, error) {
		w.calls.add(ctx, protocol.ActivityVerifyDatabase, "")
		w.verify = in
		if !w.verifyOK {
			return protocol.VerifyDatabaseResult{OK: false, Message: "CHECKDB found 2 allocation errors"}, nil
		}
		return protocol.VerifyDatabaseResult{OK: true, Message: "CHECKDB found 0 errors"}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityVerifyDatabase})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.RestoreAsFilesInput) (protocol.RestoreAsFilesResult, error) {
		w.calls.add(ctx, protocol.ActivityRestoreAsFiles, "")
		w.asFiles = in
		return protocol.RestoreAsFilesResult{Files: []string{`D:\out\1.bak`}, Script: `D:\out\restore.sql`, Bytes: 42}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityRestoreAsFiles})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.MintGrantInput) (*protocol.VaultGrant, error) {
		w.grants = append(w.grants, in)
		if !w.mint {
			return nil, nil
		}
		return &protocol.VaultGrant{Sealed: []byte(in.Op + ":" + strings.Join(in.PointIDs, ",")), KeyID: activity.GetInfo(ctx).TaskQueue}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityMintVaultGrant})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.DropScratchInput) error {
		w.calls.add(ctx, protocol.ActivityDropScratchDatabase, in.Scratch)
		w.dropped = append(w.dropped, in)
		return nil
	}, activity.RegisterOptions{Name: protocol.ActivityDropScratchDatabase})
	return w
}

func (w *restoreWorld) run(t *testing.T, in protocol.RestoreInput) (protocol.RestoreResult, error) {
	t.Helper()
	w.env.ExecuteWorkflow(protocol.WorkflowRestore, in)
	require.True(t, w.env.IsWorkflowCompleted())
	var res protocol.RestoreResult
	if err := w.env.GetWorkflowError(); err != nil {
		return res, err
	}
	require.NoError(t, w.env.GetWorkflowResult(&res))
	return res, nil
}

func stepPoints(steps []protocol.RestoreStepInput) []string {
	var out []string
	for _, s := range steps {
		out = append(out, fmt.Sprintf("%d:%s", s.Index, s.Step.PointID))
	}
	return out
}

// A restore to a new name: the plan, the target check, one RESTORE per step in the plan's
// order (none replaces, all relocate to the new name), then recovery; all on the agent.
func TestRestoreUnitPlansThenRestoresEachStepThenRecovers(t *testing.T) {
	w := newRestoreWorld(t)
	res, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", TargetDatabase: "Sales_copy"})
	require.NoError(t, err)

	assert.Equal(t, []string{protocol.ActivityCheckAgent, protocol.ActivityPlanRestore, protocol.ActivityPrepareRestore,
		protocol.ActivityRestoreStep, protocol.ActivityRestoreStep, protocol.ActivityRestoreStep, protocol.ActivityRecoverDatabase}, w.calls.names())
	assert.Equal(t, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log"}, w.plan)
	assert.Equal(t, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy"}, w.prepare,
		"a new name is not the source: no overwrite, no tail-log")
	assert.Equal(t, []string{"0:p-full", "1:p-diff", "2:p-log"}, stepPoints(w.steps))
	for _, s := range w.steps {
		assert.Equal(t, "item1", s.ItemID)
		assert.Equal(t, "Sales_copy", s.TargetDatabase)
		assert.False(t, s.Replace, "nothing to replace under a new name")
		assert.True(t, s.Relocate, "a new name gets its own files")
	}
	assert.Equal(t, unitPlan.Steps[2], w.steps[2].Step, "each step carries its plan entry")
	assert.Equal(t, protocol.RecoverInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy"}, w.recover)

	agentQueue := protocol.AgentTaskQueue("SQLVM1")
	for _, a := range []string{protocol.ActivityPrepareRestore, protocol.ActivityRestoreStep, protocol.ActivityRecoverDatabase} {
		assert.Equal(t, agentQueue, w.calls.queue(a), a)
	}
	assert.NotEqual(t, agentQueue, w.calls.queue(protocol.ActivityPlanRestore), "the plan is made on the control side")

	assert.Equal(t, "ONLINE", res.State)
	assert.Equal(t, "Sales_copy", res.TargetDatabase)
	assert.Len(t, res.Steps, 3)
	assert.Nil(t, res.TailLog)
	assert.Nil(t, res.Verify)

	v, err := w.env.QueryWorkflow(protocol.QueryProgress)
	require.NoError(t, err)
	var p protocol.RestoreProgress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, protocol.RestoreProgress{Phase: protocol.PhaseDone, Step: 3, Steps: 3, PointID: "p-log"}, p)
}

// Overwriting the protected database: the agent says a tail-log is needed, so a Backup
// child with the restore's tail-log workflow ID takes it before the first RESTORE, which
// replaces the database; the tail-log's point is in the result.
func TestRestoreUnitOverwriteTakesTheTailLogFirst(t *testing.T) {
	w := newRestoreWorld(t)
	w.needTail = true
	res, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", Overwrite: true})
	require.NoError(t, err)

	assert.Equal(t, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales", Overwrite: true, SourceIsTarget: true}, w.prepare)
	require.Len(t, w.tailLog, 1)
	tail := w.tailLog[0]
	assert.True(t, tail.TailLog)
	assert.Equal(t, protocol.Log, tail.Type)
	assert.Equal(t, "SQLVM1", tail.Instance)
	assert.Equal(t, "Sales", tail.Database)
	assert.Equal(t, "SQLVM1", tail.VM)
	all := w.calls.all()
	assert.Equal(t, protocol.ActivityCheckOverwrite, all[2], "the overwrite is checked before the target: %v", all)
	assert.Equal(t, "child "+protocol.TailLogWorkflowID("default-test-workflow-id")+" log", all[4],
		"the tail-log child runs after PrepareRestore and before the first step: %v", all)
	assert.Equal(t, protocol.ActivityRestoreStep+" p-full", all[5])

	require.Len(t, w.steps, 3)
	assert.True(t, w.steps[0].Replace, "the first RESTORE replaces the database")
	assert.False(t, w.steps[1].Replace)
	assert.False(t, w.steps[0].Relocate, "same instance, same name: the files stay where they are")
	require.NotNil(t, res.TailLog)
	assert.Equal(t, "p-tail", res.TailLog.PointID)
}

// With skipTailLog the agent is told so (and answers no tail-log); the overwrite still
// replaces, and no child runs.
func TestRestoreUnitOverwriteWithoutTailLog(t *testing.T) {
	w := newRestoreWorld(t)
	res, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", Overwrite: true, SkipTailLog: true})
	require.NoError(t, err)
	assert.True(t, w.prepare.SkipTailLog)
	assert.Empty(t, w.tailLog)
	assert.Nil(t, res.TailLog)
	require.NotEmpty(t, w.steps)
	assert.True(t, w.steps[0].Replace)
}

// noRecovery leaves the database RESTORING: no RecoverDatabase.
func TestRestoreUnitNoRecoveryLeavesItRestoring(t *testing.T) {
	w := newRestoreWorld(t)
	res, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", TargetDatabase: "Sales_copy", NoRecovery: true})
	require.NoError(t, err)
	assert.Equal(t, "RESTORING", res.State)
	assert.Zero(t, w.calls.count(protocol.ActivityRecoverDatabase))
	assert.Len(t, w.steps, 3)
}

// Another instance, on another VM: the check and the steps go to that VM's agent, and the
// files are relocated; the plan still names the source.
func TestRestoreUnitToAnotherVM(t *testing.T) {
	w := newRestoreWorld(t)
	at := time.Date(2026, 11, 26, 10, 15, 30, 0, time.UTC)
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", At: &at, TargetInstance: `SQLVM2\TEST`,
		DataPath: `E:\data`, LogPath: `F:\log`})
	require.NoError(t, err)
	assert.Equal(t, []string{"SQLVM2"}, w.checked)
	assert.Equal(t, protocol.AgentTaskQueue("SQLVM2"), w.calls.queue(protocol.ActivityRestoreStep))
	require.NotNil(t, w.plan.At)
	assert.True(t, at.Equal(*w.plan.At))
	assert.Equal(t, "SQLVM1", w.plan.Instance)
	assert.False(t, w.prepare.SourceIsTarget)
	for _, s := range w.steps {
		assert.Equal(t, `SQLVM2\TEST`, s.TargetInstance)
		assert.True(t, s.Relocate)
		assert.Equal(t, `E:\data`, s.DataPath)
		assert.Equal(t, `F:\log`, s.LogPath)
	}
}

// A verify-restore restores into the run's scratch database, checks it with a drop, and
// reports the check; a check that passed needs no separate cleanup.
func TestRestoreUnitVerifyChecksTheScratchCopy(t *testing.T) {
	w := newRestoreWorld(t)
	res, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", Verify: true})
	require.NoError(t, err)
	scratch := protocol.VerifyScratchName("Sales", shortRunID("default-test-run-id", 1))
	assert.Equal(t, scratch, w.prepare.TargetDatabase)
	assert.False(t, w.prepare.SourceIsTarget)
	for _, s := range w.steps {
		assert.Equal(t, scratch, s.TargetDatabase)
		assert.True(t, s.Relocate, "the scratch copy must not take the source's files")
	}
	assert.Equal(t, protocol.VerifyDatabaseInput{TargetInstance: "SQLVM1", Database: scratch, Drop: true}, w.verify)
	assert.Equal(t, []string{protocol.ActivityRecoverDatabase, protocol.ActivityVerifyDatabase}, w.calls.names()[6:])
	require.NotNil(t, res.Verify)
	assert.True(t, res.Verify.OK)
	assert.Equal(t, scratch, res.TargetDatabase)
	assert.Empty(t, w.dropped)
}

// A failed check fails the run with VerifyFailed carrying the result (what CHECKDB said),
// and the scratch database is dropped.
func TestRestoreUnitVerifyFailureIsNamedAndCleansUp(t *testing.T) {
	w := newRestoreWorld(t)
	w.verifyOK = false
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", Verify: true})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrVerifyFailed, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "2 allocation errors")
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	var res protocol.RestoreResult
	require.NoError(t, ae.Details(&res))
	require.NotNil(t, res.Verify)
	assert.False(t, res.Verify.OK)
	require.Len(t, w.dropped, 1)
	assert.Equal(t, protocol.DropScratchInput{TargetInstance: "SQLVM1", Database: "Sales",
		Scratch: protocol.VerifyScratchName("Sales", shortRunID("default-test-run-id", 1))}, w.dropped[0])
	assert.Equal(t, 1, w.calls.count(protocol.ActivityVerifyDatabase), "VerifyFailed is not retried")
}

// As files: the chain is written on the target VM; nothing is restored.
func TestRestoreUnitAsFilesWritesTheChainOnly(t *testing.T) {
	w := newRestoreWorld(t)
	res, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", AsFilesDir: `D:\out`})
	require.NoError(t, err)
	assert.Equal(t, []string{protocol.ActivityCheckAgent, protocol.ActivityPlanRestore, protocol.ActivityRestoreAsFiles}, w.calls.names())
	assert.Equal(t, protocol.RestoreAsFilesInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales", Dir: `D:\out`, Plan: unitPlan}, w.asFiles)
	assert.Equal(t, protocol.AgentTaskQueue("SQLVM1"), w.calls.queue(protocol.ActivityRestoreAsFiles))
	require.NotNil(t, res.Files)
	assert.Equal(t, `D:\out\restore.sql`, res.Files.Script)
	assert.Equal(t, int64(42), res.Files.Bytes)
	assert.Empty(t, res.State)
}

// A plan the vault cannot make (no chain to the instant) is the user's error: reported at
// once, not retried, nothing sent to the agent.
func TestRestoreUnitNotRestorableIsNotRetried(t *testing.T) {
	w := newRestoreWorld(t)
	planned := 0
	w.env.OnActivity(protocol.ActivityPlanRestore, mock.Anything, mock.Anything).Return(
		func(context.Context, protocol.PlanRestoreInput) (protocol.RestorePlan, error) {
			planned++
			return protocol.RestorePlan{}, protocol.UserError(protocol.ErrNotRestorable, "no recovery point covers that instant")
		})
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", TargetDatabase: "Sales_copy"})
	assert.Equal(t, protocol.ErrNotRestorable, protocol.ErrorType(err))
	assert.Equal(t, 1, planned)
	assert.Zero(t, w.calls.count(protocol.ActivityPrepareRestore))
}

// A target the agent refuses (it exists, no overwrite) stops the restore before any step.
func TestRestoreUnitTargetExistsStopsBeforeAnyStep(t *testing.T) {
	w := newRestoreWorld(t)
	w.env.OnActivity(protocol.ActivityPrepareRestore, mock.Anything, mock.Anything).Return(
		protocol.PrepareRestoreResult{}, protocol.UserError(protocol.ErrTargetExists, "database Sales_copy exists: pass overwrite"))
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", TargetDatabase: "Sales_copy"})
	assert.Equal(t, protocol.ErrTargetExists, protocol.ErrorType(err))
	assert.Empty(t, w.steps)
	assert.Empty(t, w.dropped, "not a verify-restore: nothing of the user's is dropped")
}

// Input that names neither a point nor an instant is refused before anything runs.
func TestRestoreUnitRejectsBadInput(t *testing.T) {
	w := newRestoreWorld(t)
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", Verify: true, Overwrite: true})
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `exactly one of "pointId" or "at"`)
	assert.Contains(t, err.Error(), `"verify" restores into a scratch database`)
	assert.Empty(t, w.calls.all())
}

// Issue 16: an overwrite is checked on the control side first (CheckOverwrite, with the
// protection tag the request names); refused, nothing reaches the agent and no tail-log is
// taken. A restore that does not overwrite is not checked.
func TestRestoreUnitOverwriteOfAProtectedDatabaseNeedsItsTag(t *testing.T) {
	w := newRestoreWorld(t)
	w.refuseOverwrite = true
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", Overwrite: true,
		ProtectionTag: "protected-000000000000"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrProtectedOverwrite, protocol.ErrorType(err))
	assert.Equal(t, []protocol.CheckOverwriteInput{{TargetInstance: "SQLVM1", TargetDatabase: "Sales", ProtectionTag: "protected-000000000000"}},
		w.overwrites)
	assert.Equal(t, 1, w.calls.count(protocol.ActivityCheckOverwrite), "a refusal is not retried")
	assert.Zero(t, w.calls.count(protocol.ActivityPrepareRestore))
	assert.Empty(t, w.tailLog)
	assert.Empty(t, w.steps)

	w = newRestoreWorld(t)
	w.refuseOverwrite = true
	_, err = w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", TargetDatabase: "Sales_copy"})
	require.NoError(t, err)
	assert.Empty(t, w.overwrites, "no overwrite, no check")
}

// A restore recorded before the check (its history says so) goes straight to the target.
func TestRestoreUnitOverwriteBeforeTheCheck(t *testing.T) {
	w := newRestoreWorld(t)
	w.refuseOverwrite = true
	w.env.OnGetVersion(overwriteGuardChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", Overwrite: true, SkipTailLog: true})
	require.NoError(t, err)
	assert.Empty(t, w.overwrites)
	require.NotEmpty(t, w.steps)
	assert.True(t, w.steps[0].Replace)
}

// Each RESTORE step gets a read grant for its own point, minted on the control side just
// before it, lasting the step's bound plus the margin; as files, one grant for the plan.
func TestRestoreUnitEachStepGetsItsOwnPointsGrant(t *testing.T) {
	w := newRestoreWorld(t)
	w.mint = true
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", TargetDatabase: "Sales_copy"})
	require.NoError(t, err)
	require.Len(t, w.steps, 3)
	require.Len(t, w.grants, 3)
	for i, s := range w.steps {
		require.NotNil(t, s.Grant, "step %d", i)
		assert.Equal(t, "restore:"+s.Step.PointID, string(s.Grant.Sealed))
		assert.Equal(t, w.calls.queue(protocol.ActivityPlanRestore), s.Grant.KeyID, "minted on the control queue, as the plan is")
		assert.Equal(t, protocol.MintGrantInput{Op: protocol.GrantRestore, ItemID: "item1", PointIDs: []string{s.Step.PointID},
			Valid: restoreStepTimeout + agentWait + protocol.GrantMargin, VM: "SQLVM1"}, w.grants[i])
	}

	files := newRestoreWorld(t)
	files.mint = true
	_, err = files.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p-log", AsFilesDir: `D:\out`})
	require.NoError(t, err)
	require.NotNil(t, files.asFiles.Grant)
	assert.Equal(t, "restore:p-full,p-diff,p-log", string(files.asFiles.Grant.Sealed))
}
