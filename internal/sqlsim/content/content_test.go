package content

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestPageBytesDeterministicAndDistinct(t *testing.T) {
	a := make([]byte, PageSize)
	b := make([]byte, PageSize)
	PageBytes(a, 42, 7, 100)
	PageBytes(b, 42, 7, 100)
	require.Equal(t, a, b)

	assert.Equal(t, uint64(42), binary.LittleEndian.Uint64(a[0:]))
	assert.Equal(t, uint64(7), binary.LittleEndian.Uint64(a[8:]))
	assert.Equal(t, uint64(100), binary.LittleEndian.Uint64(a[16:]))

	for _, other := range [][3]uint64{{43, 7, 100}, {42, 8, 100}, {42, 7, 101}, {42, 7, 0}} {
		PageBytes(b, other[0], int64(other[1]), LSN(other[2]))
		assert.NotEqual(t, a, b, "seed/id/version %v must change the page", other)
		// Not only the header: the rows differ too.
		assert.NotEqual(t, a[PageHeaderSize:], b[PageHeaderSize:])
	}
}

func TestPageBytesCompressesLikeData(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	require.NoError(t, err)
	defer enc.Close()
	raw := make([]byte, 0, 128*PageSize)
	page := make([]byte, PageSize)
	for id := range int64(128) {
		PageBytes(page, 9, id, LSN(id*3))
		raw = append(raw, page...)
	}
	ratio := float64(len(enc.EncodeAll(raw, nil))) / float64(len(raw))
	t.Logf("zstd level 3 ratio: %.3f", ratio)
	assert.Greater(t, ratio, 0.40)
	assert.Less(t, ratio, 0.70)
}

func TestLogPayloadDeterministic(t *testing.T) {
	r := Record{LSN: 5, Time: t0, Kind: PageWrite, PageID: 3}
	a := make([]byte, LogPayloadSize)
	b := make([]byte, LogPayloadSize)
	LogPayload(a, 1, r)
	LogPayload(b, 1, r)
	require.Equal(t, a, b)
	r.LSN = 6
	LogPayload(b, 1, r)
	assert.NotEqual(t, a, b)
}

// workload writes a reproducible mix of random writes, explicit writes and markers, with
// several records sharing each instant.
func workload(d *Database, steps int) {
	rng := rand.New(rand.NewPCG(1, uint64(d.NextLSN())))
	now := t0
	if last := d.LastTime(); last.After(now) {
		now = last
	}
	for i := range steps {
		now = now.Add(time.Duration(rng.IntN(3)) * time.Second) // 0: same instant as before
		switch i % 7 {
		case 3:
			d.Append(now, Checkpoint)
		case 5:
			d.WritePages(now, []int64{0, int64(rng.IntN(int(d.DataPages())))})
		default:
			d.Write(now, 1+rng.IntN(20))
		}
	}
}

// bruteDigest recomputes the content with the records of LSN < l from scratch: replays them
// into a plain map and loads that into a fresh database.
func bruteDigest(d *Database, l LSN) Digest {
	pages := map[int64]LSN{}
	for _, r := range d.Records(1, l) {
		if r.Kind == PageWrite {
			pages[r.PageID] = r.LSN
		}
	}
	fresh := NewRestoring(d.Seed(), d.DataPages())
	for id, v := range pages {
		fresh.SetPage(id, v)
	}
	return fresh.Digest()
}

