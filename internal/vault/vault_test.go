package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

func testKey(t testing.TB, seed byte) *blockcrypt.Key {
	k, err := blockcrypt.NewKey(bytes.Repeat([]byte{seed}, 32))
	require.NoError(t, err)
	return k
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// pages makes n blocks of SQL-page-like data of varying sizes (the last one short), each
// starting with a canary that must never appear in the vault in clear.
func pages(n int, seed uint64) [][]byte {
	r := mrand.New(mrand.NewPCG(seed, 7))
	out := make([][]byte, n)
	for i := range out {
		size := 8192 * (1 + r.IntN(8))
		if i == n-1 {
			size = 1234
		}
		var b bytes.Buffer
		for b.Len() < size {
			fmt.Fprintf(&b, "CANARY-PAGE-%04d|row %d|%x|", i, b.Len(), r.Uint32())
		}
		out[i] = b.Bytes()[:size]
	}
	return out
}

// clientID looks like the ids SQL Server sends (base64 of a counter string).
func clientID(i int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "sqlserver-block-%08d", i))
}

type fixture struct {
	store *MemStore
	repo  *Repository
	key   *blockcrypt.Key
	item  string
}

func newFixture(t *testing.T) *fixture {
	s := NewMemStore()
	key := testKey(t, 1)
	return &fixture{store: s, repo: NewRepository(s, nil).WithKeys(Keys{key}), key: key, item: ItemID(`VM1\SQL2022`, "Sales")}
}

