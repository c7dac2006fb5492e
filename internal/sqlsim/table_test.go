package sqlsim_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableDigest is the acceptance suite's workload digest, which real SQL Server computes too.
func tableDigest(t *testing.T, db *sql.DB, database string) string {
	t.Helper()
	var n int64
	var sum sql.NullInt32
	require.NoError(t, db.QueryRow(fmt.Sprintf("SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(*)) FROM [%s].dbo.[work]", database)).Scan(&n, &sum))
	return fmt.Sprintf("%d/%d/%v", n, sum.Int32, sum.Valid)
}

// TestUserTablesTravelWithBackupAndRestore: rows written with INSERT between backups come
// back after a restore exactly as of the restored point: a full, a differential, a log,
// and an instant inside a log (STOPAT) — including when the backups are restored into a
// database of another name.
func TestUserTablesTravelWithBackupAndRestore(t *testing.T) {
	e := newEnv(t)
	e.mustExec("CREATE DATABASE Shop")
	e.mustExec("ALTER DATABASE Shop SET RECOVERY FULL")
	e.mustExec("CREATE TABLE Shop.dbo.[work] (id int NOT NULL PRIMARY KEY, step int NOT NULL, payload nvarchar(40) NULL)")
	next := 0
	insert := func(step, rows int) string {
		for range rows {
			next++
			e.clock.Advance(time.Second)
			e.mustExec("INSERT INTO Shop.dbo.[work] (id, step, payload) VALUES (@p1, @p2, @p3)", next, step, fmt.Sprintf("row %d of step %d", next, step))
		}
		e.clock.Advance(time.Second)
		return tableDigest(t, e.db, "Shop")
	}
	empty := tableDigest(t, e.db, "Shop")
	assert.Equal(t, "0/0/false", empty, "CHECKSUM_AGG over no row is NULL")
	d1 := insert(1, 3)
	e.mustExec("BACKUP DATABASE Shop TO URL = @p1", e.url("shop_full.bak"))
	d2 := insert(2, 2)
	e.mustExec("BACKUP DATABASE Shop TO URL = @p1 WITH DIFFERENTIAL", e.url("shop_diff.bak"))
	d3 := insert(3, 2)
	at3 := e.clock.Now()
	d4 := insert(4, 2)
	e.mustExec("BACKUP LOG Shop TO URL = @p1", e.url("shop_log.trn"))
	d5 := insert(5, 1)
	require.Len(t, map[string]bool{empty: true, d1: true, d2: true, d3: true, d4: true, d5: true}, 6, "every step changes the digest")

	e.mustExec("RESTORE DATABASE Shop_full FROM URL = @p1 WITH MOVE 'Shop' TO '/var/opt/mssql/data/Shop_full.mdf', MOVE 'Shop_log' TO '/var/opt/mssql/data/Shop_full_log.ldf'", e.url("shop_full.bak"))
	assert.Equal(t, d1, tableDigest(t, e.db, "Shop_full"))

	move := func(name string) string {
		return fmt.Sprintf("MOVE 'Shop' TO '/var/opt/mssql/data/%s.mdf', MOVE 'Shop_log' TO '/var/opt/mssql/data/%s_log.ldf'", name, name)
	}
	e.mustExec("RESTORE DATABASE Shop_diff FROM URL = @p1 WITH NORECOVERY, "+move("Shop_diff"), e.url("shop_full.bak"))
	_, err := e.db.Query("SELECT COUNT(*) FROM Shop_diff.dbo.[work]")
	requireSQLError(t, err, 927)
	e.mustExec("RESTORE DATABASE Shop_diff FROM URL = @p1 WITH RECOVERY", e.url("shop_diff.bak"))
	assert.Equal(t, d2, tableDigest(t, e.db, "Shop_diff"))

	e.mustExec("RESTORE DATABASE Shop_log FROM URL = @p1 WITH NORECOVERY, "+move("Shop_log"), e.url("shop_full.bak"))
	e.mustExec("RESTORE DATABASE Shop_log FROM URL = @p1 WITH NORECOVERY", e.url("shop_diff.bak"))
	e.mustExec("RESTORE LOG Shop_log FROM URL = @p1 WITH RECOVERY", e.url("shop_log.trn"))
	assert.Equal(t, d4, tableDigest(t, e.db, "Shop_log"))

	e.mustExec("RESTORE DATABASE Shop_pit FROM URL = @p1 WITH NORECOVERY, "+move("Shop_pit"), e.url("shop_full.bak"))
	e.mustExec("RESTORE LOG Shop_pit FROM URL = @p1 WITH RECOVERY, STOPAT = @p2", e.url("shop_log.trn"), at3)
	assert.Equal(t, d3, tableDigest(t, e.db, "Shop_pit"), "the rows as of the instant: step 3 in, step 4 out")
	assert.Equal(t, d5, tableDigest(t, e.db, "Shop"), "the source is untouched")

	// A restored copy is a database like any other: it takes writes of its own.
	e.mustExec("INSERT INTO Shop_pit.dbo.[work] VALUES (100, 9, NULL)")
	assert.NotEqual(t, d3, tableDigest(t, e.db, "Shop_pit"))
}

