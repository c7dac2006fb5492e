package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// TestBrokenChainTakesAFullWithTheReason: a scheduled (autoFull) log or differential backup
// that finds its chain broken takes a full instead and records why on the recovery point;
// an on-demand one fails with the named error instead.
func TestBrokenChainTakesAFullWithTheReason(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Chain", DataPages: 64})
	require.NoError(t, err)
	step := func() {
		s.clock.Advance(time.Minute)
		_, err := db.Write(3)
		require.NoError(t, err)
	}
	scheduled := func(typ protocol.BackupType) protocol.RecoveryPoint {
		in := s.backupInput("Chain", typ)
		in.AutoFull, in.Reason = true, "schedule"
		return s.mustBackup(in)
	}
	// No full in the vault yet: the first scheduled log is a full.
	step()
	rp := scheduled(protocol.Log)
	assert.Equal(t, protocol.Full, rp.Type)
	assert.Contains(t, rp.Reason, "no full backup of this database is in the vault yet")
	step()
	in := s.backupInput("Chain", protocol.Log)
	in.AutoFull, in.Reason = true, "schedule"
	run := s.start(in)
	var res protocol.BackupResult
	require.NoError(t, run.Get(context.Background(), &res))
	rp = res.RecoveryPoint
	assert.Equal(t, protocol.Log, rp.Type, "an intact chain takes the log")
	assert.Equal(t, "schedule", rp.Reason)
	record(t, "backup-scheduled-log", s.history(run.GetID(), run.GetRunID()))

	// Recovery model switched to SIMPLE and back.
	_, err = s.sqlDB.Exec("ALTER DATABASE [Chain] SET RECOVERY SIMPLE; ALTER DATABASE [Chain] SET RECOVERY FULL")
	require.NoError(t, err)
	step()
	_, err = s.backup(s.backupInput("Chain", protocol.Log))
	assert.Equal(t, protocol.ErrNoLogChain, protocol.ErrorType(err), "on demand: the named error, not a surprise full")
	rp = scheduled(protocol.Log)
	assert.Equal(t, protocol.Full, rp.Type)
	assert.Contains(t, rp.Reason, "switched to SIMPLE and back")

	// A log backup taken by another tool.
	step()
	scheduled(protocol.Log)
	step()
	path := t.TempDir() + "/other.trn"
	_, err = s.sqlDB.Exec("BACKUP LOG [Chain] TO DISK = @p1", path)
	require.NoError(t, err)
	step()
	rp = scheduled(protocol.Log)
	assert.Equal(t, protocol.Full, rp.Type)
	assert.Contains(t, rp.Reason, "a log backup taken by another tool (to "+path+")")
	step()
	assert.Equal(t, protocol.Log, scheduled(protocol.Log).Type, "the new full restarted the chain")

	// A full taken by another tool moves the differential base.
	_, err = s.sqlDB.Exec("BACKUP DATABASE [Chain] TO DISK = @p1", t.TempDir()+"/other.bak")
	require.NoError(t, err)
	step()
	rp = scheduled(protocol.Differential)
	assert.Equal(t, protocol.Full, rp.Type)
	assert.Contains(t, rp.Reason, "moved the differential base")
	step()
	assert.Equal(t, protocol.Differential, scheduled(protocol.Differential).Type)

	// The reasons are on the recovery points in the vault, and every point still restores.
	ms := s.points(vm, "Chain")
	reasons := 0
	for _, m := range ms {
		if m.Reason != "schedule" {
			reasons++
		}
	}
	assert.Equal(t, 4, reasons)
	last := ms[len(ms)-1]
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Chain", PointID: last.PointID, TargetDatabase: "Chain_copy"})
	require.NoError(t, err)
	want, err := db.DigestAtLSN(string(last.Backup.LastLSN))
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Chain_copy").Digest())
}