func TestDigestAtMatchesBruteForce(t *testing.T) {
	d := New(Options{Seed: 77, DataPages: 5000, Created: t0})
	start := d.Digest()
	workload(d, 400)
	recs := d.Records(1, d.NextLSN())
	require.Greater(t, len(recs), 3*cpEvery, "the test must cross several digest checkpoints")

	assert.Equal(t, start, d.DigestAt(t0.Add(-time.Hour)), "before any record: the fresh content")
	assert.Equal(t, d.Digest(), d.DigestAt(recs[len(recs)-1].Time), "at the last record: now")
	assert.Equal(t, d.Digest(), d.DigestAt(recs[len(recs)-1].Time.Add(time.Hour)))

	// Every distinct instant, and just before and after it.
	checked := 0
	for i, r := range recs {
		if i+1 < len(recs) && recs[i+1].Time.Equal(r.Time) {
			continue // the instant includes every record that shares it
		}
		want := bruteDigest(d, r.LSN+1)
		require.Equal(t, want, d.DigestAt(r.Time), "at %v", r.Time)
		require.Equal(t, want, d.DigestAt(r.Time.Add(500*time.Millisecond)), "between records")
		require.Equal(t, want, d.DigestAtLSN(r.LSN+1))
		require.Equal(t, r.LSN+1, d.LSNAt(r.Time))
		l, ok := d.LastRecordAtOrBefore(r.Time)
		require.True(t, ok)
		require.Equal(t, r.LSN, l)
		checked++
	}
	assert.Greater(t, checked, 100)
	_, ok := d.LastRecordAtOrBefore(t0.Add(-time.Second))
	assert.False(t, ok)
}

func TestDigestDependsOnlyOnContent(t *testing.T) {
	src := New(Options{Seed: 5, DataPages: 1000, Created: t0})
	workload(src, 200)

	// Same page versions, reached by SetPage in reverse order on a fresh database.
	snap := src.Snapshot()
	copyDB := NewRestoring(5, 1000)
	mod := snap.Modified()
	for i := len(mod) - 1; i >= 0; i-- {
		copyDB.SetPage(mod[i].ID, mod[i].Version)
	}
	assert.Equal(t, src.Digest(), copyDB.Digest())
	assert.Equal(t, snap.Digest(), copyDB.Digest())

	// Another seed or size is other content.
	assert.NotEqual(t, src.Digest(), NewRestoring(5, 1001).Digest())
	assert.NotEqual(t, New(Options{Seed: 5, DataPages: 1000}).Digest(), New(Options{Seed: 6, DataPages: 1000}).Digest())

	// One page at another version is other content.
	copyDB.SetPage(mod[0].ID, mod[0].Version+1)
	assert.NotEqual(t, src.Digest(), copyDB.Digest())
}

// TestRestorePathsGiveSourceDigest rebuilds the source the way RESTORE does: a fuzzy full
// image (pages copied while writes went on) plus the log from the backup's first LSN,
// then a later log range, and checks the digest at every step against the source's.
func TestRestorePathsGiveSourceDigest(t *testing.T) {
	src := New(Options{Seed: 11, DataPages: 800, Created: t0})
	workload(src, 60)
	first := src.NextLSN() // the full backup's FirstLSN
	workload(src, 30)
	snap := src.Snapshot() // pages copied later than FirstLSN: newer than the log start
	workload(src, 30)
	last := src.NextLSN() // the full backup's LastLSN
	workload(src, 80)

	dst := NewRestoring(11, 800)
	for p := range snap.All() {
		dst.SetPage(p.ID, p.Version)
	}
	for _, r := range src.Records(first, last) {
		require.NoError(t, dst.ApplyRecord(r))
	}
	assert.Equal(t, src.DigestAtLSN(last), dst.Digest(), "full + its log = source at LastLSN")
	assert.Equal(t, last, dst.NextLSN())

	// A log backup overlapping the restored range: the overlap is skipped, the rest applied.
	for _, r := range src.Records(last-5, src.NextLSN()) {
		require.NoError(t, dst.ApplyRecord(r))
	}
	assert.Equal(t, src.Digest(), dst.Digest())

	// The restored log serves DigestAt for the instants it covers.
	mid := src.Records(last+10, last+11)[0]
	assert.Equal(t, src.DigestAt(mid.Time), dst.DigestAt(mid.Time))

	// After recovery the database continues its own life.
	dst.SetNextLSN(src.NextLSN() + 1000)
	l := dst.Write(src.LastTime().Add(time.Minute), 3)
	assert.Equal(t, src.NextLSN()+1002, l)
}

