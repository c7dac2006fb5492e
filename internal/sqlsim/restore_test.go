package sqlsim_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

func (e *env) dbByName(name string) *sqlsim.Database {
	e.t.Helper()
	db, ok := e.in.Database(name)
	require.True(e.t, ok, "database %s", name)
	return db
}

func (e *env) state(name string) string {
	rows := e.queryRows("SELECT state_desc FROM sys.databases WHERE name = @p1", name)
	require.Len(e.t, rows, 1)
	return rows[0]["state_desc"].(string)
}

// chainFixture: full, log, diff, log, log with writes between, at known instants.
type chainFixture struct {
	src                             *sqlsim.Database
	tFull, tLog1, tDiff, tLog2, tL3 time.Time
	mid                             time.Time // an instant inside log2, between writes
	lastLSN                         map[string]string
}

func (e *env) buildChain(name string) chainFixture {
	src := e.createDB(sqlsim.DatabaseSpec{Name: name, DataPages: 1024})
	f := chainFixture{src: src, lastLSN: map[string]string{}}
	e.write(src, time.Minute, 200)
	e.clock.Advance(time.Second)
	e.mustExec("BACKUP DATABASE "+quote(name)+" TO URL = @p1", e.url(name+"_full.bak"))
	f.tFull = e.clock.Now()
	e.write(src, time.Minute, 40)
	e.clock.Advance(time.Second)
	e.mustExec("BACKUP LOG "+quote(name)+" TO URL = @p1", e.url(name+"_log1.trn"))
	f.tLog1 = e.clock.Now()
	e.write(src, time.Minute, 40)
	e.clock.Advance(time.Second)
	e.mustExec("BACKUP DATABASE "+quote(name)+" TO URL = @p1 WITH DIFFERENTIAL", e.url(name+"_diff.bak"))
	f.tDiff = e.clock.Now()
	e.write(src, time.Minute, 40)
	f.mid = e.clock.Now().Add(30 * time.Second)
	e.write(src, time.Minute, 40)
	e.clock.Advance(time.Second)
	e.mustExec("BACKUP LOG "+quote(name)+" TO URL = @p1", e.url(name+"_log2.trn"))
	f.tLog2 = e.clock.Now()
	e.write(src, time.Minute, 40)
	e.clock.Advance(time.Second)
	e.mustExec("BACKUP LOG "+quote(name)+" TO URL = @p1", e.url(name+"_log3.trn"))
	f.tL3 = e.clock.Now()
	for _, r := range e.history(name) {
		f.lastLSN[r["physical_device_name"].(string)] = r["last_lsn"].(string)
	}
	return f
}

func quote(name string) string { return "[" + strings.ReplaceAll(name, "]", "]]") + "]" }

func (e *env) digestAtLSN(db *sqlsim.Database, lsn string) string {
	d, err := db.DigestAtLSN(lsn)
	require.NoError(e.t, err)
	return d.String()
}