// TestUserTableErrors: SQL Server's answers to the mistakes a workload script can make.
func TestUserTableErrors(t *testing.T) {
	e := newEnv(t)
	e.mustExec("CREATE DATABASE T1")
	e.mustExec("CREATE TABLE T1.dbo.t (id int PRIMARY KEY, name nvarchar(5) NOT NULL, n bigint)")
	for _, c := range []struct {
		q    string
		want int32
	}{
		{"CREATE TABLE T1.dbo.t (a int)", 2714},
		{"CREATE TABLE T1.dbo.u (a int, A int)", 2705},
		{"CREATE TABLE T1.other.u (a int)", 2760},
		{"CREATE TABLE Nope.dbo.u (a int)", 911},
		{"INSERT INTO T1.dbo.nope VALUES (1)", 208},
		{"INSERT INTO T1.dbo.t (id, nope) VALUES (1, 'x')", 207},
		{"INSERT INTO T1.dbo.t VALUES (1, 'x')", 109},
		{"INSERT INTO T1.dbo.t (id, name) VALUES (1, 'x', 2)", 110},
		{"INSERT INTO T1.dbo.t (id, name) VALUES (1, NULL)", 515},
		{"INSERT INTO T1.dbo.t (id, name) VALUES (1, 'toolong')", 2628},
		{"INSERT INTO T1.dbo.t (id, name) VALUES ('x', 'a')", 245},
		{"CREATE TABLE T1.dbo.v (a xml)", 40000},
	} {
		_, err := e.db.Exec(c.q)
		requireSQLError(t, err, c.want)
	}
	e.mustExec("INSERT INTO T1.dbo.t (id, name) VALUES (1, 'a'), (2, 'b')")
	_, err := e.db.Exec("INSERT INTO T1.dbo.t (id, name) VALUES (3, 'c'), (2, 'd')")
	requireSQLError(t, err, 2627)
	var n int
	require.NoError(t, e.db.QueryRow("SELECT COUNT(*) FROM T1.dbo.t").Scan(&n))
	assert.Equal(t, 2, n, "a failed INSERT adds no row")
	// Rows affected, as SQL Server reports them.
	res, err := e.db.Exec("INSERT INTO T1.dbo.t (id, name, n) VALUES (3, N'c', 30), (4, N'd', NULL)")
	require.NoError(t, err)
	affected, err := res.RowsAffected()
	require.NoError(t, err)
	assert.EqualValues(t, 2, affected)
	// A read-only database refuses writes.
	e.mustExec("ALTER DATABASE T1 SET READ_ONLY")
	_, err = e.db.Exec("INSERT INTO T1.dbo.t (id, name) VALUES (9, 'z')")
	requireSQLError(t, err, 3906)
}

// Concurrent INSERTs of the same key: exactly one wins, the others get 2627.
func TestUserTableConcurrentInsertsKeepTheKey(t *testing.T) {
	e := newEnv(t)
	e.mustExec("CREATE DATABASE C1")
	e.mustExec("CREATE TABLE C1.dbo.t (id int PRIMARY KEY)")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := e.db.Exec("INSERT INTO C1.dbo.t VALUES (1)")
			errs <- err
		}()
	}
	ok := 0
	for range 8 {
		if err := <-errs; err == nil {
			ok++
		} else {
			requireSQLError(t, err, 2627)
		}
	}
	assert.Equal(t, 1, ok)
}
