package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// A restore keeps one integrity check per byte, the GCM tag of each block (the vault's
// stripe reader no longer hashes the plaintext): a block tampered with in the vault still
// fails the restore step, by name (VaultObjectUnauthenticated: retrying cannot fix it) with
// the reader's reason, and once the byte is flipped back the same point restores. Run on the URL path here and on the VDI
// path in tamper_vdi_linux_test.go.
func TestRestoreRefusesATamperedBlockOnTheURLPath(t *testing.T) {
	tamperedBlockIsRefused(t, newUnitWorld(t), datapath.URL)
}

func tamperedBlockIsRefused(t *testing.T, w *unitWorld, path datapath.Kind) {
	t.Helper()
	// 2000 pages (16 MiB) make a stripe of several 4 MiB blocks: the tampered one is a
	// middle block, past what FILELISTONLY reads, so it is the RESTORE that meets it.
	w.create(t, sqlsim.DatabaseSpec{Name: "Ledger", DataPages: 2000, Seed: 11})
	stream, full := w.backup(t, "Ledger", protocol.Full, time.Now().UTC().Truncate(time.Second))
	require.Equal(t, string(path), stream.DataPath, "the backup took the path under test")
	require.Len(t, stream.Stripes, 1)
	s := stream.Stripes[0]
	require.GreaterOrEqual(t, s.Blocks, 3, "the stripe has a middle block")

	// The middle block's stored range, from the stripe's index.
	store := w.repo.Store().(*vault.MemStore)
	data, err := store.Get(t.Context(), s.Index)
	require.NoError(t, err)
	var idx struct {
		Blocks []struct{ Stored int64 } `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(data, &idx))
	mid := len(idx.Blocks) / 2
	var at int64
	for _, b := range idx.Blocks[:mid] {
		at += b.Stored
	}
	at += idx.Blocks[mid].Stored / 2
	flip := func(b []byte) []byte { b[at] ^= 0x01; return b }
	require.NoError(t, store.Tamper(s.Blob, flip))

	var plan protocol.RestorePlan
	require.NoError(t, w.run(t, &plan, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Ledger", PointID: full.PointID}))
	require.Len(t, plan.Steps, 1)
	step := plan.Steps[0]
	err = w.run(t, nil, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: "Ledger_copy",
		ItemID: plan.ItemID, Step: step, Relocate: true})
	require.Error(t, err, "a tampered block fails the restore")
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), "failed authentication", "the GCM tag refused the block")

	// Flipped back, the same point restores (over what the failed step left: REPLACE).
	require.NoError(t, store.Tamper(s.Blob, flip))
	require.NoError(t, w.run(t, nil, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: "Ledger_copy",
		ItemID: plan.ItemID, Step: step, Replace: true, Relocate: true}), "the untampered point restores")
	var state string
	require.NoError(t, w.run(t, &state, protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: "SQLVM1", TargetDatabase: "Ledger_copy"}))
	assert.Equal(t, "ONLINE", state)
	src, _ := w.inst.Database("Ledger")
	got, ok := w.inst.Database("Ledger_copy")
	require.True(t, ok)
	assert.Equal(t, src.Digest(), got.Digest(), "restored exactly")
}