// writeStripe puts blocks in a shuffled order, concurrently, and commits them in order.
func (f *fixture) writeStripe(t *testing.T, blob string, blocks [][]byte, compress bool) StripeInfo {
	ctx := ctxT(t)
	w := f.repo.NewStripeWriter(blob, f.key, StripeWriterOptions{Compress: compress})
	order := mrand.New(mrand.NewPCG(42, 1)).Perm(len(blocks))
	var wg sync.WaitGroup
	errs := make([]error, len(blocks))
	for _, i := range order {
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
	return info
}

func (f *fixture) manifest(pointID string, created time.Time, stripes ...StripeInfo) *Manifest {
	_, typ, _ := ParsePointID(pointID)
	m := &Manifest{
		Schema: ManifestSchema, PointID: pointID, ItemID: f.item, CreatedAt: created,
		Server:   ServerInfo{VM: "vm1", Instance: `VM1\SQL2022`, ServerName: `VM1\SQL2022`, ProductVersion: "16.0.4135.4", Edition: "Express Edition (64-bit)"},
		Database: DatabaseInfo{Name: "Sales", GUID: "6f1c1a2e-0000-4000-8000-000000000001", FamilyGUID: "6f1c1a2e-0000-4000-8000-000000000002", RecoveryModel: "FULL"},
		Backup: BackupInfo{Type: typ, FirstLSN: "37000000012300001", LastLSN: "12345678901234567890123",
			CheckpointLSN: "37000000012300037", DatabaseBackupLSN: "0", BackupSetGUID: "b5e0a9d4-0000-4000-8000-000000000003",
			StartTime: created.Add(-time.Minute), FinishTime: created, SizeBytes: 123456, HasChecksums: true},
		Stripes:    stripes,
		Encryption: EncryptionInfo{Algorithm: AlgorithmAES256GCM, KeyID: f.key.ID(), Compression: CompressionZstd},
		Workflow:   WorkflowRef{ID: "backup-sales", RunID: "run-1"},
	}
	if typ == BackupDifferential {
		m.Backup.DifferentialBaseLSN = "37000000012300001"
	}
	return m
}

func concat(blocks [][]byte) []byte { return bytes.Join(blocks, nil) }

func TestStripeRoundTripRandomAccess(t *testing.T) {
	for _, compress := range []bool{true, false} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			f := newFixture(t)
			ctx := ctxT(t)
			blocks := pages(25, 1)
			plain := concat(blocks)
			blob := DataBlob(f.item, NewPointID(time.Now(), BackupFull, "abc"), 1, 0)
			info := f.writeStripe(t, blob, blocks, compress)

			assert.Equal(t, int64(len(plain)), info.PlainBytes)
			assert.Equal(t, 25, info.Blocks)
			assert.Equal(t, IndexBlob(blob), info.Index)
			if compress {
				assert.Less(t, info.StoredBytes, info.PlainBytes/2, "page-like data compresses")
			} else {
				assert.Equal(t, info.PlainBytes+25*blockcrypt.MaxOverhead, info.StoredBytes)
			}

			sr, err := f.repo.OpenStripe(ctx, info, f.key)
			require.NoError(t, err)
			require.Equal(t, int64(len(plain)), sr.Size())

			var buf bytes.Buffer
			n, err := sr.WriteTo(ctx, &buf)
			require.NoError(t, err)
			assert.Equal(t, int64(len(plain)), n)
			assert.True(t, bytes.Equal(plain, buf.Bytes()), "WriteTo gives the plaintext")

			r := mrand.New(mrand.NewPCG(3, 3))
			size := int64(len(plain))
			for i := 0; i < 300; i++ {
				off := r.Int64N(size)
				ln := 1 + r.IntN(40000) // often spans two or three blocks
				p := make([]byte, ln)
				got, err := sr.ReadAt(ctx, p, off)
				want := plain[off:min(off+int64(ln), size)]
				if off+int64(ln) > size {
					require.ErrorIs(t, err, io.EOF)
				} else {
					require.NoError(t, err)
				}
				require.Equal(t, len(want), got)
				require.True(t, bytes.Equal(want, p[:got]), "ReadAt(%d, %d)", off, ln)
			}
			// Exactly at block boundaries and the end.
			for _, off := range []int64{0, int64(len(blocks[0])), int64(len(blocks[0]) + len(blocks[1]) - 1), size - 1} {
				p := make([]byte, 2)
				got, err := sr.ReadAt(ctx, p, off)
				want := plain[off:min(off+2, size)]
				assert.Equal(t, len(want), got)
				assert.Equal(t, want, p[:got])
				if off+2 > size {
					assert.ErrorIs(t, err, io.EOF)
				} else {
					assert.NoError(t, err)
				}
			}
			got, err := sr.ReadAt(ctx, make([]byte, 1), size)
			assert.Equal(t, 0, got)
			assert.ErrorIs(t, err, io.EOF)
			got, err = sr.ReadAt(ctx, nil, size)
			assert.Equal(t, 0, got)
			assert.NoError(t, err)
			_, err = sr.ReadAt(ctx, make([]byte, 1), -1)
			assert.Error(t, err)
		})
	}
}

func TestReadAtCachesBlocks(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blocks := pages(4, 2)
	info := f.writeStripe(t, DataBlob(f.item, NewPointID(time.Now(), BackupFull, "c"), 1, 0), blocks, true)
	cs := &CountingStore{Store: f.store}
	sr, err := NewRepository(cs, nil).OpenStripe(ctx, info, f.key)
	require.NoError(t, err)
	sr.SetReadAhead(0) // reader_test.go covers read-ahead
	p := make([]byte, 100)
	for off := int64(0); off+100 <= int64(len(blocks[0])); off += 100 {
		_, err := sr.ReadAt(ctx, p, off)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), cs.Reads.Load(), "sequential small reads within one block fetch it once")
}

