package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func dailyPolicy() policy.Policy {
	return policy.Policy{Name: "daily-30d",
		Full:      policy.FullSchedule{Frequency: policy.FrequencyDaily, TimeOfDay: "02:00", TimeZone: "UTC"},
		Log:       &policy.LogSchedule{EveryMinutes: 60},
		Retention: policy.Retention{Daily: &policy.Keep{Days: 30}, LogDays: 15},
	}
}

func (s *stack) putPolicy(p policy.Policy) {
	require.NoError(s.t, p.Validate())
	doc, err := json.Marshal(p)
	require.NoError(s.t, err)
	require.NoError(s.t, s.repo.PutPolicy(context.Background(), p.Name, doc))
}

var wfSeq atomic.Int64

// run starts a workflow on the stack's control queue and waits for its result.
func (s *stack) run(workflowType string, in any, out any) (client.WorkflowRun, error) {
	seq := wfSeq.Add(1)
	run, err := s.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: fmt.Sprintf("%s-%s-%d", workflowType, s.container, seq), TaskQueue: s.controlQueue(), WorkflowExecutionTimeout: 10 * time.Minute,
	}, workflowType, in)
	require.NoError(s.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	return run, run.Get(ctx, out)
}

// schedules lists the item's Temporal schedules that exist.
func (s *stack) schedules(itemID string) []string {
	var out []string
	for _, kind := range []string{"full", "differential", "log"} {
		id := control.ScheduleID(itemID, kind)
		if _, err := s.tc.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background()); err == nil {
			out = append(out, kind)
		}
	}
	return out
}

// TestConfigureProtectionOf50Databases: 50 databases in one call get their items, their
// schedules and their first fulls; the 51st in one call is refused; unsupported databases
// are refused by name and nothing changes.
func TestConfigureProtectionOf50Databases(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	var names []string
	for i := 0; i < 51; i++ {
		name := fmt.Sprintf("Db%02d", i)
		_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: name, DataPages: 16})
		require.NoError(t, err)
		names = append(names, name)
	}
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "ReadOnly", DataPages: 16, ReadOnly: true})
	require.NoError(t, err)
	_, err = s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Mirrored", DataPages: 16, Mirrored: true})
	require.NoError(t, err)
	_, err = s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "ManyFiles", DataPages: 1002, DataFiles: 1001})
	require.NoError(t, err)
	_, err = s.sqlDB.Exec("CREATE DATABASE [Db00_snap] ON (NAME = [Db00], FILENAME = '/s.ss') AS SNAPSHOT OF [Db00]")
	require.NoError(t, err)
	in := func(dbs ...string) protocol.ConfigureProtectionInput {
		return protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm, Databases: dbs, Policy: "daily-30d"}
	}

	_, err = s.run(protocol.WorkflowConfigureProtection, in(names...), nil)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrTooManyDatabases, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "51 databases in one call")

	_, err = s.run(protocol.WorkflowConfigureProtection, in("Db01", "Db00_snap", "Mirrored", "ManyFiles"), nil)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDatabaseNotSupported, protocol.ErrorType(err))
	for _, want := range []string{"Db00_snap: database snapshots", "Mirrored: databases in a database-mirroring", "ManyFiles: it has 1002 files"} {
		assert.Contains(t, err.Error(), want)
	}
	items, err := s.repo.Items(context.Background())
	require.NoError(t, err)
	assert.Empty(t, items, "a refused call changes nothing")

	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm, Databases: []string{"Db01"}, Policy: "nope"}, nil)
	assert.Equal(t, protocol.ErrPolicyNotFound, protocol.ErrorType(err))

	var res protocol.ConfigureProtectionResult
	run, err := s.run(protocol.WorkflowConfigureProtection, in(names[:50]...), &res)
	require.NoError(t, err)
	record(t, "configure-protection", s.history(run.GetID(), run.GetRunID()))
	require.Len(t, res.Protected, 50)
	for _, p := range res.Protected {
		assert.Empty(t, p.FirstFullError, p.Database)
		require.NotNil(t, p.FirstFull, p.Database)
		assert.Equal(t, []string{"full", "log"}, s.schedules(p.ItemID), p.Database)
		require.Len(t, s.points(vm, p.Database), 1, p.Database)
	}
	items, err = s.repo.Items(context.Background())
	require.NoError(t, err)
	assert.Len(t, items, 50)

	// A read-only database gets full backups only.
	var ro protocol.ConfigureProtectionResult
	_, err = s.run(protocol.WorkflowConfigureProtection, in("ReadOnly"), &ro)
	require.NoError(t, err)
	assert.Equal(t, []string{"full"}, s.schedules(ro.Protected[0].ItemID))
}

