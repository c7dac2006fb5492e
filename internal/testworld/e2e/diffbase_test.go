package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// TestDifferentialOfADatabaseRestoredFromACopyOnlyFull: after the source is restored over
// itself from a copy-only full, its differential base is that backup, which no restore
// pairs a differential with (found by the restore property test, seed
// 1796550822568099714: the overwrite restore to such a differential failed with "no full in
// the vault has it"). sqlvault no longer stores such a differential: an on-demand one is
// refused by name before SQL Server backs up anything, a scheduled one (AutoFull) is taken
// as a full; after that full, differentials are taken again and restore exactly.
func TestDifferentialOfADatabaseRestoredFromACopyOnlyFull(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Based", DataPages: 256})
	require.NoError(t, err)
	write := func(n int) {
		s.clock.Advance(time.Minute)
		_, err := db.Write(n)
		require.NoError(t, err)
	}
	backup := func(in protocol.BackupInput) (protocol.RecoveryPoint, error) {
		s.clock.Advance(time.Second)
		return s.backup(in)
	}
	write(20)
	_, err = backup(s.backupInput("Based", protocol.Full))
	require.NoError(t, err)
	write(10)
	copyOnly, err := backup(s.backupInput("Based", protocol.CopyOnlyFull))
	require.NoError(t, err)
	write(10)
	d1, err := backup(s.backupInput("Based", protocol.Differential))
	require.NoError(t, err, "based on the scheduled full")
	require.Equal(t, protocol.Differential, d1.Type)

	s.clock.Advance(time.Minute)
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Based", PointID: copyOnly.PointID, Overwrite: true})
	require.NoError(t, err)
	write(10)

	// On demand: refused by name, and nothing is stored.
	before := len(s.points(vm, "Based"))
	in := s.backupInput("Based", protocol.Differential)
	run := s.start(in)
	err = run.Get(t.Context(), nil)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrNoDifferentialBase, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "restored from a copy-only full")
	assert.Contains(t, err.Error(), "take a full backup first")
	assert.Len(t, s.points(vm, "Based"), before, "no point stored")
	s.record("backup-differential-base-not-in-vault", s.history(run.GetID(), run.GetRunID()))

	// Scheduled: a full instead, saying why.
	auto := s.backupInput("Based", protocol.Differential)
	auto.AutoFull = true
	f2, err := backup(auto)
	require.NoError(t, err)
	assert.Equal(t, protocol.Full, f2.Type)
	assert.Contains(t, f2.Reason, "differential base")

	// From that full on, differentials again, and they restore exactly.
	write(10)
	d2, err := backup(s.backupInput("Based", protocol.Differential))
	require.NoError(t, err)
	require.Equal(t, protocol.Differential, d2.Type)
	want, err := db.DigestAtLSN(d2.LastLSN)
	require.NoError(t, err)
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Based", PointID: d2.PointID, TargetDatabase: "Based_d2"})
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Based_d2").Digest())
}
