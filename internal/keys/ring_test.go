package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// world is a vault in memory with one protected database.
type world struct {
	store *vault.MemStore
	repo  *vault.Repository
	item  string
	n     int
}

func newWorld() *world {
	s := vault.NewMemStore()
	return &world{store: s, repo: vault.NewRepository(s, nil), item: vault.ItemID(`VM1\SQL2022`, "Sales")}
}

// keyFile writes a new key file in dir and returns its path and key.
func keyFile(t *testing.T, name string) (string, *blockcrypt.Key) {
	path := filepath.Join(t.TempDir(), name)
	k, err := blockcrypt.GenerateKeyFile(path)
	require.NoError(t, err)
	return path, k
}

// openFileKEK makes a new key file and opens it as the file provider's KEK.
func openFileKEK(t *testing.T, name string) *FileKEK {
	t.Helper()
	path, _ := keyFile(t, name)
	kek, err := OpenFileKEK(path)
	require.NoError(t, err)
	return kek
}

// backup seals a point the way the agent does (the ring's active key) and commits it; it
// returns the manifest and the plaintext.
func (w *world) backup(t *testing.T, src Source) (*vault.Manifest, []byte) {
	ctx := ctxT(t)
	w.n++
	key, err := src.Active(ctx)
	require.NoError(t, err)
	created := time.Date(2026, 12, 6, 10, w.n, 0, 0, time.UTC)
	pointID := vault.NewPointID(created, vault.BackupFull, fmt.Sprintf("p%d", w.n))
	plain := bytes.Repeat([]byte(fmt.Sprintf("SECRET-ROW-%03d|", w.n)), 3000)
	sw := w.repo.NewStripeWriter(vault.DataBlob(w.item, pointID, 1, 1), key, vault.StripeWriterOptions{Compress: true})
	defer sw.Close()
	require.NoError(t, sw.PutBlock(ctx, "YmxvY2sx", plain))
	info, err := sw.Commit(ctx, []string{"YmxvY2sx"})
	require.NoError(t, err)
	m := &vault.Manifest{
		Schema: vault.ManifestSchema, PointID: pointID, ItemID: w.item, CreatedAt: created,
		Server:   vault.ServerInfo{VM: "vm1", Instance: `VM1\SQL2022`, ServerName: `VM1\SQL2022`, ProductVersion: "16.0.4135.4", Edition: "Express"},
		Database: vault.DatabaseInfo{Name: "Sales", GUID: "6f1c1a2e-0000-4000-8000-000000000001", FamilyGUID: "6f1c1a2e-0000-4000-8000-000000000002", RecoveryModel: "FULL"},
		Backup: vault.BackupInfo{Type: vault.BackupFull, FirstLSN: "37000000012300001", LastLSN: "37000000012300099",
			CheckpointLSN: "37000000012300037", DatabaseBackupLSN: "0", BackupSetGUID: "b5e0a9d4-0000-4000-8000-000000000003",
			StartTime: created.Add(-time.Minute), FinishTime: created, SizeBytes: int64(len(plain))},
		Stripes:    []vault.StripeInfo{info},
		Encryption: vault.EncryptionInfo{Algorithm: vault.AlgorithmAES256GCM, KeyID: key.ID(), Compression: vault.CompressionZstd},
		Workflow:   vault.WorkflowRef{ID: "backup-sales", RunID: "run-1"},
	}
	require.NoError(t, w.repo.WithKeys(vault.Keys{key}).CommitManifest(ctx, m))
	return m, plain
}

// restore reads a point back the way the agent does: the key of the manifest's key id.
func (w *world) restore(t *testing.T, src Source, m *vault.Manifest) ([]byte, error) {
	ctx := ctxT(t)
	key, err := src.Key(ctx, m.Encryption.KeyID)
	if err != nil {
		return nil, err
	}
	sr, err := w.repo.OpenStripe(ctx, m.Stripes[0], key)
	if err != nil {
		return nil, err
	}
	defer sr.Close()
	var buf bytes.Buffer
	_, err = sr.WriteTo(ctx, &buf)
	return buf.Bytes(), err
}

