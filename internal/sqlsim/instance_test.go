package sqlsim_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

func TestLoginAndSessionBasics(t *testing.T) {
	e := newEnv(t)
	// Wrong password: 18456, as SQL Server reports it.
	bad := e.connect("sa", "wrong")
	err := bad.Ping()
	requireSQLError(t, err, 18456)

	var name, version string
	var spid int
	require.NoError(t, e.db.QueryRow("SELECT @@SERVERNAME, @@VERSION, @@SPID").Scan(&name, &version, &spid))
	assert.Equal(t, "SQLVM1", name)
	assert.Contains(t, version, "Microsoft SQL Server 2022")
	assert.Greater(t, spid, 50)

	var edition, pv string
	require.NoError(t, e.db.QueryRow("SELECT CAST(SERVERPROPERTY('Edition') AS nvarchar(128)), CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(32))").Scan(&edition, &pv))
	assert.Equal(t, "Developer Edition (64-bit)", edition)
	assert.True(t, strings.HasPrefix(pv, "16.0."))

	// Several concurrent connections each run their own batches.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			db := e.connect("sa", saPass)
			var n int
			if err := db.QueryRow("SELECT @p1 + 1", i).Scan(&n); err != nil {
				errs <- err
				return
			}
			if n != i+1 {
				errs <- fmt.Errorf("got %d want %d", n, i+1)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestResultTypesThroughTDS(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "Typed", DataPages: 32})
	e.write(db, time.Second, 1)
	e.mustExec("BACKUP DATABASE Typed TO URL = @p1", e.url("typed.bak"))
	row := e.db.QueryRow(`SELECT TOP (1) bs.database_name, bs.backup_set_id, CAST(bs.backup_size AS bigint),
		bs.is_copy_only, bs.first_lsn, bs.backup_start_date, bs.backup_set_uuid, d.database_id
		FROM msdb.dbo.backupset bs JOIN sys.databases d ON d.name = bs.database_name ORDER BY bs.backup_set_id DESC`)
	var (
		dbName   string
		setID    int32
		size     int64
		copyOnly bool
		first    string
		start    time.Time
		uuid     mssql.UniqueIdentifier
		dbID     int
	)
	require.NoError(t, row.Scan(&dbName, &setID, &size, &copyOnly, &first, &start, &uuid, &dbID))
	assert.Equal(t, "Typed", dbName)
	assert.EqualValues(t, 1, setID)
	assert.Greater(t, size, int64(32*8192))
	assert.False(t, copyOnly)
	assert.True(t, strings.HasPrefix(first, "37000000000000"), first)
	assert.WithinDuration(t, e.clock.Now(), start, time.Second)
	assert.NotEqual(t, mssql.UniqueIdentifier{}, uuid)
	assert.EqualValues(t, 5, dbID)

	// NULLs come back as NULLs.
	var n sql.NullString
	require.NoError(t, e.db.QueryRow("SELECT differential_base_lsn FROM msdb.dbo.backupset").Scan(&n))
	assert.False(t, n.Valid)

	// GETDATE() reads the simulator's clock.
	var now time.Time
	require.NoError(t, e.db.QueryRow("SELECT GETDATE()").Scan(&now))
	assert.WithinDuration(t, e.clock.Now(), now, 10*time.Millisecond)
	e.clock.Advance(time.Hour)
	require.NoError(t, e.db.QueryRow("SELECT SYSDATETIME()").Scan(&now))
	assert.WithinDuration(t, t0.Add(time.Hour+time.Second), now, 10*time.Millisecond)
}