func TestCommitOrderIsClientOrderAndRePutReplaces(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blob := DataBlob(f.item, NewPointID(time.Now(), BackupLog, "d"), 1, 0)
	w := f.repo.NewStripeWriter(blob, f.key, StripeWriterOptions{Compress: true})
	require.NoError(t, w.PutBlock(ctx, "C", []byte("ccc")))
	require.NoError(t, w.PutBlock(ctx, "A", []byte("stale first version of A")))
	require.NoError(t, w.PutBlock(ctx, "B", []byte("bb")))
	require.NoError(t, w.PutBlock(ctx, "A", []byte("a"))) // SQL Server re-sends A
	plainBytes, _, n := w.Stats()
	assert.Equal(t, int64(6), plainBytes, "the replaced version no longer counts")
	assert.Equal(t, 3, n)

	info, err := w.Commit(ctx, []string{"B", "C", "A"})
	require.NoError(t, err)
	sr, err := f.repo.OpenStripe(ctx, info, f.key)
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = sr.WriteTo(ctx, &buf)
	require.NoError(t, err)
	assert.Equal(t, "bbccca", buf.String())

	// Committing again (a retried Put Block List) gives the same stripe.
	again, err := w.Commit(ctx, []string{"B", "C", "A"})
	require.NoError(t, err)
	assert.Equal(t, info, again)
	require.NoError(t, f.repo.VerifyStripes(ctx, []StripeInfo{again}))
}

func TestCommitRejectsBadLists(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blob := DataBlob(f.item, NewPointID(time.Now(), BackupFull, "e"), 1, 0)
	fs := &failingStore{Store: f.store}
	w := NewRepository(fs, nil).NewStripeWriter(blob, f.key, StripeWriterOptions{})
	require.NoError(t, w.PutBlock(ctx, "A", []byte("a")))
	_, err := w.Commit(ctx, []string{"A", "X"})
	assert.ErrorIs(t, err, ErrInvalidBlockList)
	_, err = w.Commit(ctx, []string{"A", "A"})
	assert.Error(t, err)

	fs.failStage = true
	assert.Error(t, w.PutBlock(ctx, "A", []byte("a2")))
	_, err = w.Commit(ctx, []string{"A"})
	assert.ErrorIs(t, err, ErrInvalidBlockList, "a block whose last put failed cannot be committed")
	fs.failStage = false
	require.NoError(t, w.PutBlock(ctx, "A", []byte("a3")))
	_, err = w.Commit(ctx, []string{"A"})
	require.NoError(t, err)
}

type failingStore struct {
	Store
	failStage bool
}

func (f *failingStore) StageBlock(ctx context.Context, blob, id string, data []byte) error {
	if f.failStage {
		return fmt.Errorf("injected: %w", ErrUnavailable)
	}
	return f.Store.StageBlock(ctx, blob, id, data)
}

func TestStoredBytesContainNoPlaintext(t *testing.T) {
	for _, compress := range []bool{false, true} {
		f := newFixture(t)
		ctx := ctxT(t)
		blocks := pages(6, 9)
		point := NewPointID(time.Now(), BackupFull, "f")
		info := f.writeStripe(t, DataBlob(f.item, point, 1, 0), blocks, compress)
		require.NoError(t, f.repo.CommitManifest(ctx, f.manifest(point, time.Now(), info)))
		n := 0
		require.NoError(t, f.store.List(ctx, "", func(b BlobInfo) error {
			data, err := f.store.Get(ctx, b.Name)
			require.NoError(t, err)
			n++
			assert.False(t, bytes.Contains(data, []byte("CANARY-PAGE")), "%s holds plaintext", b.Name)
			assert.False(t, bytes.Contains(data, blocks[2][100:164]), "%s holds a plaintext run", b.Name)
			return nil
		}))
		assert.Equal(t, 3, n, "data, index and manifest were all searched")
	}
}