// TestStopResumeRetentionAndReconcile: stop with retain keeps everything; resume restarts
// the schedules; reconcile after every schedule was deleted restores them; a retention dry
// run deletes nothing; stop with delete removes the data only after the schedules are gone.
func TestStopResumeRetentionAndReconcile(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	for _, n := range []string{"Keep", "Drop"} {
		db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: n, DataPages: 32})
		require.NoError(t, err)
		_, err = db.Write(3)
		require.NoError(t, err)
	}
	var cr protocol.ConfigureProtectionResult
	_, err := s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Databases: []string{"Keep", "Drop"}, Policy: "daily-30d"}, &cr)
	require.NoError(t, err)
	// Retention and the sweep run by themselves: ConfigureProtection made their schedule
	// (issue 11, item 7).
	rs, err := s.tc.ScheduleClient().GetHandle(context.Background(), protocol.RetentionScheduleID).Describe(context.Background())
	require.NoError(t, err, "the retention schedule exists after configure protection")
	ra, ok := rs.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	assert.Equal(t, protocol.WorkflowRetention, ra.Workflow)
	s.clock.Advance(time.Minute)
	s.mustBackup(s.backupInput("Keep", protocol.Log))
	keep, drop := vault.ItemID(vm, "Keep"), vault.ItemID(vm, "Drop")

	// Stop with retain: schedules gone, points kept, state recorded.
	_, err = s.run(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: vm, Database: "Keep"}, nil)
	require.NoError(t, err)
	assert.Empty(t, s.schedules(keep))
	assert.Len(t, s.points(vm, "Keep"), 2)
	it, err := s.repo.Item(context.Background(), keep)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemStoppedRetain, it.State)

	// A retention dry run lists and deletes nothing.
	var rr protocol.RetentionResult
	run, err := s.run(protocol.WorkflowRetention, protocol.RetentionInput{DryRun: true}, &rr)
	require.NoError(t, err)
	record(t, "retention-dry-run", s.history(run.GetID(), run.GetRunID()))
	assert.True(t, rr.DryRun)
	assert.Len(t, s.points(vm, "Keep"), 2)
	assert.Len(t, s.points(vm, "Drop"), 1)

	// One unreadable manifest fails its own item, once, and is reported; the other item and
	// the sweep proceed (issue 11, item 7: it used to fail 20 times and abort the run).
	bad := vault.ManifestBlob(drop, vault.NewPointID(time.Now(), vault.BackupLog, "unreadable"))
	require.NoError(t, s.repo.Store().Put(context.Background(), bad, []byte("{not json"), vault.PutOptions{}))
	rr = protocol.RetentionResult{}
	run, err = s.run(protocol.WorkflowRetention, protocol.RetentionInput{}, &rr)
	require.NoError(t, err)
	h := s.history(run.GetID(), run.GetRunID())
	record(t, "retention-item-failed", h)
	require.Len(t, rr.Failed, 1)
	assert.Equal(t, drop, rr.Failed[0].ItemID)
	assert.Equal(t, protocol.ErrUnreadableRecord, rr.Failed[0].ErrorType)
	assert.Equal(t, 2, rr.Kept, "the other item was processed")
	assert.EqualValues(t, 1, activityAttempts(h)[protocol.ActivityApplyRetention], "no retry of an unreadable record")
	assert.Contains(t, activityAttempts(h), protocol.ActivitySweep, "the sweep ran")
	require.NoError(t, s.repo.Store().Delete(context.Background(), bad))

	// Resume restarts the schedules.
	run, err = s.run(protocol.WorkflowResumeProtection, protocol.ResumeProtectionInput{Instance: vm, Database: "Keep"}, nil)
	require.NoError(t, err)
	record(t, "resume-protection", s.history(run.GetID(), run.GetRunID()))
	assert.Equal(t, []string{"full", "log"}, s.schedules(keep))

	// Lose every schedule; reconcile rebuilds them from the vault.
	for _, item := range []string{keep, drop} {
		for _, kind := range []string{"full", "log"} {
			require.NoError(t, s.tc.ScheduleClient().GetHandle(context.Background(), control.ScheduleID(item, kind)).Delete(context.Background()))
		}
	}
	require.NoError(t, s.tc.ScheduleClient().GetHandle(context.Background(), protocol.RetentionScheduleID).Delete(context.Background()))
	var rec protocol.ReconcileResult
	run, err = s.run(protocol.WorkflowReconcile, nil, &rec)
	require.NoError(t, err)
	record(t, "reconcile", s.history(run.GetID(), run.GetRunID()))
	assert.Equal(t, 4, rec.Created)
	_, err = s.tc.ScheduleClient().GetHandle(context.Background(), protocol.RetentionScheduleID).Describe(context.Background())
	require.NoError(t, err, "reconcile re-creates the retention schedule")
	assert.Equal(t, []string{"full", "log"}, s.schedules(keep))
	assert.Equal(t, []string{"full", "log"}, s.schedules(drop))

	// Stop with delete: schedules removed first, then the item stopped and its running
	// backups cancelled; the data stays for the soft-delete period (testdata's
	// stop-protection-delete.json is a run from before soft delete, when it went at once).
	run, err = s.run(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: vm, Database: "Drop", DeleteData: true}, nil)
	require.NoError(t, err)
	assert.Empty(t, s.schedules(drop))
	assert.Len(t, s.points(vm, "Drop"), 1, "soft delete: the points stay")
	// The record stays as a tombstone (stopped-delete) while a backup started before the
	// stop may still commit: such a commit is refused, not left without a record.
	it, err = s.repo.Item(context.Background(), drop)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemStoppedDelete, it.State)
	h = s.history(run.GetID(), run.GetRunID())
	var order []string
	for _, e := range h.Events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			order = append(order, strings.TrimPrefix(a.GetActivityType().GetName(), "sqlvault.control."))
		}
	}
	assert.Equal(t, []string{"EnsureSchedules", "SetItemState", "CancelItemBackups"}, order,
		"the item is stopped and its running backups are gone; retention deletes later")
	// After the soft-delete period, retention deletes the data and the item.
	s.nowOffset = protocol.DefaultSoftDeleteDays*24*time.Hour + time.Hour
	rr = protocol.RetentionResult{}
	_, err = s.run(protocol.WorkflowRetention, protocol.RetentionInput{Items: []string{drop}}, &rr)
	require.NoError(t, err)
	assert.Empty(t, s.points(vm, "Drop"))
	assert.Equal(t, []string{drop}, rr.ItemsRemoved)
	s.nowOffset = 0
	// The other item is untouched.
	assert.Len(t, s.points(vm, "Keep"), 2)
	s.requireNoGarbageAfterSweep()
}