func TestInstanceModelCatalog(t *testing.T) {
	e := newEnv(t)
	e.createDB(sqlsim.DatabaseSpec{Name: "Full", DataPages: 1280})
	e.createDB(sqlsim.DatabaseSpec{Name: "RO", DataPages: 16, ReadOnly: true})
	e.createDB(sqlsim.DatabaseSpec{Name: "Mirrored", DataPages: 16, Mirrored: true})
	e.createDB(sqlsim.DatabaseSpec{Name: "ManyFiles", DataPages: 2002, DataFiles: 1001})
	e.mustExec("CREATE DATABASE [Full_snap] ON (NAME = [Full], FILENAME = '/var/opt/mssql/data/Full_snap.ss') AS SNAPSHOT OF [Full]")
	e.mustExec("CREATE DATABASE Made ON PRIMARY (NAME = Made_data, FILENAME = '/data/made.mdf', SIZE = 16MB) LOG ON (NAME = Made_log, FILENAME = '/log/made.ldf', SIZE = 8MB)")

	rows := e.queryRows(`SELECT d.name, d.state_desc, d.recovery_model_desc, d.is_read_only, d.source_database_id, m.mirroring_guid
		FROM sys.databases AS d LEFT JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
		WHERE d.database_id > 4 ORDER BY d.name`)
	byName := map[string]map[string]any{}
	for _, r := range rows {
		byName[r["name"].(string)] = r
	}
	require.Len(t, byName, 6)
	assert.Equal(t, true, byName["RO"]["is_read_only"])
	assert.NotNil(t, byName["Full_snap"]["source_database_id"])
	assert.Nil(t, byName["Full"]["source_database_id"])
	assert.NotNil(t, byName["Mirrored"]["mirroring_guid"])
	assert.Nil(t, byName["Full"]["mirroring_guid"])
	assert.Equal(t, "FULL", byName["Made"]["recovery_model_desc"])

	files := e.queryRows(`SELECT COUNT(*) AS n FROM sys.master_files mf JOIN sys.databases d ON d.database_id = mf.database_id WHERE d.name = 'ManyFiles'`)
	assert.EqualValues(t, 1002, files[0]["n"], "1001 data files and a log")
	made := e.queryRows(`SELECT mf.name, mf.physical_name, mf.type_desc, mf.size FROM sys.master_files mf WHERE mf.database_id = DB_ID('Made') ORDER BY mf.file_id`)
	require.Len(t, made, 2)
	assert.Equal(t, "Made_data", made[0]["name"])
	assert.Equal(t, "/data/made.mdf", made[0]["physical_name"])
	assert.EqualValues(t, 2048, made[0]["size"], "16 MB in 8 KB pages")
	assert.Equal(t, "LOG", made[1]["type_desc"])

	// Recovery model and state changes.
	e.mustExec("ALTER DATABASE [Full] SET RECOVERY SIMPLE")
	e.mustExec("ALTER DATABASE [RO] SET READ_WRITE")
	e.mustExec("ALTER DATABASE [Made] SET OFFLINE")
	st := e.queryRows("SELECT name, recovery_model_desc, is_read_only, state_desc FROM sys.databases WHERE name IN ('Full', 'RO', 'Made') ORDER BY name")
	assert.Equal(t, "SIMPLE", st[0]["recovery_model_desc"])
	assert.Equal(t, "OFFLINE", st[1]["state_desc"])
	assert.Equal(t, false, st[2]["is_read_only"])
	_, err := e.db.Exec("USE [Made]")
	requireSQLError(t, err, 942)

	// A snapshot can't be backed up; the product must refuse it before trying.
	_, err = e.db.Exec("BACKUP DATABASE Full_snap TO URL = @p1", e.url("snap.bak"))
	requireSQLError(t, err, 3002)

	// Recovery status: NULL before any full, and for SIMPLE databases.
	rs := e.queryRows(`SELECT d.name, r.last_log_backup_lsn FROM sys.database_recovery_status r JOIN sys.databases d ON d.database_id = r.database_id WHERE d.name = 'ManyFiles'`)
	require.Len(t, rs, 1)
	assert.Nil(t, rs[0]["last_log_backup_lsn"])
}

func TestTSQLReadAsSQLServerReadsIt(t *testing.T) {
	e := newEnv(t)
	weird := "we]ird 'db' ñame"
	e.mustExec("CREATE DATABASE [we]]ird 'db' ñame]")
	e.mustExec(`/* a comment */ ALTER   DATABASE "we]ird 'db' ñame" SET recovery Full -- trailing comment
		;`)
	db := e.dbByName(weird)
	e.write(db, time.Second, 3)
	// Options in any order and case, a quoted identifier, several statements in one batch.
	e.mustExec(fmt.Sprintf(`
		backup   database [we]]ird 'db' ñame] to url = N'%s' with stats=50, Checksum, COPY_ONLY;
		BACKUP DATABASE [we]]ird 'db' ñame]
			TO URL = N'%s'
			WITH FORMAT, NAME = N'full ''one''', DESCRIPTION = 'x'`, e.url("w1.bak"), e.url("w2.bak")))
	rows := e.queryRows("SELECT name FROM msdb.dbo.backupset WHERE database_name = @p1 AND name IS NOT NULL", weird)
	require.Len(t, rows, 1)
	assert.Equal(t, "full 'one'", rows[0]["name"])
	// Parameterized names through a variable, as a product would send them.
	e.mustExec("DECLARE @db sysname = @p1; BACKUP DATABASE @db TO URL = @p2 WITH FORMAT", weird, e.url("w3.bak"))

	cases := []struct {
		q    string
		want int32
	}{
		{"SELECT 1 +", 102},
		{"SELEC 1", 2812}, // like SQL Server: a leading name is a procedure call
		{"SELECT name FROM sys.databasez", 208},
		{"SELECT nope FROM sys.databases", 207},
		{"USE [nope]", 911},
		{"SELECT 'unclosed", 105},
		{"BACKUP DATABASE x TO URL = 'u' WITH FROM", 156},
		{"EXEC dbo.no_such_proc", 2812},
		{"SELECT 1 / 0", 8134},
		{"INSERT INTO t VALUES (1)", 208},
		{"UPDATE t SET a = 1", 40000},
		{"GO", 2812},
	}
	for _, c := range cases {
		_, err := e.db.Exec(c.q)
		requireSQLError(t, err, c.want)
	}
}