func TestRestoreRoundTripsMatchDigests(t *testing.T) {
	e := newEnv(t)
	f := e.buildChain("Src")

	// Full alone, as a new database with moved files.
	e.mustExec(`RESTORE DATABASE [Copy1] FROM URL = @p1 WITH MOVE 'Src' TO '/var/opt/mssql/data/Copy1.mdf',
		MOVE 'Src_log' TO '/var/opt/mssql/data/Copy1_log.ldf', STATS = 50`, e.url("Src_full.bak"))
	assert.Equal(t, "ONLINE", e.state("Copy1"))
	assert.Equal(t, e.digestAtLSN(f.src, f.lastLSN[e.url("Src_full.bak")]), e.dbByName("Copy1").Digest().String())
	files := e.queryRows(`SELECT mf.physical_name FROM sys.master_files mf JOIN sys.databases d ON d.database_id = mf.database_id
		WHERE d.name = 'Copy1' ORDER BY mf.file_id`)
	require.Len(t, files, 2)
	assert.Equal(t, "/var/opt/mssql/data/Copy1.mdf", files[0]["physical_name"])

	// Full + diff + log2 + log3 (the shortest chain to the end).
	mv := "MOVE 'Src' TO '/d/Copy2.mdf', MOVE 'Src_log' TO '/d/Copy2.ldf'"
	e.mustExec("RESTORE DATABASE Copy2 FROM URL = @p1 WITH NORECOVERY, "+mv, e.url("Src_full.bak"))
	assert.Equal(t, "RESTORING", e.state("Copy2"))
	e.mustExec("RESTORE DATABASE Copy2 FROM URL = @p1 WITH NORECOVERY", e.url("Src_diff.bak"))
	e.mustExec("RESTORE LOG Copy2 FROM URL = @p1 WITH NORECOVERY", e.url("Src_log2.trn"))
	e.mustExec("RESTORE LOG Copy2 FROM URL = @p1 WITH RECOVERY", e.url("Src_log3.trn"))
	assert.Equal(t, "ONLINE", e.state("Copy2"))
	assert.Equal(t, f.src.DigestAt(f.tL3).String(), e.dbByName("Copy2").Digest().String())
	assert.Equal(t, f.src.Digest().String(), e.dbByName("Copy2").Digest().String())

	// The restored database continues: writes, then its own backups work.
	copy2 := e.dbByName("Copy2")
	e.write(copy2, time.Second, 5)
	e.mustExec("BACKUP LOG Copy2 TO URL = @p1", e.url("Copy2_log.trn"))

	// msdb.restorehistory recorded each step.
	rh := e.queryRows("SELECT restore_type, recovery FROM msdb.dbo.restorehistory WHERE destination_database_name = 'Copy2' ORDER BY restore_history_id")
	require.Len(t, rh, 4)
	assert.Equal(t, []any{"D", "I", "L", "L"}, []any{rh[0]["restore_type"], rh[1]["restore_type"], rh[2]["restore_type"], rh[3]["restore_type"]})
}

func TestRestorePointInTime(t *testing.T) {
	e := newEnv(t)
	f := e.buildChain("Pit")
	mv := func(n string) string {
		return fmt.Sprintf("MOVE 'Pit' TO '/d/%s.mdf', MOVE 'Pit_log' TO '/d/%s.ldf'", n, n)
	}
	// STOPAT inside log2, via full + log1 + log2 (no differential).
	e.mustExec("RESTORE DATABASE P1 FROM URL = @p1 WITH NORECOVERY, "+mv("P1"), e.url("Pit_full.bak"))
	e.mustExec("RESTORE LOG P1 FROM URL = @p1 WITH NORECOVERY, STOPAT = @p2", e.url("Pit_log1.trn"), f.mid)
	assert.Equal(t, "RESTORING", e.state("P1"), "the stop point lies beyond log1: more roll forward needed")
	e.mustExec("RESTORE LOG P1 FROM URL = @p1 WITH RECOVERY, STOPAT = @p2", e.url("Pit_log2.trn"), f.mid)
	assert.Equal(t, "ONLINE", e.state("P1"))
	assert.Equal(t, f.src.DigestAt(f.mid).String(), e.dbByName("P1").Digest().String())
	assert.NotEqual(t, f.src.Digest().String(), e.dbByName("P1").Digest().String())

	// The same instant through the differential, with STOPAT given as a string literal.
	e.mustExec("RESTORE DATABASE P2 FROM URL = @p1 WITH NORECOVERY, "+mv("P2"), e.url("Pit_full.bak"))
	e.mustExec("RESTORE DATABASE P2 FROM URL = @p1 WITH NORECOVERY", e.url("Pit_diff.bak"))
	e.mustExec(fmt.Sprintf("RESTORE LOG P2 FROM URL = '%s' WITH STOPAT = '%s'", e.url("Pit_log2.trn"), f.mid.Format("2006-01-02T15:04:05")))
	assert.Equal(t, f.src.DigestAt(f.mid).String(), e.dbByName("P2").Digest().String())

	// STOPATMARK at an LSN inside log3.
	log2Last := f.lastLSN[e.url("Pit_log2.trn")]
	mark := bigOf(t, log2Last)
	mark.Add(mark, bigOf(t, "10"))
	e.mustExec("RESTORE DATABASE P3 FROM URL = @p1 WITH NORECOVERY, "+mv("P3"), e.url("Pit_full.bak"))
	e.mustExec("RESTORE DATABASE P3 FROM URL = @p1 WITH NORECOVERY", e.url("Pit_diff.bak"))
	e.mustExec("RESTORE LOG P3 FROM URL = @p1 WITH NORECOVERY", e.url("Pit_log2.trn"))
	e.mustExec("RESTORE LOG P3 FROM URL = @p1 WITH STOPATMARK = @p2", e.url("Pit_log3.trn"), "lsn:"+mark.String())
	// STOPATMARK includes the marked record: the state is every record before mark+1.
	next := bigOf(t, mark.String())
	next.Add(next, bigOf(t, "1"))
	assert.Equal(t, e.digestAtLSN(f.src, next.String()), e.dbByName("P3").Digest().String())

	// A STOPAT before the full cannot use it (4338).
	_, err := e.db.Exec("RESTORE DATABASE P4 FROM URL = @p1 WITH NORECOVERY, STOPAT = @p2, "+mv("P4"), e.url("Pit_full.bak"), f.tFull.Add(-time.Hour))
	requireSQLError(t, err, 4338)
}

