package grant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// One Azurite for the package; a missing Azurite fails it (testenv says "run make tools").
// Azurite enforces a SAS's permissions per operation and, for sr=b, per blob
// (OperationBlobSASPermission): what these tests prove is the service's refusal, not ours.
var az *testenv.Azurite

func TestMain(m *testing.M) {
	a, stop, err := testenv.StartAzurite(testenv.AzuriteOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "grant tests need Azurite:", err)
		os.Exit(1)
	}
	az = a
	code := m.Run()
	stop()
	os.Exit(code)
}

var seq atomic.Int64

const item = "i0123456789abcdef01234567"

// world is a container with the control side's store (account key) and a minter.
type world struct {
	admin  *azstore.Store
	minter *Minter
	key    *blockcrypt.Key
}

func newWorld(t *testing.T) world {
	t.Helper()
	admin, err := azstore.New(context.Background(), azstore.Config{AccountURL: az.BlobEndpoint,
		Container: fmt.Sprintf("g%d-%d", time.Now().UnixNano()%1e9, seq.Add(1)),
		SharedKey: &azstore.SharedKey{Account: az.Account, Key: az.Key}, CreateContainer: true, MaxRetries: 1})
	require.NoError(t, err)
	key, err := blockcrypt.NewKey(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	return world{admin: admin, minter: &Minter{Signer: admin, Key: key}, key: key}
}

// agentStore mints a grant for op and opens it the way the agent does: unsealed for the
// same operation and points, then a store of its blobs only.
func (w world) agentStore(t *testing.T, op string, points, blobs []string, valid time.Duration) *azstore.Store {
	t.Helper()
	sealed, err := w.minter.Mint(op, item, points, blobs, valid)
	require.NoError(t, err)
	g, err := Open(w.key, sealed, op, item, points, time.Now())
	require.NoError(t, err)
	s, err := g.Store(context.Background())
	require.NoError(t, err)
	return s
}

// misuse is a store that sends other's token for name: what an agent that tries to stretch
// its grant to another blob can do. Only the service stands in its way.
func (w world) misuse(t *testing.T, op string, points []string, own, name string) *azstore.Store {
	t.Helper()
	sealed, err := w.minter.Mint(op, item, points, []string{own}, time.Hour)
	require.NoError(t, err)
	g, err := Open(w.key, sealed, op, item, points, time.Now())
	require.NoError(t, err)
	s, err := azstore.New(context.Background(), azstore.Config{AccountURL: az.BlobEndpoint, Container: containerOf(g),
		BlobSAS: map[string]string{name: g.Blobs[own]}, GrantExpiry: g.Expiry, MaxRetries: 1})
	require.NoError(t, err)
	return s
}

func containerOf(g Grant) string {
	u := g.ContainerURL
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == '/' {
			return u[i+1:]
		}
	}
	return u
}

// commitPoint writes a committed point's stripe and manifest with the account key.
func (w world) commitPoint(t *testing.T, point string) (data, manifest string) {
	t.Helper()
	ctx := context.Background()
	data = vault.DataBlob(item, point, 1, 1)
	require.NoError(t, w.admin.StageBlock(ctx, data, "YmxvY2sx", []byte("old point's bytes")))
	require.NoError(t, w.admin.CommitBlocks(ctx, data, []string{"YmxvY2sx"}, vault.CommitOptions{}))
	manifest = vault.ManifestBlob(item, point)
	require.NoError(t, w.admin.Put(ctx, manifest, []byte(`{"point":"`+point+`"}`), vault.PutOptions{}))
	return data, manifest
}

const (
	oldPoint = "20261201T000000Z-full-old0000001"
	newPoint = "20261206T120000Z-full-new0000001"
)