func TestDifferentialRestore(t *testing.T) {
	src := New(Options{Seed: 3, DataPages: 500, HotPages: 20, Created: t0})
	workload(src, 40)
	full := src.Snapshot()
	base := src.NextLSN() - 1
	workload(src, 40)
	diffLSN := src.NextLSN()
	changed := src.ChangedSince(base)
	workload(src, 10)

	assert.Less(t, len(changed), len(src.Snapshot().Modified())+1)
	for i := 1; i < len(changed); i++ {
		require.Less(t, changed[i-1].ID, changed[i].ID, "sorted by page id")
	}
	for _, p := range changed {
		require.Greater(t, p.Version, base)
	}

	dst := NewRestoring(3, 500)
	for _, p := range full.Modified() {
		dst.SetPage(p.ID, p.Version)
	}
	for _, p := range changed {
		dst.SetPage(p.ID, p.Version)
	}
	// changed was taken when NextLSN was diffLSN: the restored image is the source then.
	assert.Equal(t, src.DigestAtLSN(diffLSN), dst.Digest())
	for _, r := range src.Records(diffLSN, src.NextLSN()) {
		require.NoError(t, dst.ApplyRecord(r))
	}
	assert.Equal(t, src.Digest(), dst.Digest())
}

func TestApplyRecordRules(t *testing.T) {
	d := NewRestoring(1, 10)
	require.NoError(t, d.ApplyRecord(Record{LSN: 50, Time: t0, Kind: Checkpoint}), "the first record may start anywhere")
	assert.Equal(t, LSN(51), d.NextLSN())
	require.NoError(t, d.ApplyRecord(Record{LSN: 49, Time: t0, Kind: Marker}), "already covered: ignored")
	assert.Len(t, d.Records(0, 100), 1)

	err := d.ApplyRecord(Record{LSN: 53, Time: t0, Kind: Marker})
	assert.ErrorIs(t, err, ErrLogGap)
	err = d.ApplyRecord(Record{LSN: 51, Time: t0.Add(-time.Second), Kind: Marker})
	assert.ErrorIs(t, err, ErrClockBehind)
	err = d.ApplyRecord(Record{LSN: 51, Time: t0, Kind: PageWrite, PageID: 10})
	assert.ErrorIs(t, err, ErrBadRecord)
	err = d.ApplyRecord(Record{LSN: 51, Time: t0, Kind: 99})
	assert.ErrorIs(t, err, ErrBadRecord)
	assert.Equal(t, LSN(51), d.NextLSN(), "rejected records change nothing")

	// Redo of a write the image already holds keeps the newer version.
	d.SetPage(4, 60)
	require.NoError(t, d.ApplyRecord(Record{LSN: 51, Time: t0, Kind: PageWrite, PageID: 4}))
	assert.Equal(t, LSN(60), d.PageVersion(4))
	require.NoError(t, d.ApplyRecord(Record{LSN: 52, Time: t0, Kind: PageWrite, PageID: 5}))
	assert.Equal(t, LSN(52), d.PageVersion(5))
	assert.Equal(t, d.Digest(), d.DigestAtLSN(53))
}

func TestWriteIsDeterministicAndHot(t *testing.T) {
	a := New(Options{Seed: 8, DataPages: 10000, Created: t0})
	b := New(Options{Seed: 8, DataPages: 10000, Created: t0})
	a.Write(t0, 20000)
	b.Write(t0, 20000)
	assert.Equal(t, a.Records(1, 30000), b.Records(1, 30000))
	assert.Equal(t, a.Digest(), b.Digest())

	hot := 0
	for _, r := range a.Records(1, a.NextLSN()) {
		require.Equal(t, PageWrite, r.Kind)
		require.Less(t, r.PageID, int64(10000))
		if r.PageID < a.HotPages() {
			hot++
		}
	}
	// 80% hot picks plus the 10% of cold picks that land in the hot range anyway.
	assert.InDelta(t, 0.82, float64(hot)/20000, 0.02)
}