func TestRestoreChainErrors(t *testing.T) {
	e := newEnv(t)
	e.buildChain("Ch")
	mv := "MOVE 'Ch' TO '/d/R.mdf', MOVE 'Ch_log' TO '/d/R.ldf'"
	ctx := context.Background()

	// 3118: a log or differential needs the database to exist.
	_, err := e.db.Exec("RESTORE LOG R FROM URL = @p1", e.url("Ch_log1.trn"))
	requireSQLError(t, err, 3118)
	// 4305: log2 is too recent right after the full (log1 skipped).
	e.mustExec("RESTORE DATABASE R FROM URL = @p1 WITH NORECOVERY, "+mv, e.url("Ch_full.bak"))
	_, err = e.db.Exec("RESTORE LOG R FROM URL = @p1 WITH NORECOVERY", e.url("Ch_log2.trn"))
	requireSQLError(t, err, 4305)
	assert.Equal(t, int32(3013), errNumbers(err)[len(errNumbers(err))-1])
	// 4326: after log1, log1 again is too early.
	e.mustExec("RESTORE LOG R FROM URL = @p1 WITH NORECOVERY", e.url("Ch_log1.trn"))
	_, err = e.db.Exec("RESTORE LOG R FROM URL = @p1 WITH NORECOVERY", e.url("Ch_log1.trn"))
	requireSQLError(t, err, 4326)
	// 3136: a differential after logs.
	_, err = e.db.Exec("RESTORE DATABASE R FROM URL = @p1 WITH NORECOVERY", e.url("Ch_diff.bak"))
	requireSQLError(t, err, 3136)
	// 3117: once recovered, nothing more rolls forward.
	e.mustExec("RESTORE DATABASE R WITH RECOVERY")
	assert.Equal(t, "ONLINE", e.state("R"))
	_, err = e.db.Exec("RESTORE LOG R FROM URL = @p1", e.url("Ch_log2.trn"))
	requireSQLError(t, err, 3117)

	// 3154: the backup is of another database.
	e.createDB(sqlsim.DatabaseSpec{Name: "Other", DataPages: 16})
	_, err = e.db.Exec("RESTORE DATABASE Other FROM URL = @p1", e.url("Ch_full.bak"))
	requireSQLError(t, err, 3154)
	// 1834/3156: the backup's files are in use by the source database (no MOVE).
	_, err = e.db.Exec("RESTORE DATABASE Fresh FROM URL = @p1", e.url("Ch_full.bak"))
	requireSQLError(t, err, 3156)
	// 3234: MOVE of a logical file the backup does not have.
	_, err = e.db.Exec("RESTORE DATABASE Fresh FROM URL = @p1 WITH MOVE 'nope' TO '/d/x.mdf'", e.url("Ch_full.bak"))
	requireSQLError(t, err, 3234)

	// 3159: restoring over the source with an unbacked-up tail; REPLACE overrides.
	src := e.dbByName("Ch")
	e.write(src, time.Second, 3)
	_, err = e.db.Exec("RESTORE DATABASE Ch FROM URL = @p1", e.url("Ch_full.bak"))
	requireSQLError(t, err, 3159)
	// 3101: another session is using the database.
	other := e.connect("sa", saPass)
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "USE Ch")
	require.NoError(t, err)
	_, err = e.db.Exec("RESTORE DATABASE Ch FROM URL = @p1 WITH REPLACE", e.url("Ch_full.bak"))
	requireSQLError(t, err, 3101)
	require.NoError(t, conn.Close())
	require.NoError(t, other.Close())
	// The server notices the closed connection asynchronously, as SQL Server does.
	require.Eventually(t, func() bool {
		return len(e.queryRows("SELECT session_id FROM sys.dm_exec_sessions WHERE database_id = DB_ID('Ch')")) == 0
	}, 5*time.Second, 10*time.Millisecond)
	e.mustExec("RESTORE DATABASE Ch FROM URL = @p1 WITH REPLACE", e.url("Ch_full.bak"))
	assert.Equal(t, "ONLINE", e.state("Ch"))
}

