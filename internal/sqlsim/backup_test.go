package sqlsim_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
)

func bigOf(t *testing.T, v any) *big.Int {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "want a numeric as text, got %T %v", v, v)
	n, ok := new(big.Int).SetString(s, 10)
	require.True(t, ok, s)
	return n
}

// history returns msdb backup history of a database, oldest first.
func (e *env) history(db string) []map[string]any {
	return e.queryRows(`SELECT bs.backup_set_id, bs.type, bs.is_copy_only, bs.first_lsn, bs.last_lsn, bs.checkpoint_lsn,
		bs.database_backup_lsn, bs.differential_base_lsn, bs.backup_size, bs.has_backup_checksums,
		bs.compressed_backup_size, mf.physical_device_name, mf.family_sequence_number, bs.backup_finish_date
		FROM msdb.dbo.backupset AS bs
		JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
		WHERE bs.database_name = @p1 AND mf.family_sequence_number = 1
		ORDER BY bs.backup_set_id`, db)
}

func TestBackupKindsRecordCorrectLSNRelations(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "Sales", DataPages: 2048})
	e.write(db, time.Minute, 100)
	e.mustExec("BACKUP DATABASE [Sales] TO URL = @p1 WITH CHECKSUM", e.url("full1.bak"))
	e.write(db, time.Minute, 50)
	e.mustExec("BACKUP LOG Sales TO URL = @p1", e.url("log1.trn"))
	e.write(db, time.Minute, 30)
	e.mustExec("backup database sales to url = @p1 with differential", e.url("diff1.bak"))
	e.write(db, time.Minute, 10)
	e.mustExec("BACKUP DATABASE Sales TO URL = @p1 WITH COPY_ONLY", e.url("copy1.bak"))
	e.write(db, time.Minute, 10)
	e.mustExec("BACKUP LOG Sales TO URL = @p1", e.url("log2.trn"))

	h := e.history("Sales")
	require.Len(t, h, 5)
	full, log1, diff, copyFull, log2 := h[0], h[1], h[2], h[3], h[4]
	assert.Equal(t, "D", full["type"])
	assert.Equal(t, "L", log1["type"])
	assert.Equal(t, "I", diff["type"])
	assert.Equal(t, "D", copyFull["type"])
	assert.Equal(t, true, copyFull["is_copy_only"])
	assert.Equal(t, true, full["has_backup_checksums"])
	assert.Equal(t, e.url("full1.bak"), full["physical_device_name"])

	// Full: first <= checkpoint < last.
	assert.True(t, bigOf(t, full["first_lsn"]).Cmp(bigOf(t, full["checkpoint_lsn"])) <= 0)
	assert.True(t, bigOf(t, full["checkpoint_lsn"]).Cmp(bigOf(t, full["last_lsn"])) < 0)
	// The first log after the full: L.first <= F.last < L.last.
	assert.True(t, bigOf(t, log1["first_lsn"]).Cmp(bigOf(t, full["last_lsn"])) <= 0)
	assert.True(t, bigOf(t, full["last_lsn"]).Cmp(bigOf(t, log1["last_lsn"])) < 0)
	// The differential belongs to the full: its base is the full's checkpoint.
	assert.Equal(t, full["checkpoint_lsn"], diff["differential_base_lsn"])
	assert.Equal(t, full["checkpoint_lsn"], diff["database_backup_lsn"])
	// A copy-only full never becomes a base, and does not break the log chain.
	assert.Equal(t, full["checkpoint_lsn"], copyFull["database_backup_lsn"])
	assert.Equal(t, log1["last_lsn"], log2["first_lsn"])
	assert.Equal(t, full["checkpoint_lsn"], log2["database_backup_lsn"])

	// sys.database_recovery_status points at the next log backup's first LSN.
	rs := e.queryRows(`SELECT r.last_log_backup_lsn FROM sys.database_recovery_status r
		JOIN sys.databases d ON d.database_id = r.database_id WHERE d.name = N'sales'`)
	require.Len(t, rs, 1)
	assert.Equal(t, log2["last_lsn"], rs[0]["last_log_backup_lsn"])

	// The differential holds only changed pages; the log only records since the last log.
	assert.Less(t, bigOf(t, diff["backup_size"]).Int64(), bigOf(t, full["backup_size"]).Int64()/4)
	assert.Less(t, bigOf(t, log2["backup_size"]).Int64(), bigOf(t, full["backup_size"]).Int64()/20)

	// Every blob was committed with blocks of the default MAXTRANSFERSIZE (1 MiB).
	b, ok := e.blobs.Blob(container, "full1.bak")
	require.True(t, ok)
	assert.Greater(t, len(b.Content), 2048*8192)
	assert.Equal(t, (len(b.Content)+(1<<20)-1)/(1<<20), len(b.BlockIDs))
}

