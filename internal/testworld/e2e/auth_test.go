package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Someone with write access to the storage account (Azurite here) and no key changes a
// recovery point; sqlvault.Restore refuses it by name (VaultObjectUnauthenticated) and the
// target database is left exactly as it was. Two ways: the manifest's LSNs edited (its MAC
// kept: the attacker cannot compute one), and the stripe's blocks reordered with the index
// rewritten to match (sizes and totals recomputed). Put back, the same restore succeeds.
func TestRestoreRefusesATamperedPointInAzurite(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	f := s.buildChain("Auth")
	ctx := context.Background()
	store := s.repo.Store()
	item := vault.ItemID(vm, "Auth")
	full := f.points[0]

	// The target exists, restored from the full: a refused restore must leave it alone.
	res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Auth", PointID: full.PointID, TargetDatabase: "Auth_target"})
	require.NoError(t, err)
	require.Equal(t, "ONLINE", res.State)
	target := s.db("Auth_target")
	before := target.Digest()
	overwrite := protocol.RestoreInput{Instance: vm, Database: "Auth", PointID: full.PointID, TargetDatabase: "Auth_target", Overwrite: true}
	refused := func(what string) {
		t.Helper()
		_, err := s.restore(overwrite)
		require.Error(t, err, what)
		assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%s: %v", what, err)
		db := s.db("Auth_target")
		assert.Equal(t, "ONLINE", db.State(), "%s: the target is untouched", what)
		assert.Equal(t, before, db.Digest(), "%s: the target is untouched", what)
	}

	name := vault.ManifestBlob(item, full.PointID)
	original, err := store.Get(ctx, name)
	require.NoError(t, err)
	var md map[string]string
	require.NoError(t, store.List(ctx, name, func(b vault.BlobInfo) error { md = b.Metadata; return nil }))
	require.NotEmpty(t, md[vault.SummaryAuthMetadataKey], "the backup authenticated its summary")

	// 1. The manifest's last LSN edited in place, everything else (its MAC, its summary) kept.
	last := []byte(`"lastLsn": "` + full.LastLSN + `"`)
	require.Equal(t, 1, bytes.Count(original, last))
	edited := bytes.Replace(original, last, []byte(`"lastLsn": "`+full.LastLSN+`0"`), 1)
	require.NoError(t, store.Put(ctx, name, edited, vault.PutOptions{Metadata: md}))
	refused("manifest LSN edited")
	require.NoError(t, store.Put(ctx, name, original, vault.PutOptions{Metadata: md}))

	// 2. Two blocks of the full's longest stripe swapped, the index rewritten to match.
	m, err := s.repo.Manifest(ctx, item, full.PointID)
	require.NoError(t, err)
	stripe := m.Stripes[0]
	for _, st := range m.Stripes {
		if st.Blocks > stripe.Blocks {
			stripe = st
		}
	}
	require.GreaterOrEqual(t, stripe.Blocks, 2, "a stripe of two blocks or more")
	blocks, err := store.BlockList(ctx, stripe.Blob)
	require.NoError(t, err)
	ids := make([]string, len(blocks))
	for i, b := range blocks {
		ids[i] = b.ID
	}
	swapped := append([]string{ids[1], ids[0]}, ids[2:]...)
	require.NoError(t, store.CommitBlocks(ctx, stripe.Blob, swapped, vault.CommitOptions{}))
	indexBytes, err := store.Get(ctx, stripe.Index)
	require.NoError(t, err)
	var idx map[string]any
	require.NoError(t, json.Unmarshal(indexBytes, &idx))
	list := idx["blocks"].([]any)
	list[0], list[1] = list[1], list[0]
	forged, err := json.Marshal(idx)
	require.NoError(t, err)
	require.NoError(t, store.Put(ctx, stripe.Index, forged, vault.PutOptions{}))
	refused("blocks reordered, index rewritten")

	// Put back: the same restore succeeds (the refusals were about the tampering).
	require.NoError(t, store.CommitBlocks(ctx, stripe.Blob, ids, vault.CommitOptions{}))
	require.NoError(t, store.Put(ctx, stripe.Index, indexBytes, vault.PutOptions{}))
	res, err = s.restore(overwrite)
	require.NoError(t, err)
	assert.Equal(t, "ONLINE", res.State)
	assert.Equal(t, before, s.db("Auth_target").Digest())
}