func TestTailLogBackupThenRestore(t *testing.T) {
	e := newEnv(t)
	f := e.buildChain("Tail")
	e.write(f.src, time.Minute, 7)
	want := f.src.Digest().String()
	// The tail-log backup takes the last changes and leaves the database RESTORING.
	e.mustExec("BACKUP LOG Tail TO URL = @p1 WITH NORECOVERY", e.url("Tail_tail.trn"))
	assert.Equal(t, "RESTORING", e.state("Tail"))
	// Without REPLACE the restore is allowed now: nothing is lost.
	e.mustExec("RESTORE DATABASE Tail FROM URL = @p1 WITH NORECOVERY", e.url("Tail_full.bak"))
	e.mustExec("RESTORE DATABASE Tail FROM URL = @p1 WITH NORECOVERY", e.url("Tail_diff.bak"))
	for _, l := range []string{"Tail_log2.trn", "Tail_log3.trn"} {
		e.mustExec("RESTORE LOG Tail FROM URL = @p1 WITH NORECOVERY", e.url(l))
	}
	e.mustExec("RESTORE LOG Tail FROM URL = @p1 WITH RECOVERY", e.url("Tail_tail.trn"))
	assert.Equal(t, want, e.dbByName("Tail").Digest().String())
}

func TestRestoreInfoStatements(t *testing.T) {
	e := newEnv(t)
	f := e.buildChain("Info")
	h := e.history("Info")
	rows := e.queryRows("RESTORE HEADERONLY FROM URL = @p1", e.url("Info_diff.bak"))
	require.Len(t, rows, 1)
	r := rows[0]
	assert.EqualValues(t, 5, r["BackupType"])
	assert.Equal(t, "Info", r["DatabaseName"])
	assert.Equal(t, "Database Differential", r["BackupTypeDescription"])
	assert.Equal(t, h[2]["first_lsn"], r["FirstLSN"])
	assert.Equal(t, h[2]["last_lsn"], r["LastLSN"])
	assert.Equal(t, h[0]["checkpoint_lsn"], r["DifferentialBaseLSN"])
	assert.EqualValues(t, 9, r["DeviceType"])
	_ = f

	files := e.queryRows("RESTORE FILELISTONLY FROM URL = @p1", e.url("Info_full.bak"))
	require.Len(t, files, 2)
	assert.Equal(t, "Info", files[0]["LogicalName"])
	assert.Equal(t, "D", files[0]["Type"])
	assert.Equal(t, "L", files[1]["Type"])

	infos, err := e.messages(context.Background(), "RESTORE VERIFYONLY FROM URL = '"+e.url("Info_log1.trn")+"'")
	require.NoError(t, err)
	assert.Equal(t, []int32{3262}, infoNumbers(infos))

	// HEADERONLY reads only the head and tail of the blob, not the whole backup.
	before := len(e.blobs.Requests())
	e.queryRows("RESTORE HEADERONLY FROM URL = @p1", e.url("Info_full.bak"))
	b, _ := e.blobs.Blob(container, "Info_full.bak")
	read := e.bytesRead(before)
	assert.Greater(t, read, int64(0))
	assert.Less(t, read, b.Size/4)
}