func TestStarterProtectionCommands(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Billing", DataPages: 32})
	require.NoError(t, err)
	file := t.TempDir() + "/p.json"
	doc, err := json.Marshal(dailyPolicy())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, doc, 0o600))
	out, errOut, err := s.starter("policy", "create", "--file", file)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "policy daily-30d saved")
	bad := t.TempDir() + "/bad.json"
	require.NoError(t, os.WriteFile(bad, []byte(`{"name":"bad","full":{"frequency":"daily","timeOfDay":"02:00","timeZone":"UTC"},"log":{"everyMinutes":5},"retention":{"daily":{"days":30}}}`), 0o600))
	_, errOut, err = s.starter("policy", "create", "--file", bad)
	require.Error(t, err)
	assert.Contains(t, errOut, "log.everyMinutes")
	out, errOut, err = s.starter("policy", "list")
	require.NoError(t, err, errOut)
	assert.Equal(t, "daily-30d\n", out)

	out, errOut, err = s.starter("protect", "--vm", s.agentVM(), "--instance", vm, "--policy", "daily-30d", "Billing")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "Billing")
	assert.Len(t, s.points(vm, "Billing"), 1)
	out, errOut, err = s.starter("retention", "--dry-run")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "would delete")
	out, errOut, err = s.starter("unprotect", "--instance", vm, "--database", "Billing")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "recovery points kept")
	out, errOut, err = s.starter("resume", "--instance", vm, "--database", "Billing")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "resumed")
	out, errOut, err = s.starter("reconcile")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "1 item(s)")
	// Editing the policy (logs every 4 hours) re-plans the item's schedules.
	edited := dailyPolicy()
	edited.Log.EveryMinutes = 240
	doc, err = json.Marshal(edited)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, doc, 0o600))
	out, errOut, err = s.starter("policy", "edit", "--file", file)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "schedules re-planned for 1 item(s)")
	d, err := s.tc.ScheduleClient().GetHandle(context.Background(), control.ScheduleID(vault.ItemID(vm, "Billing"), "log")).Describe(context.Background())
	require.NoError(t, err)
	require.Len(t, d.Schedule.Spec.Intervals, 1)
	assert.Equal(t, 4*time.Hour, d.Schedule.Spec.Intervals[0].Every)
	edited.Log.EveryMinutes = 60
	doc, err = json.Marshal(edited)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, doc, 0o600))
	_, errOut, err = s.starter("policy", "edit", "--file", file)
	require.NoError(t, err, errOut)

	// status: the last full, the next runs, RPO against the log interval. Evaluated at the
	// simulator's time (backup times are SQL Server's clock).
	now := s.clock.Now().Add(30 * time.Minute)
	out, errOut, err = s.starter("status", "--json", "--now", now.Format(time.RFC3339))
	require.NoError(t, err, errOut)
	var st []struct {
		Database, Health, RPO, RPOTarget string
		LastGood, NextRun                map[string]time.Time
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	require.Len(t, st, 1)
	assert.Equal(t, "Billing", st[0].Database)
	assert.Equal(t, "ok", st[0].Health)
	assert.Equal(t, "1h0m0s", st[0].RPOTarget)
	assert.Equal(t, "30m0s", st[0].RPO)
	assert.False(t, st[0].LastGood["full"].IsZero())
	assert.True(t, st[0].NextRun["log"].After(now))
	late := now.Add(5 * time.Hour)
	out, _, err = s.starter("status", "--json", "--now", late.Format(time.RFC3339))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, "late", st[0].Health)
}

