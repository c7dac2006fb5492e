package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// rangeLog records which stored ranges were read (by offset) and can fail chosen reads.
type rangeLog struct {
	Store
	mu    sync.Mutex
	reads map[int64]int
	fail  map[int64]int // offset → how many more reads of it fail
}

func (r *rangeLog) ReadRange(ctx context.Context, blob string, off, n int64) ([]byte, error) {
	r.mu.Lock()
	r.reads[off]++
	if r.fail[off] > 0 {
		r.fail[off]--
		r.mu.Unlock()
		return nil, fmt.Errorf("injected: %w", ErrUnavailable)
	}
	r.mu.Unlock()
	return r.Store.ReadRange(ctx, blob, off, n)
}

func (r *rangeLog) count(off int64) int { r.mu.Lock(); defer r.mu.Unlock(); return r.reads[off] }
func (r *rangeLog) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range r.reads {
		n += k
	}
	return n
}

func openLogged(t *testing.T, nblocks int) (*fixture, *rangeLog, *StripeReader, []byte) {
	f := newFixture(t)
	blocks := pages(nblocks, 11)
	info := f.writeStripe(t, DataBlob(f.item, NewPointID(time.Now(), BackupFull, "ra"), 1, 0), blocks, true)
	rl := &rangeLog{Store: f.store, reads: map[int64]int{}, fail: map[int64]int{}}
	sr, err := NewRepository(rl, nil).OpenStripe(ctxT(t), info, f.key)
	require.NoError(t, err)
	t.Cleanup(sr.Close)
	return f, rl, sr, concat(blocks)
}

// A sequential reader (SQL Server restoring: one ranged GET after another) gets the next
// blocks fetched before it asks, each block fetched once, and the exact plaintext.
func TestReadAtReadsAheadOfASequentialReader(t *testing.T) {
	_, rl, sr, plain := openLogged(t, 10)
	ctx := ctxT(t)
	sr.SetReadAhead(2)
	p := make([]byte, 1000)
	_, err := sr.ReadAt(ctx, p, 0)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rl.count(sr.storedOff[1]) == 1 && rl.count(sr.storedOff[2]) == 1 },
		10*time.Second, 5*time.Millisecond, "blocks 1 and 2 are fetched ahead of the reader")
	assert.Zero(t, rl.count(sr.storedOff[3]), "no further than the read-ahead")

	var got bytes.Buffer
	got.Write(p)
	for off := int64(len(p)); off < sr.Size(); {
		n, err := sr.ReadAt(ctx, p, off)
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
		}
		got.Write(p[:n])
		off += int64(n)
	}
	assert.True(t, bytes.Equal(plain, got.Bytes()), "the plaintext, exactly")
	for i := range sr.idx.Blocks {
		assert.Equal(t, 1, rl.count(sr.storedOff[i]), "block %d fetched once", i)
	}
	sr.mu.Lock()
	assert.LessOrEqual(t, len(sr.cache), 2+1, "the window holds at most ahead+1 blocks")
	sr.mu.Unlock()
}

// Random reads do not read ahead (nothing is fetched that was not asked for beyond the
// window) and still return the right bytes.
func TestReadAtRandomReadsStayCorrect(t *testing.T) {
	_, _, sr, plain := openLogged(t, 12)
	ctx := ctxT(t)
	sr.SetReadAhead(3)
	for _, off := range []int64{sr.Size() - 10, 5, sr.plainOff[7] - 3, sr.plainOff[2], sr.plainOff[3] + 17, 0} {
		p := make([]byte, 10)
		n, err := sr.ReadAt(ctx, p, off)
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
		}
		assert.Equal(t, plain[off:off+int64(n)], p[:n])
		sr.mu.Lock()
		assert.LessOrEqual(t, len(sr.cache), 3+1)
		sr.mu.Unlock()
	}
}

// A prefetch that fails (a transient store error) does not fail the read that needs the
// block: it is fetched again under the reader's own context. A block that is really bad
// fails its read with a BlockError.
func TestReadAtRetriesAFailedPrefetch(t *testing.T) {
	f, rl, sr, plain := openLogged(t, 6)
	ctx := ctxT(t)
	sr.SetReadAhead(2)
	rl.mu.Lock()
	rl.fail[sr.storedOff[2]] = 1
	rl.mu.Unlock()
	p := make([]byte, 100)
	_, err := sr.ReadAt(ctx, p, 0)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rl.count(sr.storedOff[2]) == 1 }, 10*time.Second, 5*time.Millisecond)
	n, err := sr.ReadAt(ctx, p, sr.plainOff[2])
	require.NoError(t, err, "the failed prefetch is retried by the read")
	assert.Equal(t, plain[sr.plainOff[2]:sr.plainOff[2]+int64(n)], p[:n])
	assert.Equal(t, 2, rl.count(sr.storedOff[2]))

	// Corrupt block 4 in the store: its read fails, named, even after the retry.
	require.NoError(t, f.store.Tamper(sr.info.Blob, func(b []byte) []byte { b[sr.storedOff[4]+40] ^= 1; return b }))
	sr2, err := NewRepository(rl, nil).OpenStripe(ctx, sr.info, f.key)
	require.NoError(t, err)
	defer sr2.Close()
	_, err = sr2.ReadAt(ctx, p, sr.plainOff[4])
	var be *BlockError
	require.True(t, errors.As(err, &be), "got %v", err)
	assert.Equal(t, 4, be.Block)
}

