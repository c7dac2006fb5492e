package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// drillWorld is a RestoreDrill over newRestoreEnv's three-step chain, recording what the
// drill stores and which scratch databases are dropped.
type drillWorld struct {
	env      *testsuite.TestWorkflowEnvironment
	picks    []protocol.PickDrillTargetInput
	records  []protocol.DrillRecord
	restores []protocol.RestoreStepInput
	verifies []protocol.VerifyDatabaseInput
	dropped  []protocol.DropScratchInput
}

// newDrillWorld builds the world; failStep (nil: none) fails a RESTORE step by index, and
// each step takes stepTakes.
func newDrillWorld(t *testing.T, failStep func(i int) error, stepTakes time.Duration) *drillWorld {
	w := &drillWorld{env: newRestoreEnv(t)}
	env := w.env
	env.RegisterWorkflowWithOptions(RestoreDrill, workflowOpts(protocol.WorkflowRestoreDrill))
	env.RegisterActivityWithOptions(func(_ context.Context, in protocol.PickDrillTargetInput) (protocol.PickDrillTargetResult, error) {
		w.picks = append(w.picks, in)
		return protocol.PickDrillTargetResult{ItemID: protocol.ItemID(in.Instance, in.Database), PointID: "p3"}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPickDrillTarget})
	env.RegisterActivityWithOptions(func(_ context.Context, rec protocol.DrillRecord) error {
		w.records = append(w.records, rec)
		return nil
	}, activity.RegisterOptions{Name: protocol.ActivityRecordDrill})
	env.OnActivity(protocol.ActivityRestoreStep, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.RestoreStepInput) (protocol.RestoreStepResult, error) {
			w.restores = append(w.restores, in)
			if failStep != nil {
				return protocol.RestoreStepResult{}, failStep(in.Index)
			}
			return protocol.RestoreStepResult{}, nil
		}).After(stepTakes).Maybe()
	env.OnActivity(protocol.ActivityDropScratchDatabase, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.DropScratchInput) error {
			w.dropped = append(w.dropped, in)
			return nil
		}).Maybe()
	return w
}

func (w *drillWorld) verifyReturns(ok bool, msg string) {
	w.env.OnActivity(protocol.ActivityVerifyDatabase, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.VerifyDatabaseInput) (protocol.VerifyDatabaseResult, error) {
			w.verifies = append(w.verifies, in)
			return protocol.VerifyDatabaseResult{OK: ok, Message: msg}, nil
		}).Maybe()
}

var drillInput = protocol.RestoreDrillInput{Instance: "SQLVM1", Database: "Sales", Pick: protocol.DrillPickNewest,
	TargetInstance: `DRILLVM\SCRATCH`, TargetVM: "DRILLVM"}

func TestRestoreDrillPassesAndRecords(t *testing.T) {
	w := newDrillWorld(t, nil, 0)
	w.verifyReturns(true, "DBCC CHECKDB found no errors")
	w.env.ExecuteWorkflow(protocol.WorkflowRestoreDrill, drillInput)
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	var rec protocol.DrillRecord
	require.NoError(t, w.env.GetWorkflowResult(&rec))

	require.Len(t, w.records, 1)
	assert.Equal(t, rec, w.records[0], "the result is what the vault got")
	assert.Equal(t, protocol.DrillPassed, rec.Outcome)
	assert.Equal(t, "p3", rec.PointID, "the point the restore ended on")
	assert.Equal(t, "DBCC CHECKDB found no errors", rec.CheckDB)
	assert.Equal(t, `DRILLVM\SCRATCH`, rec.TargetInstance)
	assert.Equal(t, protocol.ItemID("SQLVM1", "Sales"), rec.ItemID)
	assert.True(t, strings.HasPrefix(rec.ScratchDatabase, "Sales_sqlvault_verify_"), rec.ScratchDatabase)
	require.Len(t, w.restores, 3)
	for _, s := range w.restores {
		assert.Equal(t, `DRILLVM\SCRATCH`, s.TargetInstance, "restored on the drill's instance")
		assert.Equal(t, rec.ScratchDatabase, s.TargetDatabase)
	}
	require.Len(t, w.verifies, 1)
	assert.True(t, w.verifies[0].Drop, "CHECKDB's step drops the scratch database")
	assert.Equal(t, rec.ScratchDatabase, w.verifies[0].Database)
	require.Len(t, w.picks, 1)
	assert.Equal(t, protocol.DrillPickNewest, w.picks[0].Pick)
}

