package sqlserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/media"
)

// After an msdb upgrade compressed_backup_size is NULL (Microsoft's backupset page: "an
// uncompressed backup") and the family numbers are NULL (documented "Can be NULL"): the
// backup set still reads, its stored size falls back to backup_size, and its stripe count
// comes from backupmediaset.media_family_count, the documented count of the media set.
func TestBackupSetAfterMsdbUpgrade(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db, err := f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Upg", DataPages: 256})
	require.NoError(t, err)
	f.clock.Advance(time.Second)
	_, err = db.Write(10)
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = f.conn.DB().Exec("BACKUP DATABASE [Upg] TO DISK = @p1, DISK = @p2, DISK = @p3 WITH COMPRESSION",
		dir+"/u1.bak", dir+"/u2.bak", dir+"/u3.bak")
	require.NoError(t, err)
	before, err := f.conn.BackupSetByDevice(ctx, dir+"/u2.bak")
	require.NoError(t, err)
	require.NotNil(t, before)
	assert.Equal(t, 3, before.Families)

	f.in.SimulateMsdbUpgrade()
	var nullCompressed, nullLast bool
	require.NoError(t, f.conn.DB().QueryRow(`SELECT CASE WHEN compressed_backup_size IS NULL THEN 1 ELSE 0 END,
		CASE WHEN last_family_number IS NULL THEN 1 ELSE 0 END FROM msdb.dbo.backupset WHERE database_name = 'Upg'`).Scan(&nullCompressed, &nullLast))
	require.True(t, nullCompressed && nullLast, "the simulator models the upgraded msdb")

	after, err := f.conn.BackupSetByDevice(ctx, dir+"/u2.bak")
	require.NoError(t, err)
	require.NotNil(t, after)
	assert.Equal(t, 3, after.Families, "the stripe count is backupmediaset.media_family_count")
	assert.Equal(t, after.SizeBytes, after.CompressedBytes, "NULL compressed size means uncompressed: backup_size")
	assert.Equal(t, before.BackupSetGUID, after.BackupSetGUID)
}

// LogBackupBytes is what the next BACKUP LOG writes (sys.dm_db_log_stats'
// log_since_last_log_backup_mb), not the data size; on a build without the function (before
// SQL Server 2016 SP2) it falls back to the log files' size.
func TestLogBackupBytes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sim, err := f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Logs", SizeBytes: 64 << 20})
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = f.conn.DB().Exec("BACKUP DATABASE [Logs] TO DISK = @p1", dir+"/full.bak")
	require.NoError(t, err)
	f.clock.Advance(time.Second)
	_, err = sim.Write(3000)
	require.NoError(t, err)

	db, err := f.conn.Database(ctx, "Logs")
	require.NoError(t, err)
	est, err := f.conn.LogBackupBytes(ctx, db)
	require.NoError(t, err)
	_, err = f.conn.DB().Exec("BACKUP LOG [Logs] TO DISK = @p1", dir+"/log.trn")
	require.NoError(t, err)
	var written int64
	require.NoError(t, f.conn.DB().QueryRow("SELECT TOP (1) CAST(backup_size AS bigint) FROM msdb.dbo.backupset WHERE database_name = 'Logs' AND type = 'L' ORDER BY backup_set_id DESC").Scan(&written))
	assert.Greater(t, est, int64(3000*100))
	assert.InDelta(t, written, est, float64(2*media.LogItemBytes), "the estimate is the log the backup then wrote")
	assert.Less(t, est, db.DataBytes/4, "a log backup is sized by its log, not by the data")

	// SQL Server 2016 SP1 has no sys.dm_db_log_stats: the log files' size is the bound.
	old, err := f.sim.StartInstance(sqlsim.InstanceConfig{Machine: "VM2", Version: "13.0.4001.0",
		Logins: []sqlsim.Login{{Name: "sqlvault", Password: "pw", Sysadmin: true}}})
	require.NoError(t, err)
	_, err = old.CreateDatabase(sqlsim.DatabaseSpec{Name: "Old", DataPages: 512})
	require.NoError(t, err)
	conn, err := sqlserver.Open(old.DSN("sqlvault", "pw", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	odb, err := conn.Database(ctx, "Old")
	require.NoError(t, err)
	require.Positive(t, odb.LogBytes)
	got, err := conn.LogBackupBytes(ctx, odb)
	require.NoError(t, err)
	assert.Equal(t, odb.LogBytes, got)
}