func TestBackupLSNsBeyondInt64(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "BigLSN", DataPages: 64, LSNOffset: "99999000000000000000000"})
	e.write(db, time.Second, 5)
	e.mustExec("BACKUP DATABASE BigLSN TO URL = @p1", e.url("big.bak"))
	h := e.history("BigLSN")
	require.Len(t, h, 1)
	first := bigOf(t, h[0]["first_lsn"])
	assert.Equal(t, 1, first.Cmp(new(big.Int).SetUint64(1<<63)), "LSN %s must exceed int64", first)
	// And LSN comparisons in SQL work on them.
	rows := e.queryRows("SELECT COUNT(*) AS n FROM msdb.dbo.backupset WHERE first_lsn > 99999000000000000000000 AND database_name = 'BigLSN'")
	assert.EqualValues(t, 1, rows[0]["n"])
}

func TestBackupStripesFormatCompressionAndStats(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "Striped", DataPages: 4096})
	e.write(db, time.Second, 10)
	q := fmt.Sprintf("BACKUP DATABASE Striped TO URL = '%s', URL = '%s', URL = '%s' WITH COMPRESSION, STATS = 25, MAXTRANSFERSIZE = 131072",
		e.url("s_1.bak"), e.url("s_2.bak"), e.url("s_3.bak"))
	infos, err := e.messages(context.Background(), q)
	require.NoError(t, err)
	nums := infoNumbers(infos)
	assert.Equal(t, []int32{3211, 3211, 3211, 3211}, nums[:4], "STATS = 25 reports 25, 50, 75, 100 percent")
	assert.Equal(t, "25 percent processed.", infos[0].Message)
	assert.Contains(t, nums, int32(4035))
	assert.Equal(t, int32(3014), nums[len(nums)-1])
	assert.True(t, strings.HasPrefix(infos[len(infos)-1].Message, "BACKUP DATABASE successfully processed "))
	var total int
	for _, n := range []string{"s_1.bak", "s_2.bak", "s_3.bak"} {
		b, ok := e.blobs.Blob(container, n)
		require.True(t, ok, n)
		total += len(b.Content)
		assert.Equal(t, (len(b.Content)+131071)/131072, len(b.BlockIDs), "one block per MAXTRANSFERSIZE")
	}
	assert.Less(t, total, 4096*8192, "compression shrinks the stream")
	fam := e.queryRows("SELECT COUNT(*) AS n FROM msdb.dbo.backupmediafamily")
	assert.EqualValues(t, 3, fam[0]["n"])

	// The blob exists now: without FORMAT SQL Server refuses, with FORMAT it overwrites.
	_, err = e.db.Exec("BACKUP DATABASE Striped TO URL = @p1", e.url("s_1.bak"))
	requireSQLError(t, err, 3271)
	assert.Contains(t, errNumbers(err), int32(3013))
	e.mustExec("BACKUP DATABASE Striped TO URL = @p1 WITH FORMAT", e.url("s_1.bak"))
}

