package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedStore counts concurrent StageBlock calls and can hold them until released, or fail
// the stage of one block id.
type gatedStore struct {
	Store
	gate     chan struct{} // nil: no gating; else each StageBlock waits for a token
	failID   string        // vault block id whose stage fails
	inFlight atomic.Int32
	peak     atomic.Int32
}

func (g *gatedStore) StageBlock(ctx context.Context, blob, id string, data []byte) error {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if id == g.failID {
		return fmt.Errorf("injected: %w", ErrUnavailable)
	}
	return g.Store.StageBlock(ctx, blob, id, data)
}

func readStripe(t *testing.T, repo *Repository, f *fixture, info StripeInfo) []byte {
	t.Helper()
	sr, err := repo.OpenStripe(ctxT(t), info, f.key)
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = sr.WriteTo(ctxT(t), &buf)
	require.NoError(t, err)
	return buf.Bytes()
}

// The same blocks, put in a shuffled order and concurrently, give the same stripe (same
// digest, same plaintext) whether they are staged synchronously or with blocks in flight.
func TestBlocksInFlightWriteTheSameStripe(t *testing.T) {
	blocks := pages(40, 7)
	var want []byte
	for _, b := range blocks {
		want = append(want, b...)
	}
	var digests []string
	point := NewPointID(time.Now(), BackupFull, "inflight") // one place: the digest (index MAC) binds it
	for _, n := range []int{1, 2, 4, 16} {
		t.Run(fmt.Sprintf("inflight=%d", n), func(t *testing.T) {
			f := newFixture(t)
			ctx := ctxT(t)
			blob := DataBlob(f.item, point, 1, 0)
			g := &gatedStore{Store: f.store}
			repo := NewRepository(g, nil)
			w := repo.NewStripeWriter(blob, f.key, StripeWriterOptions{Compress: true, BlocksInFlight: n})
			defer w.Close()
			var wg sync.WaitGroup
			errs := make([]error, len(blocks))
			for i := range blocks {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = w.PutBlock(ctx, clientID(i), blocks[i]) }()
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			ids := make([]string, len(blocks))
			for i := range ids {
				ids[i] = clientID(i)
			}
			info, err := w.Commit(ctx, ids)
			require.NoError(t, err)
			assert.Equal(t, len(blocks), info.Blocks)
			assert.Equal(t, want, readStripe(t, repo, f, info))
			if n > 1 { // synchronous puts stage as concurrently as their callers call
				assert.LessOrEqual(t, int(g.peak.Load()), n, "never more stages at once than blocks in flight")
			}
			digests = append(digests, info.Digest)
		})
	}
	for _, d := range digests[1:] {
		assert.Equal(t, digests[0], d, "every setting yields the same stripe digest")
	}
}

