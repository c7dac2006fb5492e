package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/memlimit"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/storetest"
)

// The speed-ups the benchmarks measure (stripes, blocks in flight, read-ahead, the VDI data
// path) must not change what is restored: every variant restores to the source's exact
// content digest.
func TestEveryMeasuredVariantRestoresExactly(t *testing.T) {
	h := newSimHost(t, "CHECKVM")
	h.enableVDI(t)
	src := h.createDB(t, "Check", 24*mib)
	_, err := src.Write(500)
	require.NoError(t, err)
	store, err := NewFileStore(t.TempDir())
	require.NoError(t, err)
	a := h.agent(t, store)
	ctx := context.Background()
	variants := []struct {
		name string
		req  BackupRequest
		ra   int
	}{
		{"product default (2 blocks in flight), 1 stripe", BackupRequest{Stripes: 1, Compress: true}, 0},
		{"product default, 3 stripes", BackupRequest{Stripes: 3, Compress: true}, 0},
		{"product default, no zstd", BackupRequest{Stripes: 1}, 0},
		{"1 block in flight (synchronous), 1 stripe", BackupRequest{Stripes: 1, Compress: true, InFlight: 1}, 0},
		{"4 blocks in flight, 1 stripe", BackupRequest{Stripes: 1, Compress: true, InFlight: 4}, 0},
		{"16 blocks in flight, 4 stripes", BackupRequest{Stripes: 4, Compress: true, InFlight: 16}, 0},
		{"read-ahead 4, 2 stripes", BackupRequest{Stripes: 2, Compress: true}, 4},
		{"no read-ahead, 2 stripes", BackupRequest{Stripes: 2, Compress: true}, -1},
		{"VDI path, product default, 1 stripe", BackupRequest{Stripes: 1, Compress: true, DataPath: "vdi"}, 0},
		{"VDI path, 3 stripes", BackupRequest{Stripes: 3, Compress: true, DataPath: "vdi"}, 0},
	}
	for i, v := range variants {
		v.req.Database, v.req.Type = "Check", protocol.Full
		res, err := a.Backup(ctx, v.req)
		require.NoError(t, err, v.name)
		assert.Len(t, res.Stripes, v.req.Stripes, v.name)
		assert.Equal(t, map[bool]string{true: "vdi", false: "url"}[v.req.DataPath == "vdi"], res.DataPath, v.name)
		m, err := a.Repo.Manifest(ctx, res.ItemID, res.PointID)
		require.NoError(t, err)
		require.NoError(t, a.Repo.DeepVerify(ctx, m, h.key), v.name)
		target := fmt.Sprintf("Check_%d", i)
		_, err = a.Restore(ctx, RestoreRequest{ItemID: res.ItemID, PointID: res.PointID, Target: target, ReadAhead: v.ra, DataPath: v.req.DataPath})
		require.NoError(t, err, v.name)
		assert.Equal(t, src.Digest(), h.db(t, target).Digest(), "%s restores exactly", v.name)
	}
}

// The bench-only no-encryption writer does the same compression as the product: the stored
// sizes differ by exactly the GCM tag per block.
func TestNoCryptWriterStoresWhatTheProductStoresMinusTags(t *testing.T) {
	h := newSimHost(t, "NOCRYPTVM")
	h.createDB(t, "Plain", 16*mib)
	a := h.agent(t, NewDiscardStore())
	ctx := context.Background()
	sealed, err := a.Backup(ctx, BackupRequest{Database: "Plain", Type: protocol.Full, Stripes: 1, Compress: true})
	require.NoError(t, err)
	plain, err := a.Backup(ctx, BackupRequest{Database: "Plain", Type: protocol.Full, Stripes: 1, Compress: true, NoEncrypt: true})
	require.NoError(t, err)
	// Two backups of one database differ only in the media header (GUIDs, times) of the
	// first block and its trailer.
	require.InDelta(t, float64(sealed.PlainBytes), float64(plain.PlainBytes), 64)
	blocks := int64(sealed.Stripes[0].Blocks)
	assert.InDelta(t, float64(sealed.StoredBytes-16*blocks), float64(plain.StoredBytes), 1024)
}

// A block the bench-only background writer (blocks in flight for the no-encryption variant)
// fails to store fails the commit, as the product's writer does (internal/vault tests).
func TestInFlightSinkFailureFailsCommit(t *testing.T) {
	store := &failingStore{Store: vault.NewMemStore(), failAt: 3}
	blob := vault.DataBlob(vault.ItemID("X", "y"), vault.NewPointID(planDay, "full", ""), 1, 1)
	s := NewInFlightSink(&NoCryptWriter{Store: store, Blob: blob, Compress: true}, 4)
	defer s.Close()
	ctx := context.Background()
	var ids []string
	for i := range 6 {
		id := fmt.Sprintf("QkxL%04d", i) // base64 of 3 bytes + 4 chars; any base64 works
		ids = append(ids, id)
		_ = s.PutBlock(ctx, id, make([]byte, 1<<16))
	}
	err := s.Commit(ctx, ids)
	require.ErrorIs(t, err, errInjected)
	_, err = store.BlockList(ctx, blob)
	assert.ErrorIs(t, err, vault.ErrNotFound, "nothing was committed")
}

var errInjected = errors.New("injected store failure")

type failingStore struct {
	vault.Store
	failAt int64
	n      atomic.Int64
}

func (f *failingStore) StageBlock(ctx context.Context, blob, id string, data []byte) error {
	if f.n.Add(1) == f.failAt {
		return errInjected
	}
	return f.Store.StageBlock(ctx, blob, id, data)
}

// The file store used for multi-GB restores keeps Azure's block-blob semantics.
func TestFileStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vault.Store {
		s, err := NewFileStore(t.TempDir())
		require.NoError(t, err)
		return s
	}, storetest.Options{})
}

// The agent's activities hold the memory budget for the stripes they stream: the limit rises
// by the per-stripe budget while a 3-stripe backup and its restore run, and comes back down.
func TestStreamsHoldTheMemoryBudget(t *testing.T) {
	h := newSimHost(t, "MEMLIMVM")
	src := h.createDB(t, "Budget", 12*mib)
	store, err := NewFileStore(t.TempDir())
	require.NoError(t, err)
	var mu sync.Mutex
	var limits []int64
	budget := memlimit.NewFunc(128, 32, func(n int64) int64 {
		mu.Lock()
		limits = append(limits, n)
		mu.Unlock()
		return 0
	})
	a, err := StartAgent(AgentConfig{Host: agentHost, Listen: h.endpointAddr(t), CertFile: h.certFile, KeyFile: h.keyFile,
		Instance: h.inst.ServerName(), DSN: h.dsn, Store: store, Key: h.key, Memory: budget})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	ctx := context.Background()
	const base, three = 128 << 20, (128 + 2*32) << 20

	res, err := a.Backup(ctx, BackupRequest{Database: "Budget", Type: protocol.Full, Stripes: 3, Compress: true})
	require.NoError(t, err)
	mu.Lock()
	assert.Equal(t, []int64{base, three, base}, limits, "raised for the backup's 3 stripes, then back")
	limits = nil
	mu.Unlock()

	_, err = a.Restore(ctx, RestoreRequest{ItemID: res.ItemID, PointID: res.PointID, Target: "Budget_r"})
	require.NoError(t, err)
	assert.Equal(t, src.Digest(), h.db(t, "Budget_r").Digest())
	mu.Lock()
	assert.Equal(t, []int64{three, base}, limits, "raised for the restore's 3 stripes, then back")
	mu.Unlock()
	assert.Equal(t, int64(base), budget.Limit())
}
