package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// trigger fires an item's Temporal Schedule now and waits for the backup it starts.
func (s *stack) trigger(itemID, kind string) protocol.RecoveryPoint {
	ctx := context.Background()
	h := s.tc.ScheduleClient().GetHandle(ctx, control.ScheduleID(itemID, kind))
	before, err := h.Describe(ctx)
	require.NoError(s.t, err)
	n := len(before.Info.RecentActions)
	require.NoError(s.t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	var started *client.ScheduleWorkflowExecution
	require.Eventually(s.t, func() bool {
		d, err := h.Describe(ctx)
		if err != nil || len(d.Info.RecentActions) <= n && d.Info.NumActions <= before.Info.NumActions {
			return false
		}
		last := d.Info.RecentActions[len(d.Info.RecentActions)-1]
		started = last.StartWorkflowResult
		return started != nil
	}, 30*time.Second, 50*time.Millisecond)
	var res protocol.BackupResult
	require.NoError(s.t, s.tc.GetWorkflow(ctx, started.WorkflowID, started.FirstExecutionRunID).Get(ctx, &res))
	return res.RecoveryPoint
}

// TestSchedulesAndRetentionOverSimulatedDays: the schedules of a protected database, fired
// at the instants the policy names while the simulator's clock moves over six days, produce
// exactly the fulls and logs the policy says; then retention keeps what the policy says
// (checked rule by rule here, independently of its code) and nothing a kept chain needs
// (every instant of the log window and every kept point still restores, per the planner).
func TestSchedulesAndRetentionOverSimulatedDays(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	p := policy.Policy{Name: "short",
		Full:      policy.FullSchedule{Frequency: policy.FrequencyDaily, TimeOfDay: "02:00", TimeZone: "UTC"},
		Log:       &policy.LogSchedule{EveryMinutes: 360},
		Retention: policy.Retention{Daily: &policy.Keep{Days: 3}, LogDays: 2},
	}
	s.putPolicy(p)
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Days", DataPages: 64})
	require.NoError(t, err)
	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Databases: []string{"Days"}, Policy: "short", SkipFirstFull: true}, nil)
	require.NoError(t, err)
	item := vault.ItemID(vm, "Days")

	// Walk six simulated days from 01:00, firing each schedule at the policy's next instant.
	s.clock.Set(time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC))
	end := s.clock.Now().Add(6 * 24 * time.Hour)
	want := map[string]int{}
	for {
		now := s.clock.Now()
		nf, _ := p.Next(policy.KindFull, now)
		nl, _ := p.Next(policy.KindLog, now)
		kind, at := policy.KindFull, nf
		if nl.Before(nf) {
			kind, at = policy.KindLog, nl
		}
		if at.After(end) {
			break
		}
		// Work happens up to the run.
		s.clock.Set(at.Add(-time.Minute))
		_, err := db.Write(5)
		require.NoError(t, err)
		s.clock.Set(at)
		rp := s.trigger(item, kind)
		assert.Equal(t, protocol.BackupType(kind), rp.Type, "the %s schedule at %s", kind, at)
		assert.Equal(t, "schedule", rp.Reason)
		want[kind]++
		s.clock.Set(at.Add(time.Second))
	}
	ms := s.points(vm, "Days")
	got := map[string]int{}
	for _, m := range ms {
		got[m.Backup.Type]++
	}
	assert.Equal(t, want, got)
	// Independently: fulls at 02:00 and logs at 00/06/12/18 UTC between the start and the end.
	start := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	fulls, logs := 0, 0
	for at := start.Truncate(time.Hour); !at.After(end); at = at.Add(time.Hour) {
		if at.Before(start) {
			continue
		}
		if at.Hour() == 2 {
			fulls++
		}
		if at.Hour()%6 == 0 {
			logs++
		}
	}
	assert.Equal(t, map[string]int{policy.KindFull: fulls, policy.KindLog: logs}, got)

	// Retention at the end of the walk.
	now := s.clock.Now()
	var rr protocol.RetentionResult
	_, err = s.run(protocol.WorkflowRetention, protocol.RetentionInput{}, &rr)
	require.NoError(t, err)
	deleted := map[string]bool{}
	for _, d := range rr.Deleted {
		deleted[d.PointID] = true
	}
	for _, m := range ms {
		age := now.Sub(m.Backup.StartTime)
		window := 3 * 24 * time.Hour
		if m.Backup.Type == vault.BackupLog {
			window = 2 * 24 * time.Hour
		}
		if age < window {
			assert.False(t, deleted[m.PointID], "%s %s is inside its window and must be kept", m.Backup.Type, m.PointID)
		}
		if deleted[m.PointID] {
			assert.GreaterOrEqual(t, age, window, "%s %s was deleted inside its window", m.Backup.Type, m.PointID)
		}
	}
	assert.NotEmpty(t, deleted, "six days exceed the policy: something expired")
	kept := s.points(vm, "Days")
	points := make([]planner.Point, len(kept))
	for i, m := range kept {
		points[i] = vault.SummaryOf(m).Point()
	}
	// Every kept point restores, and every instant of the log window can still be reached.
	for _, m := range kept {
		_, err := planner.PlanRestore(points, planner.Target{PointID: m.PointID})
		assert.NoError(t, err, "kept point %s", m.PointID)
	}
	var lastLog time.Time
	for _, m := range kept {
		if m.Backup.Type == vault.BackupLog && m.Backup.StartTime.After(lastLog) {
			lastLog = m.Backup.StartTime
		}
	}
	for at := now.Add(-2 * 24 * time.Hour); at.Before(lastLog); at = at.Add(37 * time.Minute) {
		_, err := planner.PlanRestore(points, planner.Target{At: at})
		assert.NoError(t, err, "instant %s inside the log window", at)
	}
	s.requireNoGarbageAfterSweep()
}

// TestStaleFullTurnsTheNextScheduledLogIntoAFull: when the newest full is older than the
// policy allows (its fulls failed for days), the next scheduled log backup takes a full
// and says why.
func TestStaleFullTurnsTheNextScheduledLogIntoAFull(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Stale", DataPages: 32})
	require.NoError(t, err)
	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Databases: []string{"Stale"}, Policy: "daily-30d"}, nil)
	require.NoError(t, err)
	item := vault.ItemID(vm, "Stale")
	s.clock.Advance(time.Hour)
	_, err = db.Write(3)
	require.NoError(t, err)
	assert.Equal(t, protocol.Log, s.trigger(item, policy.KindLog).Type)
	s.clock.Advance(3 * 24 * time.Hour) // three days without a full
	_, err = db.Write(3)
	require.NoError(t, err)
	rp := s.trigger(item, policy.KindLog)
	assert.Equal(t, protocol.Full, rp.Type)
	assert.Contains(t, rp.Reason, "older than the policy allows")
}