// TestAutoProtectProtectsNewDatabasesAtTheNextDiscovery: an auto-protected instance's
// databases are protected now, and one created later is protected (with its first full)
// when discovery runs again; a stopped item is never re-protected.
func TestAutoProtectProtectsNewDatabasesAtTheNextDiscovery(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	for _, n := range []string{"Old1", "Old2"} {
		_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: n, DataPages: 16})
		require.NoError(t, err)
	}
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Mirror", DataPages: 16, Mirrored: true})
	require.NoError(t, err)
	var cr protocol.ConfigureProtectionResult
	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Policy: "daily-30d", AutoProtect: true}, &cr)
	require.NoError(t, err)
	require.Len(t, cr.Protected, 2, "every protectable database; the mirrored one is skipped")
	d, err := s.tc.ScheduleClient().GetHandle(context.Background(), protocol.RediscoverScheduleID).Describe(context.Background())
	require.NoError(t, err)
	assert.Equal(t, control.RediscoverEvery, d.Schedule.Spec.Intervals[0].Every)
	t.Cleanup(func() {
		_ = s.tc.ScheduleClient().GetHandle(context.Background(), protocol.RediscoverScheduleID).Delete(context.Background())
	})

	_, err = s.run(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: vm, Database: "Old2"}, nil)
	require.NoError(t, err)
	_, err = s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "New", DataPages: 16})
	require.NoError(t, err)
	var rr protocol.RediscoverResult
	run, err := s.run(protocol.WorkflowRediscover, nil, &rr)
	require.NoError(t, err)
	record(t, "rediscover", s.history(run.GetID(), run.GetRunID()))
	require.Len(t, rr.Protected, 1)
	assert.Equal(t, "New", rr.Protected[0].Database)
	require.NotNil(t, rr.Protected[0].FirstFull)
	assert.Equal(t, []string{"full", "log"}, s.schedules(vault.ItemID(vm, "New")))
	assert.Empty(t, s.schedules(vault.ItemID(vm, "Old2")), "a stopped item stays stopped")
	// Nothing new: the next discovery protects nothing.
	_, err = s.run(protocol.WorkflowRediscover, nil, &rr)
	require.NoError(t, err)
	assert.Empty(t, rr.Protected)

	// Losing the rediscovery schedule (Temporal's database lost): Reconcile rebuilds it.
	require.NoError(t, s.tc.ScheduleClient().GetHandle(context.Background(), protocol.RediscoverScheduleID).Delete(context.Background()))
	_, err = s.run(protocol.WorkflowReconcile, nil, nil)
	require.NoError(t, err)
	_, err = s.tc.ScheduleClient().GetHandle(context.Background(), protocol.RediscoverScheduleID).Describe(context.Background())
	require.NoError(t, err, "the rediscovery schedule is back")
}

