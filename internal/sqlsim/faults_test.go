package sqlsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

func TestStreamFaults(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "F", DataPages: 512})
	e.write(db, time.Second, 5)

	// Fail after N bytes: SQL Server's device error, nothing committed, no history.
	e.in.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 1 << 20, Fail: true})
	_, err := e.db.Exec("BACKUP DATABASE F TO URL = @p1", e.url("f1.bak"))
	requireSQLError(t, err, 3202)
	assert.Empty(t, e.history("F"))
	// The fault was used up: the retry succeeds.
	e.mustExec("BACKUP DATABASE F TO URL = @p1 WITH FORMAT", e.url("f1.bak"))

	// Stall: the statement pauses and then completes.
	e.in.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 1 << 20, Stall: 300 * time.Millisecond})
	start := time.Now()
	e.mustExec("BACKUP DATABASE F TO URL = @p1 WITH COPY_ONLY", e.url("f2.bak"))
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)

	// Faults apply to RESTORE reads too, and a failed restore leaves the target RESTORING.
	e.in.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 1 << 20, Fail: true})
	_, err = e.db.Exec("RESTORE DATABASE F2 FROM URL = @p1 WITH MOVE 'F' TO '/d/f2.mdf', MOVE 'F_log' TO '/d/f2.ldf'", e.url("f1.bak"))
	requireSQLError(t, err, 3203)
	assert.Equal(t, "RESTORING", e.state("F2"))
}

func TestConnectionAndLoginFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	conn, err := e.db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.PingContext(ctx))
	assert.GreaterOrEqual(t, e.in.DropConnections(), 1)
	_, err = conn.ExecContext(ctx, "SELECT 1")
	require.Error(t, err, "a dropped connection fails its next call")
	// The pool reconnects.
	e.mustExec("SELECT 1")

	e.in.RefuseLogins(true)
	fresh := e.connect("sa", saPass)
	requireSQLError(t, fresh.Ping(), 18456)
	e.in.RefuseLogins(false)
	require.NoError(t, fresh.Ping())

	// Revoking sysadmin: the same login loses the permission the product needs.
	var member int
	require.NoError(t, e.db.QueryRow("SELECT IS_SRVROLEMEMBER('sysadmin')").Scan(&member))
	assert.Equal(t, 1, member)
	require.NoError(t, e.in.SetSysadmin("sa", false))
	require.NoError(t, e.db.QueryRow("SELECT IS_SRVROLEMEMBER('sysadmin')").Scan(&member))
	assert.Equal(t, 0, member)
	e.createDB(sqlsim.DatabaseSpec{Name: "G", DataPages: 16})
	_, err = e.db.Exec("BACKUP DATABASE G TO URL = @p1", e.url("g.bak"))
	requireSQLError(t, err, 262)
}

func TestCheckDBReportsCorruption(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "C", DataPages: 16})
	infos, err := e.messages(context.Background(), "DBCC CHECKDB (N'C')")
	require.NoError(t, err)
	assert.Equal(t, []int32{8989}, infoNumbers(infos))
	infos, err = e.messages(context.Background(), "DBCC CHECKDB (N'C') WITH NO_INFOMSGS")
	require.NoError(t, err)
	assert.Empty(t, infos)
	db.Corrupt(7)
	_, err = e.db.Exec("DBCC CHECKDB (N'C') WITH NO_INFOMSGS")
	requireSQLError(t, err, 8928)
}

// A damaged page travels in a full backup taken after it (its checksum is valid, so BACKUP
// WITH CHECKSUM copies it): a copy restored from that backup fails DBCC CHECKDB, the
// source of a restore drill's failure. A copy restored from a backup taken before the damage
// passes.
func TestCorruptPageTravelsInLaterBackups(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "C", DataPages: 16})
	_, err := e.db.Exec("BACKUP DATABASE C TO URL = @p1 WITH CHECKSUM", e.url("clean.bak"))
	require.NoError(t, err)
	db.Corrupt(7)
	_, err = e.db.Exec("BACKUP DATABASE C TO URL = @p1 WITH CHECKSUM", e.url("damaged.bak"))
	require.NoError(t, err)

	_, err = e.db.Exec("RESTORE DATABASE C_damaged FROM URL = @p1 WITH MOVE 'C' TO 'C:\\d\\c2.mdf', MOVE 'C_log' TO 'C:\\d\\c2.ldf'", e.url("damaged.bak"))
	require.NoError(t, err)
	_, err = e.db.Exec("DBCC CHECKDB (N'C_damaged') WITH NO_INFOMSGS")
	requireSQLError(t, err, 8928)

	_, err = e.db.Exec("RESTORE DATABASE C_clean FROM URL = @p1 WITH MOVE 'C' TO 'C:\\d\\c3.mdf', MOVE 'C_log' TO 'C:\\d\\c3.ldf'", e.url("clean.bak"))
	require.NoError(t, err)
	_, err = e.db.Exec("DBCC CHECKDB (N'C_clean') WITH NO_INFOMSGS")
	require.NoError(t, err)
}