func (w *world) mustRestore(t *testing.T, src Source, m *vault.Manifest, want []byte) {
	t.Helper()
	got, err := w.restore(t, src, m)
	require.NoError(t, err, "restore %s", m.PointID)
	require.True(t, bytes.Equal(want, got), "restore %s gives the point's bytes", m.PointID)
}

// etags lists every blob outside the keyring with its ETag: what a KEK rotation must not
// change.
func (w *world) etags(t *testing.T) map[string]string {
	out := map[string]string{}
	require.NoError(t, w.store.List(ctxT(t), "", func(b vault.BlobInfo) error {
		if !strings.HasPrefix(b.Name, vault.KeysPrefix) {
			out[b.Name] = b.ETag
		}
		return nil
	}))
	return out
}

func TestAVaultFromBeforeTheKeyringWorksUnchanged(t *testing.T) {
	w := newWorld()
	path, legacy := keyFile(t, "vault.key")
	old := Static(legacy) // how the agent sealed points before the keyring
	m1, p1 := w.backup(t, old)

	kek, err := OpenFileKEK(path)
	require.NoError(t, err)
	ring := NewRing(w.repo, kek, kek.DataKey())
	active, err := ring.Active(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, legacy.ID(), active.ID(), "with an empty keyring the key file stays the active data key")
	w.mustRestore(t, ring, m1, p1)
	m2, p2 := w.backup(t, ring)
	assert.Equal(t, legacy.ID(), m2.Encryption.KeyID)
	w.mustRestore(t, old, m2, p2) // and an agent of the previous build reads it

	var n int
	require.NoError(t, w.store.List(ctxT(t), vault.KeysPrefix, func(vault.BlobInfo) error { n++; return nil }))
	assert.Zero(t, n, "nothing is written to the keyring until key rotate")
}

func TestRotateNewPointsUseTheNewKeyOldPointsKeepTheirs(t *testing.T) {
	w := newWorld()
	path, legacy := keyFile(t, "vault.key")
	kek, err := OpenFileKEK(path)
	require.NoError(t, err)
	ring := NewRing(w.repo, kek, kek.DataKey())
	m1, p1 := w.backup(t, ring)

	rec, err := ring.Rotate(ctxT(t), path) // adopting the file KEK itself is skipped
	require.NoError(t, err)
	assert.NotEqual(t, legacy.ID(), rec.ID)
	assert.Equal(t, vault.KeyActive, rec.State)
	assert.Equal(t, "file:"+legacy.ID(), rec.KEK)
	m2, p2 := w.backup(t, ring)
	assert.Equal(t, rec.ID, m2.Encryption.KeyID, "new points are sealed with the new data key")

	rec2, err := ring.Rotate(ctxT(t))
	require.NoError(t, err)
	m3, p3 := w.backup(t, ring)
	assert.Equal(t, rec2.ID, m3.Encryption.KeyID)

	// Another process (an agent started now): nothing in memory, the KEK file only.
	fresh := NewRing(w.repo, kek, kek.DataKey())
	for _, c := range []struct {
		m *vault.Manifest
		p []byte
	}{{m1, p1}, {m2, p2}, {m3, p3}} {
		w.mustRestore(t, fresh, c.m, c.p)
	}
	first, err := w.repo.KeyRecord(ctxT(t), rec.ID)
	require.NoError(t, err)
	assert.Equal(t, vault.KeyRetired, first.State, "the rotated-out key is retired and still serves its points")

	st, err := fresh.Status(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, rec2.ID, st.Active)
	assert.Equal(t, 3, st.Points)
	byID := map[string]KeyStatus{}
	for _, k := range st.Keys {
		byID[k.ID] = k
	}
	assert.Equal(t, KeyStatus{ID: legacy.ID(), Source: SourceKeyFile, State: vault.KeyRetired, Points: 1, Usable: true}, byID[legacy.ID()])
	assert.Equal(t, 1, byID[rec.ID].Points)
	assert.Equal(t, vault.KeyRetired, byID[rec.ID].State)
	assert.True(t, byID[rec.ID].Usable)
	assert.Equal(t, 1, byID[rec2.ID].Points)
	assert.Equal(t, vault.KeyActive, byID[rec2.ID].State)
	assert.Equal(t, ProviderFile, st.KEK.Provider)
}