// TestOnDemandBackupKeepsItsOwnRetention: an on-demand backup taken with its own retention
// outlives the policy; one without follows the policy; retention never deletes a point
// a kept one needs.
func TestOnDemandBackupKeepsItsOwnRetention(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy()) // daily fulls kept 30 days, logs 15
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Ledger", DataPages: 32})
	require.NoError(t, err)
	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Databases: []string{"Ledger"}, Policy: "daily-30d"}, nil)
	require.NoError(t, err)
	s.clock.Advance(time.Hour)
	_, err = db.Write(2)
	require.NoError(t, err)
	keep := s.backupInput("Ledger", protocol.CopyOnlyFull)
	keep.RetainDays = 90
	kept := s.mustBackup(keep)
	s.clock.Advance(time.Hour)
	plain := s.mustBackup(s.backupInput("Ledger", protocol.CopyOnlyFull))
	ms := s.points(vm, "Ledger")
	require.Len(t, ms, 3)
	require.NotNil(t, ms[1].RetainUntil)

	// 10 days on: everything is inside the policy.
	s.nowOffset = 10 * 24 * time.Hour
	var rr protocol.RetentionResult
	_, err = s.run(protocol.WorkflowRetention, protocol.RetentionInput{}, &rr)
	require.NoError(t, err)
	assert.Empty(t, rr.Deleted)
	// 60 days on: the policy's points have expired, the on-demand one with 90 days has not.
	s.nowOffset = 60 * 24 * time.Hour
	_, err = s.run(protocol.WorkflowRetention, protocol.RetentionInput{DryRun: true}, &rr)
	require.NoError(t, err)
	assert.Len(t, rr.Deleted, 2)
	assert.Len(t, s.points(vm, "Ledger"), 3, "a dry run deletes nothing")
	_, err = s.run(protocol.WorkflowRetention, protocol.RetentionInput{}, &rr)
	require.NoError(t, err)
	left := s.points(vm, "Ledger")
	require.Len(t, left, 1)
	assert.Equal(t, kept.PointID, left[0].PointID)
	assert.NotEqual(t, plain.PointID, left[0].PointID)
	// What is left still restores exactly.
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Ledger", PointID: kept.PointID, TargetDatabase: "Ledger_copy"})
	require.NoError(t, err)
	want, err := db.DigestAtLSN(kept.LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Ledger_copy").Digest())
	s.requireNoGarbageAfterSweep()
}

// TestStopProtectionCancelsTheRunningBackup (issue 11, item 7): StopProtection with delete
// while a full is streaming cancels that backup and waits for it to close; no recovery point
// is left, and the item's record stays as a tombstone that would refuse a late commit. Since
// issue 16 the stop deletes nothing itself (soft delete: retention removes the points once
// retention.softDeleteDays have passed), so its last step is the cancel.
func TestStopProtectionCancelsTheRunningBackup(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	const name = "StopMidStream"
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: name, DataPages: 2048})
	require.NoError(t, err)
	_, err = db.Write(20)
	require.NoError(t, err)
	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Databases: []string{name}, Policy: "daily-30d", SkipFirstFull: true}, nil)
	require.NoError(t, err)
	item := vault.ItemID(vm, name)

	s.inst.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 1 << 20, Stall: 3 * time.Minute})
	// Started under the data lane's own ID, as the schedule and the starter start it.
	backup, err := s.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: protocol.BackupWorkflowID(item, protocol.Full),
		TaskQueue: s.controlQueue(), WorkflowExecutionTimeout: 10 * time.Minute}, protocol.WorkflowBackup, s.backupInput(name, protocol.Full))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		_ = s.sqlDB.QueryRow("SELECT COUNT(*) FROM sys.dm_exec_requests WHERE command = 'BACKUP DATABASE' AND percent_complete > 0").Scan(&n)
		return n == 1
	}, 2*time.Minute, 50*time.Millisecond, "the backup is streaming")

	began := time.Now()
	run, err := s.run(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: vm, Database: name, DeleteData: true}, nil)
	require.NoError(t, err)
	assert.Less(t, time.Since(began), 2*time.Minute, "the stop did not wait for the stalled stream to end by itself")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = backup.Get(ctx, nil)
	var canceled *temporal.CanceledError
	require.ErrorAs(t, err, &canceled, "the running backup was cancelled")
	assert.Empty(t, s.points(vm, name), "no recovery point from the cancelled backup")
	it, err := s.repo.Item(context.Background(), item)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemStoppedDelete, it.State)
	var order []string
	for _, e := range s.history(run.GetID(), run.GetRunID()).Events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			order = append(order, strings.TrimPrefix(a.GetActivityType().GetName(), "sqlvault.control."))
		}
	}
	assert.Equal(t, []string{"EnsureSchedules", "SetItemState", "CancelItemBackups"}, order)
}