func TestVerifyStripesCatches(t *testing.T) {
	setup := func(t *testing.T) (*fixture, StripeInfo) {
		f := newFixture(t)
		info := f.writeStripe(t, DataBlob(f.item, NewPointID(time.Now(), BackupFull, "g"), 1, 0), pages(5, 4), true)
		require.NoError(t, f.repo.VerifyStripes(ctxT(t), []StripeInfo{info}))
		return f, info
	}
	t.Run("missing block", func(t *testing.T) {
		f, info := setup(t)
		ctx := ctxT(t)
		bl, err := f.store.BlockList(ctx, info.Blob)
		require.NoError(t, err)
		ids := []string{bl[0].ID, bl[1].ID, bl[3].ID, bl[4].ID} // block 2 dropped
		require.NoError(t, f.store.CommitBlocks(ctx, info.Blob, ids, CommitOptions{}))
		err = f.repo.VerifyStripes(ctx, []StripeInfo{info})
		require.ErrorIs(t, err, ErrBlockListMismatch)
		assert.Contains(t, err.Error(), info.Blob)
	})
	t.Run("changed index", func(t *testing.T) {
		f, info := setup(t)
		ctx := ctxT(t)
		idx, err := f.store.Get(ctx, info.Index)
		require.NoError(t, err)
		require.NoError(t, f.store.Put(ctx, info.Index, bytes.Replace(idx, []byte(`"plain":`), []byte(`"plain": `), 1), PutOptions{}))
		assert.ErrorIs(t, f.repo.VerifyStripes(ctx, []StripeInfo{info}), ErrIndexMismatch)
	})
	t.Run("missing index", func(t *testing.T) {
		f, info := setup(t)
		ctx := ctxT(t)
		require.NoError(t, f.store.Delete(ctx, info.Index))
		assert.ErrorIs(t, f.repo.VerifyStripes(ctx, []StripeInfo{info}), ErrIndexMissing)
	})
	t.Run("uncommitted data blob", func(t *testing.T) {
		f := newFixture(t)
		ctx := ctxT(t)
		blob := DataBlob(f.item, NewPointID(time.Now(), BackupFull, "h"), 1, 0)
		info := f.writeStripe(t, blob, pages(3, 5), false)
		require.NoError(t, f.store.Delete(ctx, blob))
		// Blocks staged again but never committed: still not a blob.
		w := f.repo.NewStripeWriter(blob, f.key, StripeWriterOptions{})
		require.NoError(t, w.PutBlock(ctx, clientID(0), []byte("x")))
		assert.ErrorIs(t, f.repo.VerifyStripes(ctx, []StripeInfo{info}), ErrDataNotCommitted)
	})
	t.Run("recorded totals differ", func(t *testing.T) {
		f, info := setup(t)
		bad := info
		bad.PlainBytes++
		assert.ErrorIs(t, f.repo.VerifyStripes(ctxT(t), []StripeInfo{bad}), ErrStripeMismatch)
		bad = info
		bad.Digest = strings.Repeat("0", 64)
		assert.ErrorIs(t, f.repo.VerifyStripes(ctxT(t), []StripeInfo{bad}), ErrStripeMismatch)
	})
	t.Run("block reordered", func(t *testing.T) {
		f, info := setup(t)
		ctx := ctxT(t)
		bl, err := f.store.BlockList(ctx, info.Blob)
		require.NoError(t, err)
		ids := []string{bl[1].ID, bl[0].ID, bl[2].ID, bl[3].ID, bl[4].ID}
		require.NoError(t, f.store.CommitBlocks(ctx, info.Blob, ids, CommitOptions{}))
		assert.ErrorIs(t, f.repo.VerifyStripes(ctx, []StripeInfo{info}), ErrBlockListMismatch)
	})
}

func TestDeepVerifyCatchesFlippedByte(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	point := NewPointID(time.Now(), BackupFull, "i")
	s0 := f.writeStripe(t, DataBlob(f.item, point, 1, 0), pages(4, 6), true)
	s1 := f.writeStripe(t, DataBlob(f.item, point, 1, 1), pages(4, 7), true)
	m := f.manifest(point, time.Now(), s0, s1)
	require.NoError(t, f.repo.CommitManifest(ctx, m))
	require.NoError(t, f.repo.DeepVerify(ctx, m, f.key))

	err := f.repo.DeepVerify(ctx, m, testKey(t, 2))
	assert.ErrorIs(t, err, ErrWrongKey)

	require.NoError(t, f.store.Tamper(s1.Blob, func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }))
	require.NoError(t, f.repo.VerifyStripes(ctx, m.Stripes), "the cheap check cannot see inside blocks")
	err = f.repo.DeepVerify(ctx, m, f.key)
	require.ErrorIs(t, err, blockcrypt.ErrAuth)
	var be *BlockError
	require.True(t, errors.As(err, &be))
	assert.Equal(t, s1.Blob, be.Blob)

	// Flipping the bit back restores the block: the check is about content, not history.
	require.NoError(t, f.store.Tamper(s1.Blob, func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }))
	require.NoError(t, f.repo.DeepVerify(ctx, m, f.key), "untampered again")
}