func TestCorruptAndTruncatedBackupsAreRefused(t *testing.T) {
	e := newEnv(t)
	e.buildChain("Bad")
	b, ok := e.blobs.Blob(container, "Bad_full.bak")
	require.True(t, ok)

	put := e.putBlob
	flipped := append([]byte(nil), b.Content...)
	flipped[len(flipped)/2] ^= 0x40
	put("flipped.bak", flipped)
	put("truncated.bak", b.Content[:len(b.Content)*2/3])
	put("garbage.bak", []byte(strings.Repeat("not a backup ", 1000)))

	// Damage is 3183 (a page) or 3189 (the backup set); a cut stream 3203; not a backup 3241.
	for name, want := range map[string][]int32{"flipped.bak": {3183, 3189}, "truncated.bak": {3203}, "garbage.bak": {3241}} {
		t.Run(name, func(t *testing.T) {
			_, err := e.db.Exec("RESTORE DATABASE Victim FROM URL = @p1 WITH MOVE 'Bad' TO '/d/v.mdf', MOVE 'Bad_log' TO '/d/v.ldf'", e.url(name))
			require.Error(t, err)
			assert.Subset(t, want, errNumbers(err)[:1], "%v", err)
			_, err = e.db.Exec("RESTORE VERIFYONLY FROM URL = @p1", e.url(name))
			require.Error(t, err)
			assert.Subset(t, want, errNumbers(err)[:1], "%v", err)
		})
	}
	// A damaged differential changes nothing in a database that is being restored.
	e.mustExec("RESTORE DATABASE V2 FROM URL = @p1 WITH NORECOVERY, MOVE 'Bad' TO '/d/v2.mdf', MOVE 'Bad_log' TO '/d/v2.ldf'", e.url("Bad_full.bak"))
	before := e.dbByName("V2").Digest()
	d, _ := e.blobs.Blob(container, "Bad_diff.bak")
	bad := append([]byte(nil), d.Content...)
	bad[len(bad)-100] ^= 1
	put("baddiff.bak", bad)
	_, err := e.db.Exec("RESTORE DATABASE V2 FROM URL = @p1 WITH NORECOVERY", e.url("baddiff.bak"))
	require.Error(t, err)
	assert.Equal(t, before, e.dbByName("V2").Digest())
	e.mustExec("RESTORE DATABASE V2 FROM URL = @p1 WITH RECOVERY", e.url("Bad_diff.bak"))

	// A striped backup needs every stripe (3132).
	db := e.dbByName("Bad")
	_ = db
	e.mustExec(fmt.Sprintf("BACKUP DATABASE Bad TO URL = '%s', URL = '%s' WITH COPY_ONLY", e.url("st_1.bak"), e.url("st_2.bak")))
	_, err = e.db.Exec("RESTORE DATABASE V3 FROM URL = @p1 WITH MOVE 'Bad' TO '/d/v3.mdf', MOVE 'Bad_log' TO '/d/v3.ldf'", e.url("st_1.bak"))
	requireSQLError(t, err, 3132)
	e.mustExec(fmt.Sprintf("RESTORE DATABASE V3 FROM URL = '%s', URL = '%s' WITH MOVE 'Bad' TO '/d/v3.mdf', MOVE 'Bad_log' TO '/d/v3.ldf'", e.url("st_2.bak"), e.url("st_1.bak")))
}