func TestWriteClockNeverGoesBack(t *testing.T) {
	d := New(Options{Seed: 1, DataPages: 10})
	d.Write(t0, 1)
	assert.Panics(t, func() { d.Write(t0.Add(-time.Nanosecond), 1) })
	assert.Panics(t, func() { d.WritePages(t0, []int64{10}) })
	assert.Equal(t, LSN(2), d.NextLSN())
}

func TestSnapshotAndRecordsViews(t *testing.T) {
	d := New(Options{Seed: 2, DataPages: 6, Created: t0})
	d.WritePages(t0, []int64{3, 1, 3})
	s := d.Snapshot()
	d.WritePages(t0, []int64{5}) // after the snapshot: not in it

	var all []PageVersion
	for p := range s.All() {
		all = append(all, p)
	}
	assert.Equal(t, []PageVersion{{0, 0}, {1, 2}, {2, 0}, {3, 3}, {4, 0}, {5, 0}}, all)
	assert.Equal(t, LSN(3), s.Version(3))
	assert.Equal(t, LSN(0), s.Version(5))
	assert.Equal(t, LSN(4), s.NextLSN())
	assert.Equal(t, d.DigestAtLSN(4), s.Digest())
	assert.Equal(t, []PageVersion{{3, 3}, {5, 4}}, d.ChangedSince(2))

	r, ok := d.Record(2)
	require.True(t, ok)
	assert.Equal(t, Record{LSN: 2, Time: t0, Kind: PageWrite, PageID: 1}, r)
	_, ok = d.Record(9)
	assert.False(t, ok)
}

func TestEachRecordBatches(t *testing.T) {
	d := New(Options{Seed: 2, DataPages: 100, Created: t0})
	d.Write(t0, 10000)
	var got []LSN
	require.NoError(t, d.EachRecord(3, 9990, func(r Record) error {
		got = append(got, r.LSN)
		return nil
	}))
	require.Len(t, got, 9987)
	assert.Equal(t, LSN(3), got[0])
	assert.Equal(t, LSN(9989), got[len(got)-1])

	stop := errors.New("stop")
	n := 0
	err := d.EachRecord(1, 100, func(Record) error { n++; return stop })
	assert.Equal(t, stop, err)
	assert.Equal(t, 1, n)
}

func TestConcurrentUse(t *testing.T) {
	d := New(Options{Seed: 2, DataPages: 1000, Created: t0})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 200 {
			d.Write(t0.Add(time.Duration(i)*time.Second), 10)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 200 {
			_ = d.DigestAt(t0.Add(time.Duration(i) * time.Second))
			_ = d.Snapshot()
		}
	}()
	wg.Wait()
	assert.Equal(t, LSN(2001), d.NextLSN())
}

func BenchmarkPageBytes(b *testing.B) {
	dst := make([]byte, PageSize)
	b.SetBytes(PageSize)
	for i := 0; b.Loop(); i++ {
		PageBytes(dst, 1, int64(i), LSN(i))
	}
}

func BenchmarkWrite(b *testing.B) {
	d := New(Options{Seed: 1, DataPages: 1 << 20, Created: t0})
	for b.Loop() {
		d.Write(t0, 1)
	}
}

func BenchmarkDigestAt(b *testing.B) {
	d := New(Options{Seed: 1, DataPages: 1 << 20, Created: t0})
	for i := range 100000 {
		d.Write(t0.Add(time.Duration(i)*time.Millisecond), 1)
	}
	for i := 0; b.Loop(); i++ {
		d.DigestAt(t0.Add(time.Duration(i%100000) * time.Millisecond))
	}
}