// (a) The stream writes its own point's stripes through the vault's writer, and reads them
// back (the index a retry adopts).
func TestBackupGrantWritesThePointsOwnBlobs(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s := w.agentStore(t, protocol.GrantBackup, []string{newPoint}, BackupBlobs(item, newPoint, 2, 3), time.Hour)
	repo := vault.NewRepository(s, zap.NewNop()).WithKeys(vault.Keys{w.key}) // as the agent's keys authenticate what it reads
	blob := vault.DataBlob(item, newPoint, 2, 2)
	sw := repo.NewStripeWriter(blob, w.key, vault.StripeWriterOptions{Compress: true})
	defer sw.Close()
	require.NoError(t, sw.PutBlock(ctx, "b1", bytes.Repeat([]byte("page"), 4096)))
	info, err := sw.Commit(ctx, []string{"b1"})
	require.NoError(t, err)
	again, err := repo.StripeInfo(ctx, blob)
	require.NoError(t, err, "a retry reads its earlier attempt's index")
	assert.Equal(t, info.Digest, again.Digest)
	// And the control side sees it committed.
	_, err = w.admin.Props(ctx, blob)
	require.NoError(t, err)
	_, err = w.admin.Props(ctx, vault.IndexBlob(blob))
	require.NoError(t, err)
}

// (b) No delete: not of the point's own blobs (the token has no d), not of another's.
func TestGrantCannotDelete(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	oldData, oldManifest := w.commitPoint(t, oldPoint)
	own := vault.DataBlob(item, newPoint, 1, 1)
	s := w.agentStore(t, protocol.GrantBackup, []string{newPoint}, BackupBlobs(item, newPoint, 1, 1), time.Hour)
	require.NoError(t, s.Put(ctx, own, []byte("x"), vault.PutOptions{}))

	err := s.Delete(ctx, own)
	requireRefused(t, err, "AuthorizationPermissionMismatch")
	for _, victim := range []string{oldData, oldManifest} {
		err := w.misuse(t, protocol.GrantBackup, []string{newPoint}, own, victim).Delete(ctx, victim)
		requireRefused(t, err, "AuthorizationFailure")
		_, err = w.admin.Props(ctx, victim)
		require.NoError(t, err, "%s is still there", victim)
	}
	_, err = w.admin.Props(ctx, own)
	require.NoError(t, err)
	// The store itself never sends a token for a blob its grant does not name.
	require.ErrorIs(t, s.Delete(ctx, oldData), azstore.ErrNotGranted)
}

// (c) A committed point's blobs cannot be replaced: not by Put Blob, not by Put Block and
// Put Block List, not its manifest.
func TestGrantCannotReplaceACommittedPointsBlobs(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	oldData, oldManifest := w.commitPoint(t, oldPoint)
	own := vault.DataBlob(item, newPoint, 1, 1)
	for _, victim := range []string{oldData, oldManifest} {
		s := w.misuse(t, protocol.GrantBackup, []string{newPoint}, own, victim)
		requireRefused(t, s.Put(ctx, victim, []byte("ransom"), vault.PutOptions{}), "AuthorizationFailure")
		requireRefused(t, s.StageBlock(ctx, victim, "YmxvY2sy", []byte("ransom")), "AuthorizationFailure")
		requireRefused(t, s.CommitBlocks(ctx, victim, []string{"YmxvY2sx"}, vault.CommitOptions{}), "AuthorizationFailure")
	}
	got, err := w.admin.Get(ctx, oldData)
	require.NoError(t, err)
	assert.Equal(t, "old point's bytes", string(got))
	got, err = w.admin.Get(ctx, oldManifest)
	require.NoError(t, err)
	assert.Equal(t, `{"point":"`+oldPoint+`"}`, string(got))
}

// (d) A restore grant reads its points only: another point's blobs are refused, and so is
// any write or listing.
func TestRestoreGrantReadsItsPointOnly(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	oldData, _ := w.commitPoint(t, oldPoint)
	newData, newManifest := w.commitPoint(t, newPoint)
	s := w.agentStore(t, protocol.GrantRestore, []string{newPoint}, []string{newManifest, newData}, time.Hour)
	got, err := s.Get(ctx, newData)
	require.NoError(t, err)
	assert.Equal(t, "old point's bytes", string(got))
	requireRefused(t, s.Put(ctx, newData, []byte("x"), vault.PutOptions{}), "AuthorizationPermissionMismatch")
	require.ErrorIs(t, s.List(ctx, vault.ItemsPrefix, func(vault.BlobInfo) error { return nil }), azstore.ErrNotGranted)

	_, err = w.misuse(t, protocol.GrantRestore, []string{newPoint}, newData, oldData).Get(ctx, oldData)
	requireRefused(t, err, "AuthorizationFailure")
	_, err = s.Get(ctx, oldData)
	require.ErrorIs(t, err, azstore.ErrNotGranted)
}

