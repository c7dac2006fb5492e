package sqlsim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

func withZone(loc *time.Location) envOption {
	return func(c *sqlsim.InstanceConfig) { c.Location = loc }
}

// wall is t's wall-clock reading in loc, as a zone-less datetime arrives at a client.
func wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// An instance on a VM whose clock is not on UTC: GETDATE(), SYSDATETIME() and
// CURRENT_TIMESTAMP are the local time, GETUTCDATE()/SYSUTCDATETIME() UTC (Microsoft,
// GETDATE (Transact-SQL)); msdb's backup dates and restore dates are local, with
// backupset.time_zone the offset in 15-minute intervals; STOPAT is a local time, compared
// with the times the writing server put in its log. Around the autumn change the local
// hour 01:00–02:00 happens twice: a STOPAT in it stops at the first occurrence (the first
// log record later than the stop point ends the roll forward).
func TestInstanceClockIsLocalTimeWithDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	e := newEnv(t, withZone(ny))
	// 2027-11-07 06:00 UTC: 02:00 EDT (UTC-4) becomes 01:00 EST (UTC-5).
	change := time.Date(2027, 11, 7, 6, 0, 0, 0, time.UTC)
	e.clock.Set(change.Add(-50 * time.Minute)) // 01:10 EDT

	now := e.clock.Now()
	rows := e.queryRows("SELECT GETDATE() AS gd, SYSDATETIME() AS sd, CURRENT_TIMESTAMP AS ct, GETUTCDATE() AS gu, SYSUTCDATETIME() AS su, DATEDIFF(MINUTE, SYSUTCDATETIME(), SYSDATETIME()) AS offmin")
	require.Len(t, rows, 1)
	for _, c := range []string{"gd", "sd", "ct"} {
		assert.WithinDuration(t, wall(now, ny), rows[0][c].(time.Time), 10*time.Millisecond, c)
	}
	for _, c := range []string{"gu", "su"} {
		assert.WithinDuration(t, wall(now, time.UTC), rows[0][c].(time.Time), 10*time.Millisecond, c)
	}
	assert.EqualValues(t, -240, rows[0]["offmin"])

	db := e.createDB(sqlsim.DatabaseSpec{Name: "Tz", DataPages: 64})
	e.write(db, time.Minute, 5)
	e.mustExec("BACKUP DATABASE Tz TO URL = @p1", e.url("tz_full.bak"))
	fullAt := e.clock.Now()
	// Writes every minute through the change, then one log backup holding both 01:xx hours.
	for e.clock.Now().Before(change.Add(25 * time.Minute)) {
		e.write(db, time.Minute, 1)
	}
	e.mustExec("BACKUP LOG Tz TO URL = @p1", e.url("tz_log.trn"))
	logAt := e.clock.Now()

	sets := e.queryRows("SELECT type, backup_start_date AS s, time_zone AS tz FROM msdb.dbo.backupset WHERE database_name = 'Tz' ORDER BY backup_set_id")
	require.Len(t, sets, 2)
	assert.Equal(t, wall(fullAt, ny), sets[0]["s"], "backup_start_date is the local time (EDT)")
	assert.EqualValues(t, -16, sets[0]["tz"], "UTC-4 in 15-minute intervals")
	assert.Equal(t, wall(logAt, ny), sets[1]["s"], "backup_start_date is the local time (EST)")
	assert.EqualValues(t, -20, sets[1]["tz"], "UTC-5 in 15-minute intervals")
	hdr := e.queryRows("RESTORE HEADERONLY FROM URL = @p1", e.url("tz_log.trn"))
	require.Len(t, hdr, 1)
	assert.Equal(t, wall(logAt, ny), hdr[0]["BackupStartDate"], "the header's dates are local too")

	// 01:45 happened twice: STOPAT stops at the first (05:45 UTC, EDT).
	restoreAt := func(target string, stop time.Time) *sqlsim.Database {
		mv := "MOVE 'Tz' TO '/d/" + target + ".mdf', MOVE 'Tz_log' TO '/d/" + target + ".ldf'"
		e.mustExec("RESTORE DATABASE @p1 FROM URL = @p2 WITH NORECOVERY, "+mv, target, e.url("tz_full.bak"))
		// A datetime parameter: zone-less, read on the server's clock.
		e.mustExec("RESTORE LOG @p1 FROM URL = @p2 WITH RECOVERY, STOPAT = @p3", target, e.url("tz_log.trn"), stop)
		r, ok := e.in.Database(target)
		require.True(t, ok)
		return r
	}
	first := change.Add(-15*time.Minute + 30*time.Second) // 01:45:30 EDT
	got := restoreAt("Tz_a", wall(first, ny))
	assert.Equal(t, db.DigestAt(first).String(), got.Digest().String(), "the first 01:45:30 (EDT)")
	assert.NotEqual(t, db.DigestAt(first.Add(time.Hour)).String(), got.Digest().String(), "not the second (EST)")
	// The second 01:20:30 (EST, 06:20:30 UTC) cannot be asked for: STOPAT '01:20:30' stops
	// at the first one, an hour earlier. This is why the product never sends a STOPAT inside
	// a log that holds an offset change (activities.localStopAt).
	second := change.Add(20*time.Minute + 30*time.Second)
	got = restoreAt("Tz_b", wall(second, ny))
	assert.Equal(t, db.DigestAt(second.Add(-time.Hour)).String(), got.Digest().String(), "the first 01:20:30 (EDT) wins")
	assert.NotEqual(t, db.DigestAt(second).String(), got.Digest().String())
	rh := e.queryRows("SELECT restore_date AS d, stop_at AS s FROM msdb.dbo.restorehistory WHERE destination_database_name = 'Tz_a' AND restore_type = 'L'")
	require.Len(t, rh, 1)
	assert.WithinDuration(t, wall(e.clock.Now(), ny), rh[0]["d"].(time.Time), time.Second, "restore_date is local")
	assert.Equal(t, wall(first, ny).Truncate(time.Second), rh[0]["s"].(time.Time).Truncate(time.Second), "stop_at as given")
}