// Close stops the read-ahead; the reader still answers reads, on demand.
func TestReadAtAfterClose(t *testing.T) {
	_, _, sr, plain := openLogged(t, 4)
	ctx := ctxT(t)
	sr.Close()
	p := make([]byte, 64)
	n, err := sr.ReadAt(ctx, p, sr.plainOff[1])
	require.NoError(t, err)
	assert.Equal(t, plain[sr.plainOff[1]:sr.plainOff[1]+int64(n)], p[:n])
}

// A restore reads every byte through exactly one check, the block's GCM tag (no SHA-256 of
// the plaintext any more): a flipped bit anywhere in a frame — its header, its ciphertext,
// its tag — is still refused, by ReadAt (the URL and VDI restores) and by WriteTo (restore as
// files), named by block, and WriteTo writes nothing of the bad block. The blocks around it
// still read.
func TestRestoreReadsRefuseATamperedBlockByItsTag(t *testing.T) {
	for _, compress := range []bool{true, false} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			f := newFixture(t)
			ctx := ctxT(t)
			blocks := pages(5, 21)
			info := f.writeStripe(t, DataBlob(f.item, NewPointID(time.Now(), BackupFull, "tamper"), 1, 0), blocks, compress)
			plain := concat(blocks)
			clean, err := f.repo.OpenStripe(ctx, info, f.key)
			require.NoError(t, err)
			defer clean.Close()
			start, end := clean.storedOff[2], clean.storedOff[3]
			for name, at := range map[string]int64{"header (plaintext length)": start + 10, "ciphertext": (start + end) / 2, "tag": end - 1} {
				flip := func(b []byte) []byte { b[at] ^= 0x20; return b }
				require.NoError(t, f.store.Tamper(info.Blob, flip))

				sr, err := f.repo.OpenStripe(ctx, info, f.key)
				require.NoError(t, err, "the index is intact: the stripe opens")
				p := make([]byte, 64)
				_, err = sr.ReadAt(ctx, p, sr.plainOff[2]+1)
				require.ErrorIs(t, err, blockcrypt.ErrAuth, "%s: ReadAt", name)
				var be *BlockError
				require.True(t, errors.As(err, &be), name)
				assert.Equal(t, 2, be.Block, name)
				n, err := sr.ReadAt(ctx, p, 0)
				require.NoError(t, err, "%s: block 0 is untouched", name)
				assert.Equal(t, plain[:n], p[:n])
				sr.Close()

				sr, err = f.repo.OpenStripe(ctx, info, f.key)
				require.NoError(t, err)
				var out bytes.Buffer
				written, err := sr.WriteTo(ctx, &out)
				require.ErrorIs(t, err, blockcrypt.ErrAuth, "%s: WriteTo", name)
				assert.Equal(t, sr.plainOff[2], written, "%s: nothing of the bad block is written", name)
				assert.Equal(t, plain[:written], out.Bytes())
				sr.Close()

				require.NoError(t, f.store.Tamper(info.Blob, flip)) // flipped back: the stripe reads again
			}
			sr, err := f.repo.OpenStripe(ctx, info, f.key)
			require.NoError(t, err)
			defer sr.Close()
			var out bytes.Buffer
			_, err = sr.WriteTo(ctx, &out)
			require.NoError(t, err)
			assert.Equal(t, plain, out.Bytes())
		})
	}
}

// A v1 index's per-block SHA-256 is compared by DeepVerify only: a stripe whose (consistent,
// recorded) index holds a wrong digest for a block whose frame is authentic — what a writer
// that hashed other bytes than it sealed would leave — restores (GCM vouches for every byte,
// and the bytes are the ones sealed), and DeepVerify, which checks the writer, refuses it.
func TestOnlyDeepVerifyComparesTheIndexDigests(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	point := NewPointID(time.Now(), BackupFull, "digest")
	blocks := pages(3, 31)
	info := f.writeV1Stripe(t, DataBlob(f.item, point, 1, 0), blocks, true)

	// Rewrite the index with a wrong SHA-256 for block 1, recomputing the digest over the
	// block digests and recording the new index, so every structural check still passes.
	data, err := f.store.Get(ctx, info.Index)
	require.NoError(t, err)
	var idx stripeIndex
	require.NoError(t, json.Unmarshal(data, &idx))
	idx.Blocks[1].SHA256 = strings.Repeat("ab", 32)
	idx.Digest, err = stripeDigest(idx.Blocks)
	require.NoError(t, err)
	data, err = json.Marshal(idx)
	require.NoError(t, err)
	require.NoError(t, f.store.Put(ctx, info.Index, data, PutOptions{}))
	info.IndexSHA256, info.Digest = sha256Hex(data), idx.Digest

	sr, err := f.repo.OpenStripe(ctx, info, f.key)
	require.NoError(t, err)
	defer sr.Close()
	var out bytes.Buffer
	_, err = sr.WriteTo(ctx, &out)
	require.NoError(t, err, "a restore trusts the tag")
	assert.Equal(t, concat(blocks), out.Bytes())

	m := f.manifest(point, time.Now(), info)
	require.NoError(t, f.repo.CommitManifest(ctx, m))
	err = f.repo.DeepVerify(ctx, m, f.key)
	require.ErrorIs(t, err, ErrBlockDigest)
	var be *BlockError
	require.True(t, errors.As(err, &be))
	assert.Equal(t, 1, be.Block)
}