func TestRestoreDrillCheckDBFailureIsRecordedAndDropped(t *testing.T) {
	w := newDrillWorld(t, nil, 0)
	w.verifyReturns(false, "DBCC CHECKDB reported errors in Sales_x: 8928")
	w.env.ExecuteWorkflow(protocol.WorkflowRestoreDrill, drillInput)
	require.True(t, w.env.IsWorkflowCompleted())
	err := w.env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDrillFailed, protocol.ErrorType(err))

	require.Len(t, w.records, 1)
	rec := w.records[0]
	assert.Equal(t, protocol.DrillFailed, rec.Outcome)
	assert.Equal(t, "DBCC CHECKDB reported errors in Sales_x: 8928", rec.CheckDB)
	assert.Equal(t, "p3", rec.PointID)
	assert.NotEmpty(t, rec.Error)
	require.Len(t, w.verifies, 1)
	assert.True(t, w.verifies[0].Drop)
	require.Len(t, w.dropped, 1, "and the restore's clean-up drops it again, in case the check could not")
	assert.Equal(t, rec.ScratchDatabase, w.dropped[0].Scratch)
}

func TestRestoreDrillRestoreFailureIsRecordedAndDropped(t *testing.T) {
	w := newDrillWorld(t, func(i int) error {
		if i == 2 {
			return protocol.UserError(protocol.ErrRestoreChainRejected, "the log does not follow")
		}
		return nil
	}, 0)
	w.verifyReturns(true, "")
	w.env.ExecuteWorkflow(protocol.WorkflowRestoreDrill, drillInput)
	require.True(t, w.env.IsWorkflowCompleted())
	assert.Equal(t, protocol.ErrDrillFailed, protocol.ErrorType(w.env.GetWorkflowError()))
	require.Len(t, w.records, 1)
	assert.Equal(t, protocol.DrillFailed, w.records[0].Outcome)
	assert.Equal(t, "the log does not follow", w.records[0].Error)
	assert.Empty(t, w.records[0].CheckDB, "CHECKDB never ran")
	assert.Empty(t, w.verifies)
	require.Len(t, w.dropped, 1, "the scratch database is dropped")
	assert.Equal(t, `DRILLVM\SCRATCH`, w.dropped[0].TargetInstance)
	assert.True(t, strings.HasPrefix(w.dropped[0].Scratch, "Sales_sqlvault_verify_"))
}

// A drill cancelled in the middle of its restore waits for the restore's clean-up: the
// scratch database is dropped before the drill ends, and nothing is recorded.
func TestRestoreDrillCancelledDropsTheScratchDatabase(t *testing.T) {
	w := newDrillWorld(t, nil, time.Hour)
	w.verifyReturns(true, "")
	w.env.RegisterDelayedCallback(w.env.CancelWorkflow, 10*time.Minute)
	w.env.ExecuteWorkflow(protocol.WorkflowRestoreDrill, drillInput)
	require.True(t, w.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, w.env.GetWorkflowError(), &canceled)
	assert.Empty(t, w.records, "a cancelled drill proves nothing and records nothing")
	require.Len(t, w.dropped, 1, "the scratch database is dropped")
	assert.True(t, strings.HasPrefix(w.dropped[0].Scratch, "Sales_sqlvault_verify_"))
	assert.Equal(t, `DRILLVM\SCRATCH`, w.dropped[0].TargetInstance)
}

func TestRestoreDrillNothingToRestoreIsAFailedDrill(t *testing.T) {
	w := newDrillWorld(t, nil, 0)
	w.verifyReturns(true, "")
	w.env.OnActivity(protocol.ActivityPickDrillTarget, mock.Anything, mock.Anything).Return(
		protocol.PickDrillTargetResult{}, protocol.UserError(protocol.ErrNotRestorable, "no instant of Sales in the last 7 days is restorable"))
	w.env.ExecuteWorkflow(protocol.WorkflowRestoreDrill, protocol.RestoreDrillInput{Instance: "SQLVM1", Database: "Sales",
		Pick: protocol.DrillPickRandomInstant, RandomInstantDays: 7})
	require.True(t, w.env.IsWorkflowCompleted())
	assert.Equal(t, protocol.ErrDrillFailed, protocol.ErrorType(w.env.GetWorkflowError()))
	require.Len(t, w.records, 1)
	assert.Equal(t, "no instant of Sales in the last 7 days is restorable", w.records[0].Error)
	assert.Equal(t, "SQLVM1", w.records[0].TargetInstance, "default: the item's own instance")
	assert.Empty(t, w.restores)
	assert.Empty(t, w.dropped, "nothing was restored, nothing to drop")
}

func TestRestoreDrillRejectsBadInput(t *testing.T) {
	w := newDrillWorld(t, nil, 0)
	w.env.ExecuteWorkflow(protocol.WorkflowRestoreDrill, protocol.RestoreDrillInput{Instance: "SQLVM1", Database: "Sales", Pick: "oldest"})
	require.True(t, w.env.IsWorkflowCompleted())
	err := w.env.GetWorkflowError()
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `"pick" "oldest" is not a drill pick`)
	assert.Empty(t, w.records)
}