func TestTheKeyringHoldsNoKeyInClear(t *testing.T) {
	w := newWorld()
	kek := openFileKEK(t, "vault.key")
	ring := NewRing(w.repo, kek, kek.DataKey())
	rec, err := ring.Rotate(ctxT(t))
	require.NoError(t, err)
	data, err := w.store.Get(ctxT(t), vault.KeyRecordBlob(rec.ID))
	require.NoError(t, err)

	// The only way to the raw key is through the KEK: unwrap it and look for it.
	raw, err := kek.Unwrap(ctxT(t), rec.ID, Wrapped{KEK: rec.KEK, Algorithm: rec.Algorithm, Value: rec.Wrapped})
	require.NoError(t, err)
	for _, enc := range [][]byte{raw, []byte(base64.StdEncoding.EncodeToString(raw)), []byte(fmt.Sprintf("%x", raw))} {
		assert.False(t, bytes.Contains(data, enc), "the record must not hold the data key in any encoding")
	}
}

func TestLosingTheKEKIsNamedInEveryError(t *testing.T) {
	w := newWorld()
	path, _ := keyFile(t, "vault.key")
	kek, err := OpenFileKEK(path)
	require.NoError(t, err)
	ring := NewRing(w.repo, kek, kek.DataKey())
	rec, err := ring.Rotate(ctxT(t))
	require.NoError(t, err)
	m, _ := w.backup(t, ring)

	// The key file is gone.
	require.NoError(t, os.Remove(path))
	_, err = OpenFileKEK(path)
	require.ErrorIs(t, err, ErrKEKUnavailable)
	require.ErrorIs(t, err, blockcrypt.ErrKeyFileMissing)
	assert.Contains(t, err.Error(), "provider file")
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "What to do: put the vault key file back")

	// Another key file is configured: every key the keyring holds is out of reach, by name.
	other := openFileKEK(t, "other.key")
	wrong := NewRing(w.repo, other, other.DataKey())
	_, err = wrong.Active(ctxT(t))
	require.ErrorIs(t, err, ErrKEKUnavailable)
	assert.Contains(t, err.Error(), rec.KEK, "names the KEK the key needs")
	_, err = w.restore(t, wrong, m)
	require.ErrorIs(t, err, ErrKEKUnavailable)
	assert.Contains(t, err.Error(), "unwrap data key "+rec.ID)

	// The keyring is configured for Key Vault but was wrapped by a file.
	_, err = NewRing(w.repo, &AzureKEK{host: "x.vault.azure.net", display: "https://x.vault.azure.net/keys/k"}).Key(ctxT(t), rec.ID)
	require.ErrorIs(t, err, ErrKEKUnavailable)
	assert.Contains(t, err.Error(), "wrapped by the file provider")
}

func TestAnUnknownKeyIsNamed(t *testing.T) {
	w := newWorld()
	kek := openFileKEK(t, "vault.key")
	var err error
	_, err = NewRing(w.repo, kek).Key(ctxT(t), "0123456789abcdef")
	require.ErrorIs(t, err, ErrUnknownDataKey)
	assert.Contains(t, err.Error(), "0123456789abcdef")

	// No key file and an empty keyring: nothing to seal with, and the error says what to run.
	_, err = NewRing(w.repo, kek).Active(ctxT(t))
	require.ErrorIs(t, err, ErrNoDataKey)
	assert.Contains(t, err.Error(), "sqlvault key rotate")
}

