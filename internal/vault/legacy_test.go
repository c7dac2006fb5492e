package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeV1Stripe writes a stripe as a build before authenticated indexes did: a v1 index
// with a plaintext SHA-256 per block and a stripe digest over them, no place and no MAC.
// (The frames are sealed exactly as they always were.)
func (f *fixture) writeV1Stripe(t *testing.T, blob string, blocks [][]byte, compress bool) StripeInfo {
	t.Helper()
	info := f.writeStripe(t, blob, blocks, compress)
	ctx := context.Background()
	data, err := f.store.Get(ctx, info.Index)
	require.NoError(t, err)
	var idx stripeIndex
	require.NoError(t, json.Unmarshal(data, &idx))
	idx.Schema, idx.ItemID, idx.PointID, idx.Stripe, idx.MAC = IndexSchemaV1, "", "", 0, ""
	for i := range idx.Blocks {
		sum := sha256.Sum256(blocks[i])
		idx.Blocks[i].SHA256 = hex.EncodeToString(sum[:])
	}
	idx.Digest, err = stripeDigest(idx.Blocks)
	require.NoError(t, err)
	data, err = json.Marshal(idx)
	require.NoError(t, err)
	require.NoError(t, f.store.Put(ctx, info.Index, data, PutOptions{}))
	info.IndexSHA256, info.Digest = sha256Hex(data), idx.Digest
	return info
}

// putLegacy commits m as a build before authenticated manifests did: the bare manifest
// JSON, with its (unauthenticated) summary as metadata.
func (f *fixture) putLegacy(t *testing.T, m *Manifest) {
	t.Helper()
	require.NoError(t, m.Validate())
	data, err := encodeManifest(m)
	require.NoError(t, err)
	require.NoError(t, f.store.Put(context.Background(), ManifestBlob(m.ItemID, m.PointID), data,
		PutOptions{IfNoneMatch: true, Metadata: SummaryMetadata(m)}))
}
