package agent

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/domain"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// The agent checks a scheduled log backup against the chain state the control side passed
// (it has no vault here, so it can read nothing else), and the check now compares the
// database's GUID: after the database was dropped and restored as new from the same full,
// SQL Server's LSNs still continue the vault's chain, but it is another incarnation, and
// its logs must start from a full of their own.
func TestPrepareBackupLogAfterARestoreThatChangedTheDatabaseGUIDBreaksTheChain(t *testing.T) {
	a, inst, env := simAgent(t)
	_, err := inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Sales", DataPages: 64})
	require.NoError(t, err)
	db, err := sql.Open("sqlserver", inst.DSN("sa", "Sim-Passw0rd", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	path := t.TempDir() + "/sales.bak"
	_, err = db.Exec("BACKUP DATABASE [Sales] TO DISK = @p1", path)
	require.NoError(t, err)
	ctx := context.Background()
	conn := a.Instances[0].Conn
	full, err := conn.LatestBackupSet(ctx, "Sales", "D", false)
	require.NoError(t, err)
	require.NotNil(t, full)

	prepare := func() protocol.PrepareBackupResult {
		t.Helper()
		res, err := prepareAgainstVault(t, env, full, protocol.Log, true)
		require.NoError(t, err)
		return res
	}
	res := prepare()
	assert.Equal(t, protocol.Log, res.Type, "the log continues the vault's full: %s", res.Reason)

	_, err = db.Exec("DROP DATABASE [Sales]")
	require.NoError(t, err)
	_, err = db.Exec("RESTORE DATABASE [Sales] FROM DISK = @p1 WITH RECOVERY", path)
	require.NoError(t, err)
	live, err := conn.Database(ctx, "Sales")
	require.NoError(t, err)
	require.NotEmpty(t, live.GUID)
	require.NotEqual(t, full.DatabaseGUID, live.GUID, "restored as new: a new GUID")
	require.NotEmpty(t, live.LastLogBackupLSN, "the restored database has a log chain")
	byLSN := domain.ChainState{BaseEndLSN: domain.LSN(full.LastLSN)}
	require.True(t, byLSN.LogContinues(domain.LSN(live.LastLogBackupLSN)), "by LSNs alone the log would continue")

	res = prepare()
	assert.Equal(t, protocol.Full, res.Type)
	assert.Contains(t, res.Reason, "another incarnation")
	assert.Contains(t, res.Reason, live.GUID)
}

// A database restored over itself from a copy-only full has that backup's checkpoint as its
// differential base: a differential of it would name a base no restore pairs it with (the
// planner never bases a differential on a copy-only full), so it could never be restored.
// msdb's newest full is still the vault's, so only the database's own base
// (sys.master_files.differential_base_lsn) tells. A scheduled differential becomes a full;
// an on-demand one is refused by name. After a restore from the vault's scheduled full, the
// base is that full again and differentials are taken.
func TestPrepareBackupDifferentialWhoseBaseIsNoFullInTheVault(t *testing.T) {
	a, inst, env := simAgent(t)
	_, err := inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Sales", DataPages: 64})
	require.NoError(t, err)
	db, err := sql.Open("sqlserver", inst.DSN("sa", "Sim-Passw0rd", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	dir := t.TempDir()
	_, err = db.Exec("BACKUP DATABASE [Sales] TO DISK = @p1", dir+"/full.bak")
	require.NoError(t, err)
	_, err = db.Exec("BACKUP DATABASE [Sales] TO DISK = @p1 WITH COPY_ONLY", dir+"/copy.bak")
	require.NoError(t, err)
	ctx := context.Background()
	conn := a.Instances[0].Conn
	full, err := conn.LatestBackupSet(ctx, "Sales", "D", false)
	require.NoError(t, err)
	require.NotNil(t, full)

	// The vault holds the scheduled full (and the copy-only one, which is no base).
	prepare := func(autoFull bool) (protocol.PrepareBackupResult, error) {
		t.Helper()
		return prepareAgainstVault(t, env, full, protocol.Differential, autoFull)
	}
	res, err := prepare(true)
	require.NoError(t, err)
	assert.Equal(t, protocol.Differential, res.Type, "based on the vault's full: %s", res.Reason)
	_, err = prepare(false)
	require.NoError(t, err)

	_, err = db.Exec("RESTORE DATABASE [Sales] FROM DISK = @p1 WITH REPLACE, RECOVERY", dir+"/copy.bak")
	require.NoError(t, err)
	live, err := conn.Database(ctx, "Sales")
	require.NoError(t, err)
	require.NotEqual(t, full.CheckpointLSN, live.DifferentialBaseLSN, "the copy-only full's checkpoint is the base now")
	require.NotEmpty(t, live.DifferentialBaseLSN)

	res, err = prepare(true)
	require.NoError(t, err)
	assert.Equal(t, protocol.Full, res.Type)
	assert.Contains(t, res.Reason, "differential base (checkpoint LSN "+live.DifferentialBaseLSN+") is no full backup in the vault")
	_, err = prepare(false)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrNoDifferentialBase, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "take a full backup first")

	_, err = db.Exec("RESTORE DATABASE [Sales] FROM DISK = @p1 WITH REPLACE, RECOVERY", dir+"/full.bak")
	require.NoError(t, err)
	res, err = prepare(true)
	require.NoError(t, err)
	assert.Equal(t, protocol.Differential, res.Type, "restored from the vault's full, whose checkpoint is the base again: %s", res.Reason)
}

// prepareAgainstVault runs PrepareBackup of Sales on SQLVM1 for typ with the chain state the
// control side would pass when the vault holds full (a scheduled full, as msdb recorded it)
// and nothing after it.
func prepareAgainstVault(t *testing.T, env *testsuite.TestActivityEnvironment, full *sqlserver.BackupSet, typ protocol.BackupType,
	autoFull bool) (protocol.PrepareBackupResult, error) {
	t.Helper()
	v, err := env.ExecuteActivity(protocol.ActivityPrepareBackup, protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Sales",
		Type: protocol.Full})
	require.NoError(t, err)
	var first protocol.PrepareBackupResult
	require.NoError(t, v.Get(&first))
	chain := &protocol.ChainState{ItemID: first.ItemID, DatabaseGUID: full.DatabaseGUID, NewestFullID: "20261126T000000Z-full-0123456789",
		NewestFullStart: full.Start, BaseEndLSN: full.LastLSN, BackupSetGUIDs: []string{full.BackupSetGUID},
		BaseCheckpointLSNs: []string{full.CheckpointLSN}}
	v, err = env.ExecuteActivity(protocol.ActivityPrepareBackup, protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Sales",
		Type: typ, AutoFull: autoFull, Chain: chain})
	var res protocol.PrepareBackupResult
	if err == nil {
		require.NoError(t, v.Get(&res))
	}
	return res, err
}