// PutBlock returns before its block is staged; the number of puts answered but not yet
// staged never exceeds BlocksInFlight, and Commit waits for all of them.
func TestBlocksInFlightAreBoundedAndCommitWaits(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blob := DataBlob(f.item, NewPointID(time.Now(), BackupFull, "b"), 1, 0)
	g := &gatedStore{Store: f.store, gate: make(chan struct{})}
	w := NewRepository(g, nil).NewStripeWriter(blob, f.key, StripeWriterOptions{BlocksInFlight: 3})
	defer w.Close()
	for i := range 3 {
		require.NoError(t, w.PutBlock(ctx, clientID(i), []byte{byte(i)}), "answered while the store holds every stage")
	}
	fourth := make(chan error, 1)
	go func() { fourth <- w.PutBlock(ctx, clientID(3), []byte{3}) }()
	select {
	case err := <-fourth:
		t.Fatalf("a fourth block was accepted with 3 in flight and none staged (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	committed := make(chan error, 1)
	go func() {
		_, err := w.Commit(ctx, []string{clientID(0), clientID(1), clientID(2), clientID(3)})
		committed <- err
	}()
	g.gate <- struct{}{} // one stage finishes: the fourth block gets its slot
	require.NoError(t, <-fourth)
	select {
	case err := <-committed:
		t.Fatalf("Commit returned (%v) with blocks still staging", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(g.gate)
	require.NoError(t, <-committed)
	_, _, n := w.Stats()
	assert.Equal(t, 4, n)
}

// A block that fails in the background fails the Commit with ErrStripeFailed, and every put
// after it, and the stripe is never committed: no data blob, no index.
func TestBlocksInFlightFailureFailsTheStripe(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blob := DataBlob(f.item, NewPointID(time.Now(), BackupFull, "x"), 1, 0)
	g := &gatedStore{Store: f.store, failID: vaultBlockID(clientID(2))}
	w := NewRepository(g, nil).NewStripeWriter(blob, f.key, StripeWriterOptions{Compress: true, BlocksInFlight: 2})
	defer w.Close()
	ids := make([]string, 6)
	var putErr error
	for i := range ids {
		ids[i] = clientID(i)
		if err := w.PutBlock(ctx, ids[i], bytes.Repeat([]byte{byte(i)}, 4096)); err != nil && putErr == nil {
			putErr = err
		}
	}
	_, err := w.Commit(ctx, ids)
	require.ErrorIs(t, err, ErrStripeFailed)
	assert.ErrorIs(t, err, ErrUnavailable, "the cause is kept")
	assert.ErrorIs(t, w.PutBlock(ctx, ids[0], []byte("again")), ErrStripeFailed, "the failure is sticky")
	if putErr != nil {
		assert.ErrorIs(t, putErr, ErrStripeFailed)
	}
	_, err = f.store.BlockList(ctx, blob)
	assert.ErrorIs(t, err, ErrNotFound, "no block list was committed")
	_, err = f.store.Get(ctx, IndexBlob(blob))
	assert.ErrorIs(t, err, ErrNotFound, "no index was written")
}

// Re-puts of one id take effect in call order even when the earlier put is still staging:
// the data SQL Server sent last is what the stripe holds.
func TestBlocksInFlightRePutLastWins(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blob := DataBlob(f.item, NewPointID(time.Now(), BackupLog, "r"), 1, 0)
	g := &gatedStore{Store: f.store, gate: make(chan struct{})}
	repo := NewRepository(g, nil)
	w := repo.NewStripeWriter(blob, f.key, StripeWriterOptions{BlocksInFlight: 4})
	defer w.Close()
	require.NoError(t, w.PutBlock(ctx, "A", []byte("first version of A")))
	require.NoError(t, w.PutBlock(ctx, "B", []byte("b")))
	require.NoError(t, w.PutBlock(ctx, "A", []byte("a")))
	close(g.gate)
	info, err := w.Commit(ctx, []string{"A", "B"})
	require.NoError(t, err)
	assert.Equal(t, "ab", string(readStripe(t, repo, f, info)))
	plain, _, n := w.Stats()
	assert.Equal(t, int64(2), plain)
	assert.Equal(t, 2, n)
}

// Close cancels stages still running and waits for them; the writer refuses work after it.
func TestStripeWriterCloseCancelsBackgroundPuts(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blob := DataBlob(f.item, NewPointID(time.Now(), BackupFull, "c"), 1, 0)
	g := &gatedStore{Store: f.store, gate: make(chan struct{})} // never opened
	w := NewRepository(g, nil).NewStripeWriter(blob, f.key, StripeWriterOptions{BlocksInFlight: 2})
	require.NoError(t, w.PutBlock(ctx, "A", []byte("a")))
	require.NoError(t, w.PutBlock(ctx, "B", []byte("b")))
	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not cancel the stages it was waiting for")
	}
	assert.Zero(t, g.inFlight.Load(), "no stage outlives Close")
	assert.ErrorIs(t, w.PutBlock(ctx, "C", []byte("c")), ErrWriterClosed)
	_, err := w.Commit(ctx, []string{"A", "B"})
	assert.Error(t, err)

	sync := NewRepository(f.store, nil).NewStripeWriter(blob+"s", f.key, StripeWriterOptions{})
	sync.Close()
	assert.ErrorIs(t, sync.PutBlock(ctx, "A", []byte("a")), ErrWriterClosed)
}