// (e) An expired grant fails by name, with what to do: at Open, and in a store whose grant
// runs out while it is in use (the service refuses the token too).
func TestExpiredGrantFailsByName(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	own := vault.DataBlob(item, newPoint, 1, 1)
	blobs := BackupBlobs(item, newPoint, 1, 1)
	s := w.agentStore(t, protocol.GrantBackup, []string{newPoint}, blobs, 2*time.Second)
	require.NoError(t, s.Put(ctx, own, []byte("x"), vault.PutOptions{}))
	time.Sleep(2500 * time.Millisecond)
	err := s.Put(ctx, own, []byte("y"), vault.PutOptions{})
	require.ErrorIs(t, err, azstore.ErrGrantExpired)
	require.ErrorIs(t, err, vault.ErrAuth)
	assert.Contains(t, err.Error(), "start the backup or restore again")

	sealed, err := w.minter.Mint(protocol.GrantBackup, item, []string{newPoint}, blobs, time.Second)
	require.NoError(t, err)
	_, err = Open(w.key, sealed, protocol.GrantBackup, item, []string{newPoint}, time.Now().Add(2*time.Second))
	require.ErrorIs(t, err, ErrExpired)
	assert.Contains(t, err.Error(), "mints a new grant")

	// The service agrees: the token itself no longer works, whatever the client believes.
	g, err := Open(w.key, sealed, protocol.GrantBackup, item, []string{newPoint}, time.Now())
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond)
	raw, err := azstore.New(ctx, azstore.Config{AccountURL: az.BlobEndpoint, Container: containerOf(g), BlobSAS: g.Blobs, MaxRetries: 1})
	require.NoError(t, err)
	requireRefused(t, raw.Put(ctx, own, []byte("z"), vault.PutOptions{}), "AuthorizationFailure")
}

// A grant opens only for the operation, item and points it was sealed for, and only with
// the key that sealed it; workflow history holds the sealed bytes only.
func TestGrantIsBoundToItsStep(t *testing.T) {
	w := newWorld(t)
	points := []string{newPoint}
	sealed, err := w.minter.Mint(protocol.GrantBackup, item, points, BackupBlobs(item, newPoint, 1, 1), time.Hour)
	require.NoError(t, err)
	g, err := Open(w.key, sealed, protocol.GrantBackup, item, points, time.Now())
	require.NoError(t, err)
	for _, tok := range g.Blobs {
		assert.NotContains(t, string(sealed.Sealed), tok)
		assert.Contains(t, tok, "sr=b")
		assert.Contains(t, tok, "sp=rcw")
	}
	assert.NotContains(t, fmt.Sprint(g), "sig=")
	_, err = Open(w.key, sealed, protocol.GrantBackup, item, []string{oldPoint}, time.Now())
	require.ErrorIs(t, err, ErrMismatch)
	_, err = Open(w.key, sealed, protocol.GrantRestore, item, points, time.Now())
	require.ErrorIs(t, err, ErrMismatch)
	other, err := blockcrypt.NewKey(bytes.Repeat([]byte{8}, 32))
	require.NoError(t, err)
	_, err = Open(other, sealed, protocol.GrantBackup, item, points, time.Now())
	require.ErrorIs(t, err, ErrWrongKey)
}

// requireRefused: the service said 403 with code, typed as vault.ErrAuth.
func requireRefused(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, vault.ErrAuth, "%v", err)
	var ae *azstore.Error
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, 403, ae.Status, "%v", err)
	assert.Equal(t, code, ae.Code, "%v", err)
}