func TestMovedBlockFailsAuth(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	point := NewPointID(time.Now(), BackupFull, "j")
	// Two stripes whose blocks have the same client ids and sizes: swapping a whole frame
	// between them keeps every size right, so only the aad can notice.
	blk := bytes.Repeat([]byte("same-size-block."), 64)
	s0 := f.writeStripe(t, DataBlob(f.item, point, 1, 0), [][]byte{blk}, false)
	s1 := f.writeStripe(t, DataBlob(f.item, point, 1, 1), [][]byte{blk}, false)
	frame1, err := f.store.Get(ctx, s1.Blob)
	require.NoError(t, err)
	require.NoError(t, f.store.Tamper(s0.Blob, func([]byte) []byte { return frame1 }))
	sr, err := f.repo.OpenStripe(ctx, s0, f.key)
	require.NoError(t, err)
	_, err = sr.ReadAt(ctx, make([]byte, 10), 0)
	assert.ErrorIs(t, err, blockcrypt.ErrAuth)
}

func TestCommitManifestIdempotent(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	point := NewPointID(time.Date(2026, 11, 26, 10, 15, 30, 0, time.UTC), BackupFull, "k")
	info := f.writeStripe(t, DataBlob(f.item, point, 1, 0), pages(2, 8), true)
	created := time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)
	m := f.manifest(point, created, info)
	require.NoError(t, f.repo.CommitManifest(ctx, m))

	retry := f.manifest(point, created.In(time.FixedZone("CET", 3600)), info) // same instant
	require.NoError(t, f.repo.CommitManifest(ctx, retry), "a retried commit succeeds")

	other := f.manifest(point, created, info)
	other.Reason = "something else"
	assert.ErrorIs(t, f.repo.CommitManifest(ctx, other), ErrExists)

	got, err := f.repo.Manifest(ctx, f.item, point)
	require.NoError(t, err)
	assert.Equal(t, LSN("12345678901234567890123"), got.Backup.LastLSN, "LSNs beyond int64 survive")
	assert.Equal(t, "", got.Reason, "the first commit stands")
	assert.True(t, created.Equal(got.CreatedAt))

	raw, err := f.store.Get(ctx, ManifestBlob(f.item, point))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"schema": "sqlvault.manifest/v2"`)
	assert.Contains(t, string(raw), `"lastLsn": "12345678901234567890123"`)
	assert.Contains(t, string(raw), `"indexSha256": "`+info.IndexSHA256+`"`)
}

func TestCommitManifestRefusesUnverifiable(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	point := NewPointID(time.Now(), BackupFull, "l")
	info := f.writeStripe(t, DataBlob(f.item, point, 1, 0), pages(2, 8), true)
	require.NoError(t, f.store.Delete(ctx, info.Blob))
	err := f.repo.CommitManifest(ctx, f.manifest(point, time.Now(), info))
	require.ErrorIs(t, err, ErrDataNotCommitted)
	_, err = f.repo.Manifest(ctx, f.item, point)
	assert.ErrorIs(t, err, ErrNotFound, "no point without its data")

	bad := f.manifest(point, time.Now(), info)
	bad.Backup.FirstLSN = "-5"
	assert.ErrorIs(t, f.repo.CommitManifest(ctx, bad), ErrInvalidManifest)
	bad = f.manifest(point, time.Now(), info)
	bad.Stripes[0].Blob = DataBlob(f.item, NewPointID(time.Now(), BackupFull, "other"), 1, 0)
	bad.Stripes[0].Index = IndexBlob(bad.Stripes[0].Blob)
	assert.ErrorIs(t, f.repo.CommitManifest(ctx, bad), ErrInvalidManifest, "stripes must be the point's own")
}

func TestManifestUnknownSchema(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	point := NewPointID(time.Now(), BackupFull, "m")
	require.NoError(t, f.store.Put(ctx, ManifestBlob(f.item, point), []byte(`{"schema":"sqlvault.manifest/v3","pointId":"x"}`), PutOptions{}))
	_, err := f.repo.Manifest(ctx, f.item, point)
	require.ErrorIs(t, err, ErrUnknownSchema)
	assert.Contains(t, err.Error(), "this build reads sqlvault.manifest/v1 and sqlvault.manifest/v2")
	assert.Contains(t, err.Error(), "v3")
}

func TestListPointsChronological(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var want []string
	for _, c := range []struct {
		at  time.Duration
		typ string
	}{{3 * time.Hour, BackupLog}, {0, BackupFull}, {2 * time.Hour, BackupDifferential}, {time.Hour, BackupLog}} {
		p := NewPointID(base.Add(c.at), c.typ, "n")
		info := f.writeStripe(t, DataBlob(f.item, p, 1, 0), pages(1, 1), true)
		// Commit order differs from start order on purpose (a log can finish before a full).
		require.NoError(t, f.repo.CommitManifest(ctx, f.manifest(p, base.Add(10*time.Hour-c.at), info)))
		want = append(want, p)
	}
	sort.Strings(want)
	got, err := f.repo.ListPoints(ctx, f.item)
	require.NoError(t, err)
	var ids []string
	for _, m := range got {
		ids = append(ids, m.PointID)
	}
	assert.Equal(t, want, ids)

	other := ItemID(`VM2`, "HR")
	require.NoError(t, f.store.Put(ctx, ItemBlob(other), []byte("{}"), PutOptions{}))
	items, err := f.repo.ListItems(ctx)
	require.NoError(t, err)
	wantItems := []string{f.item, other}
	sort.Strings(wantItems)
	assert.Equal(t, wantItems, items)
	assert.Equal(t, f.item, f.repo.FindItem(ctx, `vm1\sql2022`, "Sales"))

	none, err := f.repo.ListPoints(ctx, ItemID("X", "Y"))
	require.NoError(t, err)
	assert.Empty(t, none)
}

func blobNames(t *testing.T, s Store) []string {
	var names []string
	require.NoError(t, s.List(context.Background(), "", func(b BlobInfo) error { names = append(names, b.Name); return nil }))
	return names
}

func TestSweep(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := now.Add(-48 * time.Hour)
	f.store.SetClock(func() time.Time { return clock })

	// Point 1: attempt 1 failed after committing a stripe; attempt 2 succeeded.
	p1 := NewPointID(clock, BackupFull, "p1")
	failed := f.writeStripe(t, DataBlob(f.item, p1, 1, 0), pages(2, 1), true)
	good := f.writeStripe(t, DataBlob(f.item, p1, 2, 0), pages(2, 2), true)
	require.NoError(t, f.repo.CommitManifest(ctx, f.manifest(p1, clock, good)))
	// Point 2: never got a manifest.
	p2 := NewPointID(clock, BackupLog, "p2")
	abandoned := f.writeStripe(t, DataBlob(f.item, p2, 1, 0), pages(1, 3), true)
	// An unexpected name in a data folder is left alone.
	stray := PointDataPrefix(f.item, p2) + "notes.txt"
	require.NoError(t, f.store.Put(ctx, stray, []byte("x"), PutOptions{}))
	// Another item whose manifest this build cannot read: none of its data may go.
	other := ItemID("VM9", "Future")
	p4 := NewPointID(clock, BackupFull, "p4")
	futureData := DataBlob(other, p4, 1, 0)
	require.NoError(t, f.store.Put(ctx, futureData, []byte("x"), PutOptions{}))
	require.NoError(t, f.store.Put(ctx, ManifestBlob(other, p4), []byte(`{"schema":"sqlvault.manifest/v9"}`), PutOptions{}))

	// Point 3: in flight, one hour old.
	clock = now.Add(-time.Hour)
	p3 := NewPointID(clock, BackupFull, "p3")
	inFlight := f.writeStripe(t, DataBlob(f.item, p3, 1, 0), pages(1, 4), true)

	before := blobNames(t, f.store)
	rep, err := f.repo.Sweep(ctx, now, 24*time.Hour, true)
	require.NoError(t, err)
	assert.Equal(t, before, blobNames(t, f.store), "a dry run deletes nothing")

	wantDeleted := []string{failed.Blob, failed.Index, abandoned.Blob, abandoned.Index}
	sort.Strings(wantDeleted)
	reasons := map[string]string{}
	var deleted []string
	for _, e := range rep.Deleted {
		deleted = append(deleted, e.Name)
		reasons[e.Name] = e.Reason
	}
	for _, e := range rep.Kept {
		reasons[e.Name] = e.Reason
	}
	sort.Strings(deleted)
	assert.Equal(t, wantDeleted, deleted)
	assert.Equal(t, ReasonUnreferenced, reasons[failed.Blob])
	assert.Equal(t, ReasonNoManifest, reasons[abandoned.Blob])
	assert.Equal(t, ReasonReferenced, reasons[good.Blob])
	assert.Equal(t, ReasonReferenced, reasons[good.Index])
	assert.Equal(t, ReasonYoung, reasons[inFlight.Blob])
	assert.Equal(t, ReasonUnknownName, reasons[stray])
	assert.Equal(t, ReasonUnreadableManifest, reasons[futureData])
	assert.True(t, rep.DryRun)
	assert.Positive(t, rep.DeletedBytes)

	rep, err = f.repo.Sweep(ctx, now, 24*time.Hour, false)
	require.NoError(t, err)
	assert.Len(t, rep.Deleted, 4)
	after := blobNames(t, f.store)
	for _, gone := range wantDeleted {
		assert.NotContains(t, after, gone)
	}
	for _, kept := range []string{good.Blob, good.Index, inFlight.Blob, inFlight.Index, stray, futureData,
		ManifestBlob(f.item, p1), ManifestBlob(other, p4)} {
		assert.Contains(t, after, kept)
	}
	m, err := f.repo.Manifest(ctx, f.item, p1)
	require.NoError(t, err)
	require.NoError(t, f.repo.DeepVerify(ctx, m, f.key), "the surviving point still restores")

	rep, err = f.repo.Sweep(ctx, now, 24*time.Hour, false)
	require.NoError(t, err)
	assert.Empty(t, rep.Deleted, "a second sweep finds nothing")
}

func TestSweepRechecksManifestBeforeDeleting(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	now := time.Now()
	f.store.SetClock(func() time.Time { return now.Add(-48 * time.Hour) })
	p := NewPointID(now, BackupFull, "race")
	info := f.writeStripe(t, DataBlob(f.item, p, 1, 0), pages(1, 1), true)
	// The manifest appears after the sweep's listing: simulated by a store that commits it
	// the moment the sweep lists.
	rs := &raceStore{Store: f.store, commit: func() {
		require.NoError(t, f.repo.CommitManifest(ctx, f.manifest(p, now, info)))
	}}
	rep, err := NewRepository(rs, nil).WithKeys(Keys{f.key}).Sweep(ctx, now, time.Hour, false)
	require.NoError(t, err)
	assert.Empty(t, rep.Deleted)
	require.NoError(t, f.repo.VerifyStripes(ctx, []StripeInfo{info}))
}

type raceStore struct {
	Store
	commit func()
	once   sync.Once
}

func (r *raceStore) List(ctx context.Context, prefix string, fn func(BlobInfo) error) error {
	err := r.Store.List(ctx, prefix, fn)
	r.once.Do(r.commit)
	return err
}