func TestBackupUserErrors(t *testing.T) {
	e := newEnv(t)
	simple := e.createDB(sqlsim.DatabaseSpec{Name: "Simple", DataPages: 64, Recovery: "SIMPLE"})
	e.write(simple, time.Second, 1)
	e.createDB(sqlsim.DatabaseSpec{Name: "NoFull", DataPages: 64})
	ctx := context.Background()

	cases := []struct {
		name  string
		q     string
		want  int32
		stmts string
	}{
		{"log in SIMPLE", "BACKUP LOG Simple TO URL = '" + e.url("x1") + "'", 4208, "BACKUP LOG is terminating abnormally."},
		{"log without a full", "BACKUP LOG NoFull TO URL = '" + e.url("x2") + "'", 4214, "BACKUP LOG is terminating abnormally."},
		{"differential without a base", "BACKUP DATABASE NoFull TO URL = '" + e.url("x3") + "' WITH DIFFERENTIAL", 3035, ""},
		{"missing database", "BACKUP DATABASE [Nope] TO URL = '" + e.url("x4") + "'", 911, ""},
		{"IP host", "BACKUP DATABASE NoFull TO URL = 'https://127.0.0.1/backups/x.bak'", 3078, ""},
		{"no credential", "BACKUP DATABASE NoFull TO URL = 'https://" + blobHost + "/other/x.bak'", 3201, ""},
		{"tempdb", "BACKUP DATABASE tempdb TO URL = '" + e.url("x5") + "'", 3147, ""},
		{"65 stripes", "BACKUP DATABASE NoFull TO " + strings.Repeat("URL = '"+e.url("y")+"', ", 64) + "URL = '" + e.url("z") + "'", 3205, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.messages(ctx, c.q)
			requireSQLError(t, err, c.want)
			nums := errNumbers(err)
			assert.Equal(t, int32(3013), nums[len(nums)-1], "every failed BACKUP ends with 3013: %v", nums)
			if c.stmts != "" {
				assert.Contains(t, err.Error(), c.stmts)
			}
		})
	}
	// Nothing was written for any refused backup.
	assert.Empty(t, e.blobs.Blobs())
	assert.Empty(t, e.queryRows("SELECT backup_set_id FROM msdb.dbo.backupset"))

	// After switching SIMPLE → FULL the chain needs a full first (4214), then logs work.
	e.mustExec("ALTER DATABASE Simple SET RECOVERY FULL")
	_, err := e.db.Exec("BACKUP LOG Simple TO URL = @p1", e.url("s1"))
	requireSQLError(t, err, 4214)
	e.mustExec("BACKUP DATABASE Simple TO URL = @p1", e.url("s2"))
	e.write(simple, time.Second, 1)
	e.mustExec("BACKUP LOG Simple TO URL = @p1", e.url("s3"))
}

func TestExpressRefusesCompression(t *testing.T) {
	e := newEnv(t, withEdition(sqlsim.Express))
	e.createDB(sqlsim.DatabaseSpec{Name: "Tiny", DataPages: 16})
	_, err := e.db.Exec("BACKUP DATABASE Tiny TO URL = @p1 WITH COMPRESSION", e.url("t.bak"))
	me := requireSQLError(t, err, 1844)
	assert.Contains(t, me.Message, "Express Edition")
	e.mustExec("BACKUP DATABASE Tiny TO URL = @p1 WITH NO_COMPRESSION", e.url("t.bak"))
}

func TestBackupBlockLimit(t *testing.T) {
	e := newEnv(t)
	e.sim.SetBlobBlockLimit(20) // Azure allows 50,000 blocks per blob; 20 is reached quickly
	db := e.createDB(sqlsim.DatabaseSpec{Name: "Blocks", DataPages: 256})
	e.write(db, time.Second, 1)
	_, err := e.db.Exec("BACKUP DATABASE Blocks TO URL = @p1 WITH MAXTRANSFERSIZE = 65536", e.url("b.bak"))
	requireSQLError(t, err, 3063)
	assert.Contains(t, errNumbers(err), int32(3013))
	// Striping is the way past the limit: 4 blobs of at most 20 blocks each.
	q := fmt.Sprintf("BACKUP DATABASE Blocks TO URL = '%s', URL = '%s', URL = '%s', URL = '%s' WITH MAXTRANSFERSIZE = 65536, FORMAT",
		e.url("b1.bak"), e.url("b2.bak"), e.url("b3.bak"), e.url("b4.bak"))
	e.mustExec(q)
}

func TestBackupDeviceFailureLeavesNothing(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "Flaky", DataPages: 64})
	e.write(db, time.Second, 1)
	e.blobs.FailNth(blobfake.KindPutBlockList, 1, 500)
	_, err := e.db.Exec("BACKUP DATABASE Flaky TO URL = @p1", e.url("f.bak"))
	requireSQLError(t, err, 3202)
	assert.Contains(t, errNumbers(err), int32(3013))
	b, ok := e.blobs.Blob(container, "f.bak")
	assert.True(t, !ok || len(b.Content) == 0, "a failed backup commits no content")
	assert.Empty(t, e.history("Flaky"), "a failed backup writes no msdb history")
	// The chain did not move: a differential still has no base.
	_, err = e.db.Exec("BACKUP DATABASE Flaky TO URL = @p1 WITH DIFFERENTIAL", e.url("f2.bak"))
	requireSQLError(t, err, 3035)
}