func TestAnAlteredRecordIsRefused(t *testing.T) {
	w := newWorld()
	kek := openFileKEK(t, "vault.key")
	ring := NewRing(w.repo, kek, kek.DataKey())
	a, err := ring.Rotate(ctxT(t))
	require.NoError(t, err)
	b, err := ring.Rotate(ctxT(t))
	require.NoError(t, err)
	// Someone with write access to the storage account swaps the wrapped keys of two records.
	ra, rb := *a, *b
	ra.Wrapped, rb.Wrapped = b.Wrapped, a.Wrapped
	ra.State, rb.State = vault.KeyRetired, vault.KeyActive
	require.NoError(t, w.repo.PutKeyRecord(ctxT(t), &ra, false))
	require.NoError(t, w.repo.PutKeyRecord(ctxT(t), &rb, false))
	_, err = NewRing(w.repo, kek).Key(ctxT(t), a.ID)
	require.ErrorIs(t, err, ErrDataKeyMismatch)
	_, err = NewRing(w.repo, kek).Active(ctxT(t))
	require.ErrorIs(t, err, ErrDataKeyMismatch)
}

func TestRotateKEKFileRewrapsWithoutTouchingData(t *testing.T) {
	w := newWorld()
	oldPath, legacy := keyFile(t, "old.key")
	oldKEK, err := OpenFileKEK(oldPath)
	require.NoError(t, err)
	ring := NewRing(w.repo, oldKEK, oldKEK.DataKey())
	m1, p1 := w.backup(t, ring) // sealed with the key file itself (before the keyring)
	rec, err := ring.Rotate(ctxT(t))
	require.NoError(t, err)
	m2, p2 := w.backup(t, ring)
	before := w.etags(t)

	newPath, newKey := keyFile(t, "new.key")
	newKEK, err := OpenFileKEK(newPath)
	require.NoError(t, err)
	report, err := NewRing(w.repo, newKEK, newKEK.DataKey()).RotateKEK(ctxT(t), oldKEK, oldPath)
	require.NoError(t, err)
	assert.Equal(t, []RewrapEntry{
		{ID: rec.ID, From: "file:" + legacy.ID(), To: "file:" + newKey.ID(), Action: "rewrapped"},
		{ID: legacy.ID(), To: "file:" + newKey.ID(), Action: "adopted"},
	}, report)
	assert.Equal(t, before, w.etags(t), "no data, index or manifest blob was written")

	// A process with only the new key file reads every point, the old key file's included.
	fresh := NewRing(w.repo, newKEK, newKEK.DataKey())
	w.mustRestore(t, fresh, m1, p1)
	w.mustRestore(t, fresh, m2, p2)
	active, err := fresh.Active(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, rec.ID, active.ID(), "the active data key is unchanged by a KEK rotation")
	adopted, err := w.repo.KeyRecord(ctxT(t), legacy.ID())
	require.NoError(t, err)
	assert.Equal(t, vault.KeyRetired, adopted.State)
	assert.Equal(t, OriginKeyFile, adopted.Origin)

	// Running it again changes nothing.
	again, err := NewRing(w.repo, newKEK, newKEK.DataKey()).RotateKEK(ctxT(t), oldKEK, oldPath)
	require.NoError(t, err)
	for _, e := range again {
		assert.Equal(t, "already current", e.Action, e.ID)
	}
	// The old key file no longer opens the keyring.
	_, err = w.restore(t, NewRing(w.repo, oldKEK), m2)
	require.ErrorIs(t, err, ErrKEKUnavailable)
}

func TestRotateKEKOfAVaultThatNeverRotatedKeepsItsActiveKey(t *testing.T) {
	w := newWorld()
	oldPath, legacy := keyFile(t, "old.key")
	oldKEK, err := OpenFileKEK(oldPath)
	require.NoError(t, err)
	m1, p1 := w.backup(t, NewRing(w.repo, oldKEK, oldKEK.DataKey()))
	newKEK := openFileKEK(t, "new.key")
	_, err = NewRing(w.repo, newKEK, newKEK.DataKey()).RotateKEK(ctxT(t), oldKEK, oldPath)
	require.NoError(t, err)
	fresh := NewRing(w.repo, newKEK, newKEK.DataKey())
	active, err := fresh.Active(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, legacy.ID(), active.ID(), "the old key file was the active data key and stays so, now from the keyring")
	w.mustRestore(t, fresh, m1, p1)
}