func TestRestoreFromDiskAndRestoreBookkeeping(t *testing.T) {
	e := newEnv(t)
	f := e.buildChain("Disk")
	// A person copies a backup to disk and restores it by hand with FROM DISK.
	b, ok := e.blobs.Blob(container, "Disk_full.bak")
	require.True(t, ok)
	path := t.TempDir() + "/Disk_full.bak"
	require.NoError(t, os.WriteFile(path, b.Content, 0o600))
	e.mustExec("RESTORE DATABASE DiskCopy FROM DISK = @p1 WITH NORECOVERY, MOVE 'Disk' TO '/d/dc.mdf', MOVE 'Disk_log' TO '/d/dc.ldf'", path)

	// While RESTORING, sys.master_files.redo_start_lsn says where the next roll forward starts.
	rows := e.queryRows("SELECT state_desc, redo_start_lsn FROM sys.master_files WHERE database_id = DB_ID('DiskCopy') AND file_id = 1")
	require.Len(t, rows, 1)
	assert.Equal(t, "RESTORING", rows[0]["state_desc"])
	assert.Equal(t, f.lastLSN[e.url("Disk_full.bak")], rows[0]["redo_start_lsn"])
	e.mustExec("RESTORE LOG DiskCopy FROM URL = @p1 WITH NORECOVERY", e.url("Disk_log1.trn"))
	rows = e.queryRows("SELECT redo_start_lsn FROM sys.master_files WHERE database_id = DB_ID('DiskCopy') AND file_id = 1")
	assert.Equal(t, f.lastLSN[e.url("Disk_log1.trn")], rows[0]["redo_start_lsn"])
	e.mustExec("RESTORE DATABASE DiskCopy WITH RECOVERY")
	rows = e.queryRows("SELECT redo_start_lsn FROM sys.master_files WHERE database_id = DB_ID('DiskCopy') AND file_id = 1")
	assert.Nil(t, rows[0]["redo_start_lsn"])
	assert.Equal(t, f.src.DigestAt(f.tLog1).String(), e.dbByName("DiskCopy").Digest().String())

	// A missing file is SQL Server's 3201.
	_, err := e.db.Exec("RESTORE HEADERONLY FROM DISK = '/nonexistent/x.bak'")
	requireSQLError(t, err, 3201)

	// Restoring a backup set from another server records it in this server's msdb too, so
	// restorehistory always joins to backupset.
	other, err := e.sim.StartInstance(sqlsim.InstanceConfig{Machine: "OTHERVM"})
	require.NoError(t, err)
	odb := e.connectTo(other)
	_, err = odb.Exec(fmt.Sprintf("CREATE CREDENTIAL [%s] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '%s'", e.base, sasToken))
	require.NoError(t, err)
	_, err = odb.Exec("RESTORE DATABASE Moved FROM URL = @p1", e.url("Disk_full.bak"))
	require.NoError(t, err)
	hist := queryRowsDB(t, odb, `SELECT bs.type, bs.server_name, CAST(bs.last_lsn AS nvarchar(40)) AS last_lsn FROM msdb.dbo.restorehistory rh
		JOIN msdb.dbo.backupset bs ON bs.backup_set_id = rh.backup_set_id WHERE rh.destination_database_name = 'Moved'`)
	require.Len(t, hist, 1)
	assert.Equal(t, "D", hist[0]["type"])
	assert.Equal(t, "SQLVM1", hist[0]["server_name"])
	assert.Equal(t, f.lastLSN[e.url("Disk_full.bak")], hist[0]["last_lsn"])
	var dataPath string
	require.NoError(t, odb.QueryRow("SELECT CAST(SERVERPROPERTY('InstanceDefaultDataPath') AS nvarchar(260))").Scan(&dataPath))
	assert.Equal(t, "/var/opt/mssql/data/", dataPath)
}
