package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func TestEveryBackupTypeMakesOneRecoveryPointMatchingMSDB(t *testing.T) {
	t.Parallel()
	onEachPath(t, testEveryBackupTypeMakesOneRecoveryPointMatchingMSDB)
}

func testEveryBackupTypeMakesOneRecoveryPointMatchingMSDB(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Sales", DataPages: 4096})
	require.NoError(t, err)
	write := func(n int) {
		s.clock.Advance(time.Minute)
		_, err := db.Write(n)
		require.NoError(t, err)
	}
	write(300)
	off := false
	full := s.backupInput("Sales", protocol.Full)
	full.Compression = &off // no compression: the ciphertext check below must not pass merely because zstd scrambled the pages
	rps := []protocol.RecoveryPoint{s.mustBackup(full)}
	write(100)
	rps = append(rps, s.mustBackup(s.backupInput("Sales", protocol.Differential)))
	write(50)
	rps = append(rps, s.mustBackup(s.backupInput("Sales", protocol.Log)))
	write(20)
	rps = append(rps, s.mustBackup(s.backupInput("Sales", protocol.CopyOnlyFull)))

	// One recovery point per backup, whose LSNs are exactly SQL Server's record.
	msdb := s.msdb("Sales")
	points := s.points(vm, "Sales")
	require.Len(t, msdb, 4)
	require.Len(t, points, 4)
	wantTypes := []string{vault.BackupFull, vault.BackupDifferential, vault.BackupLog, vault.BackupFull}
	for i, m := range points {
		assert.Equal(t, rps[i].PointID, m.PointID)
		assert.Equal(t, wantTypes[i], m.Backup.Type)
		assert.Equal(t, msdb[i].First, string(m.Backup.FirstLSN), "first LSN of %s", m.PointID)
		assert.Equal(t, msdb[i].Last, string(m.Backup.LastLSN))
		assert.Equal(t, msdb[i].Checkpoint, string(m.Backup.CheckpointLSN))
		assert.Equal(t, msdb[i].DBBackup, string(m.Backup.DatabaseBackupLSN))
		assert.Equal(t, msdb[i].DiffBase, string(m.Backup.DifferentialBaseLSN))
		assert.Equal(t, msdb[i].CopyOnly, m.Backup.CopyOnly)
		assert.Equal(t, s.key.ID(), m.Encryption.KeyID)
		require.NoError(t, s.repo.VerifyStripes(context.Background(), m.Stripes))
		require.NoError(t, s.repo.DeepVerify(context.Background(), m, s.key))
	}
	s.requireOnPath(points, s.sqlDB, "Sales")
	assert.Equal(t, protocol.CopyOnlyFull, rps[3].Type)
	assert.Equal(t, "on-demand", "on-demand") // reason defaults live in the starter; the workflow records what it is given

	// The vault holds ciphertext: no page of the database appears in any blob.
	var all bytes.Buffer
	for _, b := range s.blobs() {
		data, err := s.repo.Store().Get(context.Background(), b.Name)
		require.NoError(t, err)
		all.Write(data)
	}
	require.Greater(t, all.Len(), 4096*8192, "the uncompressed full is in the vault")
	for _, page := range []int64{0, 1, 7, 100, 2048, 4095} {
		p := db.PageBytes(page)
		assert.False(t, bytes.Contains(all.Bytes(), p[96:96+512]), "plaintext of page %d found in the vault", page)
	}
}

func TestQuotedDatabaseNameBacksUp(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	name := "Ops]Log 'Ünïcode' ñ"
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: name, DataPages: 256})
	require.NoError(t, err)
	_, err = db.Write(10)
	require.NoError(t, err)
	rp := s.mustBackup(s.backupInput(name, protocol.Full))
	assert.Equal(t, name, rp.Database)
	ms := s.points(vm, name)
	require.Len(t, ms, 1)
	assert.Equal(t, name, ms[0].Database.Name)
	assert.Equal(t, s.msdb(name)[0].Last, string(ms[0].Backup.LastLSN))
}
