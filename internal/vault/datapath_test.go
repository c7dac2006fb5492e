package vault

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The data path on a recovery point: a URL point stores no dataPath key at all — so builds
// older than the field, which decode manifests strictly, still read every URL point — and a
// VDI point stores "vdi" and reads back; nothing else is a recorded data path.
func TestManifestDataPath(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	created := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)

	urlPoint := NewPointID(created, BackupFull, "url")
	info := f.writeStripe(t, DataBlob(f.item, urlPoint, 1, 0), pages(1, 4), true)
	require.NoError(t, f.repo.CommitManifest(ctx, f.manifest(urlPoint, created, info)))
	raw, err := f.store.Get(ctx, ManifestBlob(f.item, urlPoint))
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "dataPath", "a URL point is written as before the field")
	got, err := f.repo.Manifest(ctx, f.item, urlPoint)
	require.NoError(t, err)
	assert.Equal(t, "", got.DataPath)

	vdiPoint := NewPointID(created, BackupFull, "vdi")
	info = f.writeStripe(t, DataBlob(f.item, vdiPoint, 1, 0), pages(1, 4), true)
	m := f.manifest(vdiPoint, created, info)
	m.DataPath = DataPathVDI
	require.NoError(t, f.repo.CommitManifest(ctx, m))
	raw, err = f.store.Get(ctx, ManifestBlob(f.item, vdiPoint))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"dataPath": "vdi"`)
	got, err = f.repo.Manifest(ctx, f.item, vdiPoint)
	require.NoError(t, err)
	assert.Equal(t, DataPathVDI, got.DataPath)

	for _, bad := range []string{"url", "disk"} {
		m.DataPath = bad
		err := m.Validate()
		assert.ErrorIs(t, err, ErrInvalidManifest, bad)
		assert.Contains(t, err.Error(), "a URL point has no dataPath")
	}
}
