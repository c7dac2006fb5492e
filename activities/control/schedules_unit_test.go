package control

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func (u *unitControl) ensure(t *testing.T, in protocol.EnsureSchedulesInput) (protocol.EnsureSchedulesResult, error) {
	t.Helper()
	var res protocol.EnsureSchedulesResult
	err := u.run(t, &res, protocol.ActivityEnsureSchedule, in)
	return res, err
}

// A protected item gets one schedule per kind its policy schedules and its database
// allows, each starting sqlvault.Backup for it on the control queue; the daily retention
// schedule comes with the first.
func TestEnsureSchedulesUnitCreatesThePolicysSchedules(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	require.NoError(t, u.repo.PutPolicy(ctx, "silver", []byte(unitWeeklyPolicy)))
	it := unitItem("SQLVM1", "Sales", "protected", "full", "differential", "copy-only-full", "log")
	require.NoError(t, u.repo.PutItem(ctx, it))

	res, err := u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	require.NoError(t, err)
	want := []string{ScheduleID(it.ItemID, "differential"), ScheduleID(it.ItemID, "full"), ScheduleID(it.ItemID, "log")}
	assert.Equal(t, want, res.Schedules)
	assert.Equal(t, 3, res.Created)
	assert.ElementsMatch(t, append(want, protocol.RetentionScheduleID), u.tc.scheduleIDs())

	s := u.tc.schedule(ScheduleID(it.ItemID, "log"))
	action := s.opts.Action.(*client.ScheduleWorkflowAction)
	assert.Equal(t, protocol.WorkflowBackup, action.Workflow)
	assert.Equal(t, "sqlvault-control", action.TaskQueue)
	assert.Equal(t, protocol.BackupWorkflowID(it.ItemID, protocol.Log), action.ID)
	require.Len(t, action.Args, 1)
	args := unitWire(t, action.Args[0])
	assert.Equal(t, "Sales", args["database"])
	assert.Equal(t, "log", args["type"])
	assert.Equal(t, true, args["autoFull"], "a scheduled log takes a full when the chain is broken")
	assert.Equal(t, it.ItemID, args["itemId"], "the schedule names its item (an AG database's item is the group's)")
	assert.Equal(t, []client.ScheduleIntervalSpec{{Every: 15 * time.Minute}}, s.opts.Spec.Intervals)
	assert.False(t, s.paused)
	full := u.tc.schedule(ScheduleID(it.ItemID, "full")).opts.Action.(*client.ScheduleWorkflowAction)
	assert.NotEqual(t, true, unitWire(t, full.Args[0])["autoFull"], "a full is a full")

	// Again (a retry, or Reconcile): nothing created, the three updated in place.
	res, err = u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	require.NoError(t, err)
	assert.Zero(t, res.Created)
	assert.Equal(t, want, res.Schedules)
	assert.Equal(t, 1, u.tc.schedule(ScheduleID(it.ItemID, "full")).updates)
}

// A database that allows only fulls (read-only) gets only the full schedule, whatever the
// policy says.
func TestEnsureSchedulesUnitFollowsTheDatabasesBackupTypes(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	require.NoError(t, u.repo.PutPolicy(ctx, "silver", []byte(unitWeeklyPolicy)))
	it := unitItem("SQLVM1", "Archive", "protected", "full", "copy-only-full")
	require.NoError(t, u.repo.PutItem(ctx, it))
	res, err := u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID, Pause: true})
	require.NoError(t, err)
	assert.Equal(t, []string{ScheduleID(it.ItemID, "full")}, res.Schedules)
	assert.True(t, u.tc.schedule(ScheduleID(it.ItemID, "full")).paused, "created paused when asked")
}

// Remove, a stopped item, and an item no longer in the vault: their schedules go; the
// retention schedule stays.
func TestEnsureSchedulesUnitRemoves(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	require.NoError(t, u.repo.PutPolicy(ctx, "silver", []byte(unitWeeklyPolicy)))
	it := unitItem("SQLVM1", "Sales", "protected", "full", "differential", "log")
	require.NoError(t, u.repo.PutItem(ctx, it))
	_, err := u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	require.NoError(t, err)

	res, err := u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID, Remove: true})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Deleted)
	assert.Empty(t, res.Schedules)
	assert.Equal(t, []string{protocol.RetentionScheduleID}, u.tc.scheduleIDs())

	// Protected again, then stopped in the vault: Reconcile's call removes them.
	_, err = u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	require.NoError(t, err)
	it.State = "stopped-retain"
	require.NoError(t, u.repo.PutItem(ctx, it))
	res, err = u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Deleted)

	// Gone from the vault: nothing to schedule, and no error.
	res, err = u.ensure(t, protocol.EnsureSchedulesInput{ItemID: vault.ItemID("SQLVM1", "Gone")})
	require.NoError(t, err)
	assert.Zero(t, res.Created+res.Deleted)
}