func TestBackupPermissionDenied(t *testing.T) {
	e := newEnv(t)
	e.createDB(sqlsim.DatabaseSpec{Name: "Secure", DataPages: 16})
	e.mustExec("CREATE LOGIN [operator] WITH PASSWORD = N'Op-Passw0rd'")
	op := e.connect("operator", "Op-Passw0rd")
	var member int
	require.NoError(t, op.QueryRow("SELECT IS_SRVROLEMEMBER('sysadmin')").Scan(&member))
	assert.Equal(t, 0, member)
	_, err := op.Exec("BACKUP DATABASE Secure TO URL = @p1", e.url("p.bak"))
	requireSQLError(t, err, 262)
	_, err = op.Exec("RESTORE DATABASE Secure FROM URL = @p1", e.url("p.bak"))
	requireSQLError(t, err, 3110)
	_, err = op.Exec("CREATE CREDENTIAL [https://x.test/c] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = 's'")
	requireSQLError(t, err, 15247)

	e.mustExec("ALTER SERVER ROLE sysadmin ADD MEMBER [operator]")
	require.NoError(t, op.QueryRow("SELECT IS_SRVROLEMEMBER('sysadmin')").Scan(&member))
	assert.Equal(t, 1, member)
	_, err = op.Exec("BACKUP DATABASE Secure TO URL = @p1", e.url("p.bak"))
	require.NoError(t, err)
}

// A simulated host that does not trust the blob endpoint's certificate cannot open the
// device, as SQL Server cannot without the CA in its trust store.
func TestBackupRefusesUntrustedCertificate(t *testing.T) {
	e := newEnv(t)
	other := sqlsim.New(sqlsim.Config{Clock: e.clock, Resolve: e.hosts})
	t.Cleanup(func() { _ = other.Close() })
	in, err := other.StartInstance(sqlsim.InstanceConfig{Machine: "UNTRUSTING"})
	require.NoError(t, err)
	_, err = in.CreateDatabase(sqlsim.DatabaseSpec{Name: "D", DataPages: 16})
	require.NoError(t, err)
	db := e.connectTo(in)
	_, err = db.Exec(fmt.Sprintf("CREATE CREDENTIAL [%s] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '%s'", e.base, sasToken))
	require.NoError(t, err)
	_, err = db.Exec("BACKUP DATABASE D TO URL = @p1", e.url("d.bak"))
	me := requireSQLError(t, err, 3201)
	assert.Contains(t, me.Message, "12175")
	assert.Zero(t, e.blobs.Count(blobfake.KindPutBlock))
}

// Another tool's backups to disk (a maintenance plan, a DBA by hand) are real backups: they
// appear in msdb and move the chain, which the product must notice.
func TestBackupToDiskByAnotherTool(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "Disky", DataPages: 64})
	e.write(db, time.Second, 3)
	e.mustExec("BACKUP DATABASE Disky TO URL = @p1", e.url("d_full.bak"))
	e.write(db, time.Second, 3)
	path := t.TempDir() + "/disky_log.trn"
	e.mustExec("BACKUP LOG Disky TO DISK = @p1", path)
	_, err := e.db.Exec("BACKUP LOG Disky TO DISK = @p1", path)
	requireSQLError(t, err, 3266)
	h := e.history("Disky")
	require.Len(t, h, 2)
	assert.Equal(t, path, h[1]["physical_device_name"])
	rs := e.queryRows("SELECT CAST(r.last_log_backup_lsn AS nvarchar(40)) AS l FROM sys.database_recovery_status r WHERE r.database_id = DB_ID('Disky')")
	assert.Equal(t, h[1]["last_lsn"], rs[0]["l"])
	// And it restores from disk.
	e.mustExec("RESTORE DATABASE D2 FROM URL = @p1 WITH NORECOVERY, MOVE 'Disky' TO '/d/d2.mdf', MOVE 'Disky_log' TO '/d/d2.ldf'", e.url("d_full.bak"))
	e.mustExec("RESTORE LOG D2 FROM DISK = @p1", path)
	assert.Equal(t, db.Digest(), e.dbByName("D2").Digest())
}
