package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// startAgentWithStallLimits runs the stack's agent (as startAgent does) with short stall limits.
func (s *stack) startAgentWithStallLimits(after, busy time.Duration) {
	a := s.newAgent(s.inst, vm, s.agentVM(), func(o *agent.Options) { o.StallAfter, o.StallAfterBusy = after, busy })
	w := a.NewWorker(s.tc, agentWorkerOptions())
	require.NoError(s.t, w.Start())
	s.t.Cleanup(func() { w.Stop(); a.Close() })
}

// streamFailures returns the failure types of an activity's retried attempts, as the history
// records them (the last failure on each started attempt after the first).
func streamFailures(t *testing.T, s *stack, id, runID, activity string) []string {
	var out []string
	h := s.history(id, runID)
	types := map[int64]string{}
	for _, e := range h.Events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[e.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil && types[a.GetScheduledEventId()] == activity && a.GetLastFailure() != nil {
			out = append(out, a.GetLastFailure().GetApplicationFailureInfo().GetType())
		}
	}
	return out
}

// TestStalledBackupStreamFailsTheAttemptAndIsRetried (issue 11 item 6): SQL Server's stream
// stops moving mid-backup (a stall fault longer than the test); the agent notices no bytes
// and no SQL Server progress for its stall limit, cancels the statement and fails the
// attempt with BackupStalled; the retry takes the backup, and it commits once.
func TestStalledBackupStreamFailsTheAttemptAndIsRetried(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgentWithStallLimits(2*time.Second, 20*time.Second)
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Stall", DataPages: 2048})
	require.NoError(t, err)
	s.clock.Advance(time.Minute)
	_, err = db.Write(50)
	require.NoError(t, err)
	s.inst.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 4 << 20, Stall: 10 * time.Minute})

	start := time.Now()
	run := s.start(s.backupInput("Stall", protocol.Full))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var res protocol.BackupResult
	require.NoError(t, run.Get(ctx, &res), "the stalled attempt is failed and retried well before the stall ends")
	assert.Less(t, time.Since(start), time.Minute)
	assert.Equal(t, []string{protocol.ErrBackupStalled}, streamFailures(t, s, run.GetID(), run.GetRunID(), protocol.ActivityStreamBackup))
	assert.Len(t, s.points(vm, "Stall"), 1)
	// SQL Server holds no request of the stalled attempt any more.
	var n int
	require.NoError(t, s.sqlDB.QueryRow("SELECT COUNT(*) FROM sys.dm_exec_requests").Scan(&n))
	assert.Zero(t, n)
}

// TestStalledRestoreStreamFailsTheAttemptAndIsRetried: the same for a RESTORE LOG step of a
// chain; the retried step completes and the restore is exact.
func TestStalledRestoreStreamFailsTheAttemptAndIsRetried(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgentWithStallLimits(2*time.Second, 20*time.Second)
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "RStall", DataPages: 256})
	require.NoError(t, err)
	s.clock.Advance(time.Minute)
	_, err = db.Write(20)
	require.NoError(t, err)
	s.mustBackup(s.backupInput("RStall", protocol.Full))
	var last protocol.RecoveryPoint
	for i := 0; i < 2; i++ {
		s.clock.Advance(time.Minute)
		_, err = db.Write(300)
		require.NoError(t, err)
		s.clock.Advance(time.Second)
		last = s.mustBackup(s.backupInput("RStall", protocol.Log))
	}
	// The full and the first log pass; the second log's stream stalls.
	s.inst.InjectStreamFault(&sqlsim.StreamFault{Skip: 2, AfterBytes: 16 << 10, Stall: 10 * time.Minute})
	start := time.Now()
	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "RStall", PointID: last.PointID, TargetDatabase: "RStall_copy"})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var res protocol.RestoreResult
	require.NoError(t, run.Get(ctx, &res))
	assert.Less(t, time.Since(start), time.Minute)
	assert.Equal(t, []string{protocol.ErrBackupStalled}, streamFailures(t, s, run.GetID(), run.GetRunID(), protocol.ActivityRestoreStep))
	want, err := db.DigestAtLSN(last.LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("RStall_copy").Digest())
}

// TestScheduleSkipsAreCounted: while a scheduled run still runs (a stalled backup holds its
// lane), the overlap policy skips the next runs; ScheduleSkips reports how many, from
// Temporal's schedule info, for the watchdog.
func TestScheduleSkipsAreCounted(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	id := "skips-" + s.container
	// The action's workflow runs on a queue nobody polls: it stays running, like a stalled backup.
	h, err := s.tc.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: id,
		Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Second}}},
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{ID: id + "-run", Workflow: protocol.WorkflowBackup,
			TaskQueue: "nobody-polls-" + s.container, Args: []any{s.backupInput("Nope", protocol.Log)}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Delete(ctx) })
	c := &control.Control{Vault: s.repo, Temporal: s.tc}
	require.Eventually(t, func() bool {
		got, err := c.ScheduleSkips(ctx, protocol.ScheduleSkipsInput{ScheduleIDs: []string{id}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		return got[0].Actions == 1 && got[0].SkippedOverlap >= 2
	}, 30*time.Second, 500*time.Millisecond)
	_, err = c.ScheduleSkips(ctx, protocol.ScheduleSkipsInput{ScheduleIDs: []string{"no-such-schedule-" + s.container}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-schedule-"+s.container)
}
