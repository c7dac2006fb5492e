package sqlsim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecoveryForks: a restore that recovers starts a new recovery fork ("Recovery Paths",
// SQL Server documentation); msdb records the forks of every backup and the fork point of
// the first log backup after it (backupset first_recovery_fork_guid, last_recovery_fork_guid,
// fork_point_lsn; RESTORE HEADERONLY FirstRecoveryForkID, RecoveryForkID, ForkPointLSN); a
// log of the old fork is refused after the new fork's log and vice versa (4330); a restore
// that creates a database gives it a new database_guid.
func TestRecoveryForks(t *testing.T) {
	e := newEnv(t)
	f := e.buildChain("Fk")
	mv := func(n string) string {
		return fmt.Sprintf("MOVE 'Fk' TO '/d/%s.mdf', MOVE 'Fk_log' TO '/d/%s.ldf'", n, n)
	}
	forkOf := func(db string) string {
		rows := e.queryRows(`SELECT CAST(rs.recovery_fork_guid AS nvarchar(36)) AS fork, CAST(rs.database_guid AS nvarchar(36)) AS guid
			FROM sys.database_recovery_status rs JOIN sys.databases d ON d.database_id = rs.database_id WHERE d.name = @p1`, db)
		require.Len(t, rows, 1)
		return rows[0]["fork"].(string)
	}
	oldFork := forkOf("Fk")
	oldEnd := f.src.DigestAt(f.tL3).String() // the overwrite below replaces the database's history
	for _, r := range e.queryRows(`SELECT CAST(first_recovery_fork_guid AS nvarchar(36)) AS ff, CAST(last_recovery_fork_guid AS nvarchar(36)) AS lf,
		fork_point_lsn FROM msdb.dbo.backupset WHERE database_name = 'Fk'`) {
		assert.Equal(t, oldFork, r["ff"])
		assert.Equal(t, oldFork, r["lf"])
		assert.Nil(t, r["fork_point_lsn"])
	}

	// Restore log1 over the database and recover: a new fork at log1's last LSN.
	e.clock.Advance(time.Minute)
	e.mustExec("RESTORE DATABASE Fk FROM URL = @p1 WITH NORECOVERY, REPLACE", e.url("Fk_full.bak"))
	e.mustExec("RESTORE LOG Fk FROM URL = @p1 WITH RECOVERY", e.url("Fk_log1.trn"))
	newFork := forkOf("Fk")
	require.NotEqual(t, oldFork, newFork)
	e.write(e.dbByName("Fk"), time.Minute, 500)
	e.clock.Advance(time.Second)
	e.mustExec("BACKUP LOG Fk TO URL = @p1", e.url("Fk_log4.trn"))
	log1Last := f.lastLSN[e.url("Fk_log1.trn")]
	rows := e.queryRows(`SELECT CAST(first_recovery_fork_guid AS nvarchar(36)) AS ff, CAST(last_recovery_fork_guid AS nvarchar(36)) AS lf,
		CAST(fork_point_lsn AS nvarchar(40)) AS fp, CAST(first_lsn AS nvarchar(40)) AS fl FROM msdb.dbo.backupset
		WHERE database_name = 'Fk' AND type = 'L' ORDER BY backup_set_id DESC`)
	assert.Equal(t, oldFork, rows[0]["ff"])
	assert.Equal(t, newFork, rows[0]["lf"])
	assert.Equal(t, log1Last, rows[0]["fp"], "the fork point is where the restore recovered")
	assert.Equal(t, log1Last, rows[0]["fl"])
	h := e.queryRows("RESTORE HEADERONLY FROM URL = @p1", e.url("Fk_log4.trn"))
	require.Len(t, h, 1)
	assert.Equal(t, log1Last, fmt.Sprint(h[0]["ForkPointLSN"]))
	// The next log is all on the new fork.
	e.write(e.dbByName("Fk"), time.Minute, 5)
	e.mustExec("BACKUP LOG Fk TO URL = @p1", e.url("Fk_log5.trn"))
	rows = e.queryRows(`SELECT CAST(first_recovery_fork_guid AS nvarchar(36)) AS ff, fork_point_lsn FROM msdb.dbo.backupset
		WHERE database_name = 'Fk' ORDER BY backup_set_id DESC`)
	assert.Equal(t, newFork, rows[0]["ff"])
	assert.Nil(t, rows[0]["fork_point_lsn"])

	// Old fork's log2 after the new fork's log4: another recovery path.
	e.mustExec("RESTORE DATABASE A FROM URL = @p1 WITH NORECOVERY, "+mv("A"), e.url("Fk_full.bak"))
	e.mustExec("RESTORE LOG A FROM URL = @p1 WITH NORECOVERY", e.url("Fk_log1.trn"))
	e.mustExec("RESTORE LOG A FROM URL = @p1 WITH NORECOVERY", e.url("Fk_log4.trn"))
	_, err := e.db.Exec("RESTORE LOG A FROM URL = @p1 WITH NORECOVERY", e.url("Fk_log2.trn"))
	requireSQLError(t, err, 4326) // log2 ends before where log4 brought the data, by LSN
	e.mustExec("RESTORE LOG A FROM URL = @p1 WITH RECOVERY", e.url("Fk_log5.trn"))
	assert.Equal(t, e.dbByName("Fk").Digest().String(), e.dbByName("A").Digest().String(), "full → log1 → log4 → log5 is the new timeline")

	// New fork's log4 after the old fork's log2: LSNs overlap, the fork does not.
	e.mustExec("RESTORE DATABASE B FROM URL = @p1 WITH NORECOVERY, "+mv("B"), e.url("Fk_full.bak"))
	e.mustExec("RESTORE LOG B FROM URL = @p1 WITH NORECOVERY", e.url("Fk_log1.trn"))
	e.mustExec("RESTORE LOG B FROM URL = @p1 WITH NORECOVERY", e.url("Fk_log2.trn"))
	_, err = e.db.Exec("RESTORE LOG B FROM URL = @p1 WITH NORECOVERY", e.url("Fk_log4.trn"))
	requireSQLError(t, err, 4330)
	e.mustExec("RESTORE LOG B FROM URL = @p1 WITH RECOVERY", e.url("Fk_log3.trn"))
	assert.Equal(t, oldEnd, e.dbByName("B").Digest().String(), "the old timeline stays restorable")

	// A restore that creates a database gives it a new GUID (sys.database_recovery_status).
	guids := e.queryRows(`SELECT d.name, CAST(rs.database_guid AS nvarchar(36)) AS guid FROM sys.database_recovery_status rs
		JOIN sys.databases d ON d.database_id = rs.database_id WHERE d.name IN ('Fk', 'A', 'B')`)
	require.Len(t, guids, 3)
	seen := map[any]bool{}
	for _, g := range guids {
		assert.False(t, seen[g["guid"]], "database_guid %v repeats", g["guid"])
		seen[g["guid"]] = true
	}

	// restorehistory dates the fork's start for the product (restore_date of the last step).
	rh := e.queryRows(`SELECT MAX(restore_date) AS d FROM msdb.dbo.restorehistory WHERE destination_database_name = @p1 AND restore_date <= @p2`,
		"Fk", e.clock.Now())
	require.Len(t, rh, 1)
	assert.NotNil(t, rh[0]["d"])
}
