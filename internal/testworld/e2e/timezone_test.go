package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// newYork is a zone with daylight saving time: on 2026-11-01 at 06:00 UTC its clocks go
// from 02:00 EDT (UTC-4) back to 01:00 EST (UTC-5), so 01:00–02:00 happens twice.
func newYork(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	return loc
}

var fallBack2026 = time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)

// TestPointInTimeRestoreAroundDSTIsExact: on a server whose clock is on New York time,
// recovery points hold true UTC instants, and a point-in-time restore to instants before,
// inside (both 01:30:30s) and after the autumn change gives exactly the data of that
// instant. An instant in the one log backup whose range holds the change is refused with
// AmbiguousServerTime (STOPAT takes no offset), naming what can be restored instead.
func TestPointInTimeRestoreAroundDSTIsExact(t *testing.T) {
	t.Parallel()
	ny := newYork(t)
	s := newStack(t, inZone(ny), startingAt(fallBack2026.Add(-2*time.Hour)))
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Dst", DataPages: 256})
	require.NoError(t, err)
	_, err = db.Write(50)
	require.NoError(t, err)

	// A full at 04:05 UTC, then a write every minute and a log backup every 15 minutes until
	// 07:20 UTC; the log backups at 05:50 (EDT) and 06:05 (EST) enclose the change.
	backupAt := map[string]time.Time{}
	s.clock.Advance(5 * time.Minute)
	backupAt[s.mustBackup(s.backupInput("Dst", protocol.Full)).PointID] = s.clock.Now()
	for s.clock.Now().Before(fallBack2026.Add(80 * time.Minute)) {
		s.clock.Advance(time.Minute)
		_, err := db.Write(3)
		require.NoError(t, err)
		if s.clock.Now().Minute()%15 == 5 {
			backupAt[s.mustBackup(s.backupInput("Dst", protocol.Log)).PointID] = s.clock.Now()
		}
	}
	// Every point's times are instants: the simulator's clock when SQL Server ran it.
	for _, m := range s.points(vm, "Dst") {
		want, ok := backupAt[m.PointID]
		require.True(t, ok, m.PointID)
		assert.True(t, want.Equal(m.Backup.StartTime), "point %s: start %s, SQL Server ran it at %s", m.PointID, m.Backup.StartTime, want)
		require.NotNil(t, m.Backup.ServerUTCOffsetMinutes, m.PointID)
		_, off := want.In(ny).Zone()
		assert.Equal(t, off/60, *m.Backup.ServerUTCOffsetMinutes, "point %s: the server's offset when it ran", m.PointID)
	}

	first := fallBack2026.Add(-29*time.Minute - 30*time.Second) // 01:30:30 EDT
	second := fallBack2026.Add(30*time.Minute + 30*time.Second) // 01:30:30 EST, the same local time
	require.Equal(t, first.In(ny).Format("15:04:05"), second.In(ny).Format("15:04:05"))
	require.NotEqual(t, db.DigestAt(first), db.DigestAt(second), "the two 01:30:30s hold different data")
	for i, at := range []time.Time{
		fallBack2026.Add(-14*time.Minute - 30*time.Second), // 01:45:30 EDT, just before the change
		first,
		second,
		fallBack2026.Add(70*time.Minute + 30*time.Second), // 02:10:30 EST, after
	} {
		target := fmt.Sprintf("Dst_%d", i)
		res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Dst", At: &at, TargetDatabase: target})
		require.NoError(t, err, "restore to %s (%s)", at, at.In(ny))
		assert.Equal(t, "ONLINE", res.State)
		assert.Equal(t, db.DigestAt(at), s.db(target).Digest(), "restore to %s (%s local)", at, at.In(ny).Format(time.RFC3339))
	}

	// Inside the log whose range holds the change (05:50–06:05 UTC): refused, named.
	for _, at := range []time.Time{fallBack2026.Add(-5 * time.Minute), fallBack2026.Add(2 * time.Minute)} {
		at := at
		_, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Dst", At: &at, TargetDatabase: "Dst_x"})
		require.Error(t, err, "restore to %s", at)
		assert.Equal(t, protocol.ErrAmbiguousServerTime, protocol.ErrorType(err), "%v", err)
		assert.Contains(t, err.Error(), fallBack2026.Add(-10*time.Minute).Format(time.RFC3339), "names the last instant before")
		assert.Contains(t, err.Error(), fallBack2026.Add(5*time.Minute).Format(time.RFC3339), "names the first instant after")
		_, exists := s.inst.Database("Dst_x")
		assert.False(t, exists, "a refused restore changes nothing")
	}
}

// TestRetentionOnALocalTimeServerIsExact: retention compares its own clock (UTC) with the
// points' start times, which must be instants, not the server's local time: a copy-only full
// kept 30 days under the policy is kept until 30 days after it ran, and not 5 hours less on
// a server on New York time.
func TestRetentionOnALocalTimeServerIsExact(t *testing.T) {
	t.Parallel()
	ny := newYork(t)
	s := newStack(t, inZone(ny))
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy()) // fulls kept 30 days
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Books", DataPages: 32})
	require.NoError(t, err)
	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Databases: []string{"Books"}, Policy: "daily-30d"}, nil)
	require.NoError(t, err)
	s.clock.Advance(time.Hour)
	_, err = db.Write(2)
	require.NoError(t, err)
	ran := s.clock.Now()
	p := s.mustBackup(s.backupInput("Books", protocol.CopyOnlyFull))
	assert.True(t, ran.Equal(p.StartTime), "start %s, SQL Server ran it at %s", p.StartTime, ran)

	deleted := func(now time.Duration) bool {
		s.nowOffset = now
		var rr protocol.RetentionResult
		_, err := s.run(protocol.WorkflowRetention, protocol.RetentionInput{DryRun: true}, &rr)
		require.NoError(t, err)
		for _, d := range rr.Deleted {
			if d.PointID == p.PointID {
				return true
			}
		}
		return false
	}
	assert.False(t, deleted(30*24*time.Hour-2*time.Hour), "2 hours before it is 30 days old, it is kept")
	assert.True(t, deleted(30*24*time.Hour+2*time.Hour), "2 hours after, it has expired")
}

// TestForkTimelinesOnALocalTimeServer: the recovery-fork scenario of
// TestInstantBeforeAnOverwriteRestoreIsRestoredFromItsOwnTimeline on a server on New York
// time. The fork's start comes from msdb.dbo.restorehistory.restore_date, local time with
// no offset: read as UTC it lies five hours early, and the instant before the overwrite
// would be credited to the new fork.
func TestForkTimelinesOnALocalTimeServer(t *testing.T) {
	t.Parallel()
	forkTimelines(t, inZone(newYork(t)))
}
