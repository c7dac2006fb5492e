package vault

import (
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

func TestItemLeaseExcludesReleasesAndExpires(t *testing.T) {
	ctx := context.Background()
	mem := NewMemStore()
	r := NewRepository(mem, nil)
	item := ItemID("SQLVM1", "Sales")
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

	a, err := r.AcquireItemLease(ctx, item, "retention", now, 10*time.Minute)
	require.NoError(t, err)
	_, err = r.AcquireItemLease(ctx, item, "commit", now.Add(time.Minute), 10*time.Minute)
	require.ErrorIs(t, err, ErrItemBusy)
	assert.Contains(t, err.Error(), "retention")
	require.NoError(t, a.Release(ctx))
	require.NoError(t, a.Release(ctx), "twice is fine")

	b, err := r.AcquireItemLease(ctx, item, "commit", now.Add(time.Minute), 10*time.Minute)
	require.NoError(t, err, "released")
	// b's holder dies: the lease frees itself when it expires, not before.
	_, err = r.AcquireItemLease(ctx, item, "stop", b.ExpiresAt().Add(-time.Second), time.Minute)
	require.ErrorIs(t, err, ErrItemBusy)
	c, err := r.AcquireItemLease(ctx, item, "stop", b.ExpiresAt(), time.Minute)
	require.NoError(t, err, "expired")
	seqs, err := r.leases(ctx, item)
	require.NoError(t, err)
	assert.Len(t, seqs, 1, "older lease blobs are cleaned up")

	// A contender that listed before the cleanup re-creates an old number: it finds itself
	// behind and does not hold the lease.
	data := []byte(fmt.Sprintf(`{"schema":%q,"itemId":%q,"holder":"x","released":true}`, LeaseSchema, item))
	require.NoError(t, mem.Put(ctx, leaseBlob(item, seqs[0]+5), data, PutOptions{}))
	require.NoError(t, mem.Delete(ctx, leaseBlob(item, seqs[0])))
	require.NoError(t, c.Release(ctx)) // (c's blob is rewritten as released: still behind seq+5)
	d, err := r.AcquireItemLease(ctx, item, "retention", b.ExpiresAt(), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, leaseBlob(item, seqs[0]+6), d.blob)

	// Lease blobs are outside the layout the sweep, ItemIDs and ListPoints read.
	assert.Equal(t, blobName{itemID: item}, parseBlobName(d.blob))
	assert.True(t, IsLeaseBlob(d.blob))
	assert.False(t, IsLeaseBlob(ItemBlob(item)))
	assert.False(t, IsLeaseBlob(leasePrefix(item)+"x.json"))
	ids, err := r.ItemIDs(ctx)
	require.NoError(t, err)
	assert.Empty(t, ids)
}

// Many contenders at once: at most one holds the lease at any instant.
func TestItemLeaseUnderContention(t *testing.T) {
	ctx := context.Background()
	r := NewRepository(NewMemStore(), nil)
	item := ItemID("SQLVM1", "Sales")
	var holding, maxHolding, acquired atomic.Int32
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				l, err := r.AcquireItemLease(ctx, item, fmt.Sprint("w", w), time.Now(), time.Hour)
				if errors.Is(err, ErrItemBusy) {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				acquired.Add(1)
				n := holding.Add(1)
				for m := maxHolding.Load(); n > m && !maxHolding.CompareAndSwap(m, n); m = maxHolding.Load() {
				}
				time.Sleep(100 * time.Microsecond)
				holding.Add(-1)
				assert.NoError(t, l.Release(ctx))
			}
		}()
	}
	wg.Wait()
	assert.Positive(t, acquired.Load())
	assert.Equal(t, int32(1), maxHolding.Load())
}

// racingStore lets another contender take a newer lease number just as Put creates one.
type racingStore struct {
	Store
	once sync.Once
}

func (s *racingStore) Put(ctx context.Context, blob string, data []byte, o PutOptions) error {
	if o.IfNoneMatch {
		s.once.Do(func() {
			_ = s.Store.Put(ctx, blob[:len(blob)-len("00000000000000000001.json")]+"00000000000000000009.json", data, PutOptions{})
		})
	}
	return s.Store.Put(ctx, blob, data, o)
}

func TestItemLeaseBehindANewerNumberIsNotHeld(t *testing.T) {
	ctx := context.Background()
	rs := &racingStore{Store: NewMemStore()}
	r := NewRepository(rs, nil)
	item := ItemID("SQLVM1", "Sales")
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	_, err := r.AcquireItemLease(ctx, item, "commit", now, time.Minute)
	require.ErrorIs(t, err, ErrItemBusy)
	assert.Contains(t, err.Error(), "newer lease")
	data, err := rs.Get(ctx, leaseBlob(item, 1))
	require.NoError(t, err)
	assert.Contains(t, string(data), `"released":true`, "the loser gives its number up")
}