func TestWorkloadAndDigestTruth(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "W", DataPages: 512})
	d0 := db.Digest()
	e.write(db, time.Minute, 10)
	t1 := e.clock.Now()
	d1 := db.Digest()
	e.write(db, time.Minute, 10)
	assert.NotEqual(t, d0, d1)
	assert.Equal(t, d0, db.DigestAt(t0))
	assert.Equal(t, d1, db.DigestAt(t1))
	assert.Equal(t, d1, db.DigestAt(t1.Add(30*time.Second)))
	assert.Equal(t, db.Digest(), db.DigestAt(e.clock.Now()))

	// The T-SQL workload and digest procedures, for demos.
	var lsn string
	require.NoError(t, e.db.QueryRow("EXEC sp_sqlsim_write @database = N'W', @pages = 5").Scan(&lsn))
	assert.Equal(t, db.NextLSN(), addOne(t, lsn))
	var name, digest string
	require.NoError(t, e.db.QueryRow("EXEC sp_sqlsim_digest @database = N'W'").Scan(&name, &digest))
	assert.Equal(t, db.Digest().String(), digest)

	// Read-only databases refuse writes as SQL Server does.
	ro := e.createDB(sqlsim.DatabaseSpec{Name: "ROW", DataPages: 16, ReadOnly: true})
	_, err := ro.Write(1)
	var se interface{ Error() string }
	require.True(t, errors.As(err, &se))
	assert.Contains(t, err.Error(), "3906")

	// Big databases cost no memory: 20 GiB of generated content.
	big := e.createDB(sqlsim.DatabaseSpec{Name: "Big", SizeBytes: 20 << 30})
	assert.EqualValues(t, (20<<30)/8192, big.DataPages())
	e.write(big, time.Second, 1000)
	assert.NotEqual(t, big.Digest(), big.DigestAt(t0))
}

func addOne(t *testing.T, s string) string {
	n := bigOf(t, s)
	return n.Add(n, bigOf(t, "1")).String()
}

func TestAttentionStopsBackupAndRestore(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "Slow", DataPages: 1024})
	e.write(db, time.Second, 1)
	e.in.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 1 << 20, Stall: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.db.ExecContext(ctx, "BACKUP DATABASE Slow TO URL = @p1", e.url("slow.bak"))
		done <- err
	}()
	require.Eventually(t, func() bool {
		r := e.queryRows("SELECT command, percent_complete FROM sys.dm_exec_requests")
		return len(r) == 1 && r[0]["command"] == "BACKUP DATABASE"
	}, 10*time.Second, 20*time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("BACKUP did not stop on ATTENTION")
	}
	assert.Less(t, time.Since(start), 30*time.Second)
	require.Eventually(t, func() bool {
		return len(e.queryRows("SELECT session_id FROM sys.dm_exec_requests")) == 0
	}, 5*time.Second, 20*time.Millisecond)
	assert.Empty(t, e.history("Slow"), "a cancelled backup is not in msdb")
	b, ok := e.blobs.Blob(container, "slow.bak")
	assert.True(t, !ok || len(b.Content) == 0)
	// The next backup of the same blob works (the cancelled one released its lease).
	e.mustExec("BACKUP DATABASE Slow TO URL = @p1 WITH FORMAT", e.url("slow.bak"))

	// RESTORE too: a cancelled full restore leaves the target RESTORING and unusable until
	// a full restore completes.
	e.in.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 1 << 20, Stall: time.Minute})
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		_, err := e.db.ExecContext(ctx, "RESTORE DATABASE SlowCopy FROM URL = @p1 WITH MOVE 'Slow' TO '/d/sc.mdf', MOVE 'Slow_log' TO '/d/sc.ldf'", e.url("slow.bak"))
		done <- err
	}()
	require.Eventually(t, func() bool {
		return len(e.queryRows("SELECT session_id FROM sys.dm_exec_requests WHERE command = 'RESTORE DATABASE'")) == 1
	}, 10*time.Second, 20*time.Millisecond)
	cancel()
	require.Error(t, <-done)
	assert.Equal(t, "RESTORING", e.state("SlowCopy"))
	_, err := e.db.Exec("RESTORE DATABASE SlowCopy WITH RECOVERY")
	// Microsoft's 4333: "The database cannot be recovered because the log was not restored."
	requireSQLError(t, err, 4333)
	e.mustExec("RESTORE DATABASE SlowCopy FROM URL = @p1 WITH MOVE 'Slow' TO '/d/sc.mdf', MOVE 'Slow_log' TO '/d/sc.ldf'", e.url("slow.bak"))
	assert.Equal(t, db.Digest(), e.dbByName("SlowCopy").Digest())
}