// An item whose record cannot be read, or whose policy is missing, fails with its named
// error and makes no schedule for it.
func TestEnsureSchedulesUnitNamedErrors(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	bad := vault.ItemID("SQLVM1", "Garbled")
	require.NoError(t, u.mem.Put(ctx, vault.ItemBlob(bad), []byte("{not json"), vault.PutOptions{}))
	_, err := u.ensure(t, protocol.EnsureSchedulesInput{ItemID: bad})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnreadableRecord, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), bad)

	it := unitItem("SQLVM1", "Sales", "protected", "full")
	it.Policy = "missing"
	require.NoError(t, u.repo.PutItem(ctx, it))
	_, err = u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	assert.Equal(t, protocol.ErrPolicyNotFound, protocol.ErrorType(err))
	assert.Nil(t, u.tc.schedule(ScheduleID(it.ItemID, "full")))
}

// CancelItemBackups cancels the item's running backups (data and log lanes), waits for
// them to close and names them; a lane with nothing running, or a finished run, is left.
func TestCancelItemBackupsUnit(t *testing.T) {
	u := newUnitControl(t)
	item := vault.ItemID("SQLVM1", "Sales")
	data, logLane := protocol.BackupWorkflowID(item, protocol.Full), protocol.BackupWorkflowID(item, protocol.Log)
	u.tc.running[data] = true
	u.tc.closeAfter = 1 // still running at the first look after the cancel
	var res protocol.CancelItemBackupsResult
	require.NoError(t, u.run(t, &res, protocol.ActivityCancelItemBackups, protocol.CancelItemBackupsInput{ItemID: item}))
	assert.Equal(t, []string{data}, res.Cancelled)
	assert.Equal(t, []string{data}, u.tc.cancelled)
	assert.Equal(t, 2, u.tc.describes[data], "it waited until the backup closed")

	u.tc.running[logLane] = false // finished earlier
	u.tc.cancelled = nil
	res = protocol.CancelItemBackupsResult{}
	require.NoError(t, u.run(t, &res, protocol.ActivityCancelItemBackups, protocol.CancelItemBackupsInput{ItemID: vault.ItemID("SQLVM1", "Other")}))
	assert.Empty(t, res.Cancelled)
	assert.Empty(t, u.tc.cancelled)
}

// ScheduleSkips reads each schedule's skipped and missed runs; a schedule that does not
// exist is an error naming it.
func TestScheduleSkipsUnit(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	_, err := u.tc.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: "s1"})
	require.NoError(t, err)
	u.tc.schedule("s1").info = client.ScheduleInfo{NumActions: 40, NumActionsSkippedOverlap: 3, NumActionsMissedCatchupWindow: 1}
	var out []protocol.ScheduleSkips
	require.NoError(t, u.run(t, &out, protocol.ActivityScheduleSkips, protocol.ScheduleSkipsInput{ScheduleIDs: []string{"s1"}}))
	assert.Equal(t, []protocol.ScheduleSkips{{ScheduleID: "s1", SkippedOverlap: 3, MissedCatchupWindow: 1, Actions: 40}}, out)

	err = u.run(t, nil, protocol.ActivityScheduleSkips, protocol.ScheduleSkipsInput{ScheduleIDs: []string{"s1", "nope"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "describe schedule nope")
}

// The schedules follow only an authenticated item record and policy: one edited without the
// key (here: stopped, which would delete the schedules; or a policy whose log interval was
// changed) is refused by name and the schedules are left as they are.
func TestEnsureSchedulesUnitRefusesUnauthenticatedRecords(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	require.NoError(t, u.repo.PutPolicy(ctx, "silver", []byte(unitWeeklyPolicy)))
	it := unitItem("SQLVM1", "Sales", "protected", "full", "differential", "copy-only-full", "log")
	require.NoError(t, u.repo.PutItem(ctx, it))
	_, err := u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	require.NoError(t, err)
	before := u.tc.scheduleIDs()

	stopped := *it
	stopped.Schema, stopped.State = vault.ItemSchema, vault.ItemStoppedRetain
	record, err := json.Marshal(&stopped)
	require.NoError(t, err)
	require.NoError(t, u.repo.Store().Put(ctx, vault.ItemBlob(it.ItemID), record, vault.PutOptions{}))
	_, err = u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
	assert.ElementsMatch(t, before, u.tc.scheduleIDs(), "no schedule deleted")

	require.NoError(t, u.repo.PutItem(ctx, it))
	require.NoError(t, u.repo.Store().Put(ctx, vault.PolicyBlob("silver"), []byte(unitWeeklyPolicy), vault.PutOptions{}))
	_, err = u.ensure(t, protocol.EnsureSchedulesInput{ItemID: it.ItemID})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), "policy silver is not used")
}
