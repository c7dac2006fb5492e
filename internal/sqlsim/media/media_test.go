package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func uuid(b byte) sqltypes.UUID {
	var u sqltypes.UUID
	for i := range u {
		u[i] = b + byte(i)
	}
	return u
}

func testHeader(typ int, db *content.Database) Header {
	return Header{
		BackupType:   typ,
		BackupName:   "sqlvault",
		DatabaseName: "Sales",
		ServerName:   "SQL01", MachineName: "SQL01", UserName: "sa",
		Collation: "SQL_Latin1_General_CP1_CI_AS", RecoveryModel: "FULL",
		DatabaseGUID: uuid(1), FamilyGUID: uuid(2), BackupSetGUID: uuid(3), MediaSetGUID: uuid(4),
		LSNOffset: "34000000010000000", FirstLSN: 10, LastLSN: 20, CheckpointLSN: 12,
		BackupStartDate:      t0,
		SoftwareVersionMajor: 16, SoftwareVersionBuild: 4135, CompatibilityLevel: 160,
		Seed: db.Seed(), DataPages: db.DataPages(),
		Files: []FileInfo{
			{LogicalName: "Sales", PhysicalName: "/var/opt/mssql/data/Sales.mdf", Type: 'D',
				FileGroupName: "PRIMARY", SizeBytes: db.DataPages() * content.PageSize, FileID: 1},
			{LogicalName: "Sales_log", PhysicalName: "/var/opt/mssql/data/Sales_log.ldf", Type: 'L',
				SizeBytes: 8 << 20, FileID: 2},
		},
	}
}

// backup is a written backup set: the stripes' bytes and what went in.
type backup struct {
	stripes [][]byte
	header  Header
	trailer Trailer
	pages   []content.PageVersion
	logs    []content.Record
}

func (b *backup) devices() []Stripe {
	out := make([]Stripe, len(b.stripes))
	for i, s := range b.stripes {
		out[i] = Stripe{R: bytes.NewReader(s), Size: int64(len(s)), Name: fmt.Sprintf("https://vm1/c/b_%d.bak", i+1)}
	}
	return out
}

func writeBackup(t testing.TB, n int, h Header, o WriterOptions, pages []content.PageVersion, logs []content.Record) *backup {
	bufs := make([]*bytes.Buffer, n)
	ws := make([]io.Writer, n)
	for i := range bufs {
		bufs[i] = new(bytes.Buffer)
		ws[i] = bufs[i]
	}
	w, err := NewWriter(ws, h, o)
	require.NoError(t, err)
	for _, p := range pages {
		require.NoError(t, w.WritePage(p.ID, p.Version))
	}
	for _, r := range logs {
		require.NoError(t, w.WriteLogRecord(r))
	}
	require.NoError(t, w.Close(Trailer{BackupFinishDate: t0.Add(time.Minute)}))
	b := &backup{header: w.Header(), trailer: w.Trailer(), pages: pages, logs: logs}
	for _, buf := range bufs {
		b.stripes = append(b.stripes, buf.Bytes())
	}
	return b
}

// readAll reads every item of a media set.
func readAll(stripes []Stripe) (pages []content.PageVersion, logs []content.Record, r *Reader, err error) {
	r, err = Open(stripes)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	for {
		it, err := r.Next()
		if err == io.EOF {
			return pages, logs, r, nil
		}
		if err != nil {
			return pages, logs, r, err
		}
		if it.Page != nil {
			pages = append(pages, *it.Page)
		} else {
			logs = append(logs, *it.Log)
		}
	}
}

// source is a database with some history, and the content of its backups.
type source struct {
	db          *content.Database
	full        []content.PageVersion
	first, last content.LSN // log range included in the full
	diff        []content.PageVersion
	diffFirst   content.LSN
	diffLast    content.LSN
}

func newSource(dataPages int64) *source {
	db := content.New(content.Options{Seed: 99, DataPages: dataPages, HotPages: dataPages / 8, Created: t0})
	now := t0
	step := func(n int) {
		for range n {
			now = now.Add(time.Second)
			db.Write(now, 7)
			db.Append(now, content.Checkpoint)
		}
	}
	s := &source{db: db}
	step(20)
	s.first = db.NextLSN()
	step(5)
	for p := range db.Snapshot().All() { // the full copies pages while writes go on
		s.full = append(s.full, p)
	}
	step(5)
	s.last = db.NextLSN()
	step(30)
	s.diffFirst = db.NextLSN()
	s.diff = db.ChangedSince(s.first - 1)
	step(3)
	s.diffLast = db.NextLSN()
	step(40)
	return s
}

func TestRoundTrip(t *testing.T) {
	src := newSource(300)
	kinds := []struct {
		name  string
		typ   int
		pages []content.PageVersion
		logs  []content.Record
	}{
		{"full", TypeFull, src.full, src.db.Records(src.first, src.last)},
		{"diff", TypeDifferential, src.diff, src.db.Records(src.diffFirst, src.diffLast)},
		{"log", TypeLog, nil, src.db.Records(src.first, src.db.NextLSN())},
	}
	for _, k := range kinds {
		for _, n := range []int{1, 3, 64} {
			for _, compress := range []bool{false, true} {
				for _, checksum := range []bool{false, true} {
					name := fmt.Sprintf("%s/stripes=%d/compress=%v/checksum=%v", k.name, n, compress, checksum)
					t.Run(name, func(t *testing.T) {
						h := testHeader(k.typ, src.db)
						o := WriterOptions{Compress: compress, Checksum: checksum, ChunkSize: 64 << 10}
						b := writeBackup(t, n, h, o, k.pages, k.logs)

						want := h
						want.StripeCount, want.Compressed, want.HasBackupChecksums = n, compress, checksum
						assert.Equal(t, want, b.header, "NewWriter completes the header")
						assert.Equal(t, int64(len(k.pages)), b.trailer.PageCount)
						assert.Equal(t, int64(len(k.logs)), b.trailer.LogRecordCount)
						if compress {
							assert.Less(t, b.trailer.CompressedBackupSize, b.trailer.BackupSize*3/4)
						} else {
							assert.Equal(t, b.trailer.BackupSize, b.trailer.CompressedBackupSize)
						}

						pages, logs, r, err := readAll(b.devices())
						require.NoError(t, err)
						assert.Equal(t, k.pages, pages)
						assert.Equal(t, k.logs, logs)
						assert.Equal(t, b.header, r.Header())
						assert.Equal(t, b.trailer, r.Trailer())
						assert.Equal(t, b.trailer.BackupSize, r.BytesRead())

						for _, d := range b.devices() {
							hh, tt, err := ReadHeader(d)
							require.NoError(t, err)
							assert.Equal(t, b.header, hh)
							assert.Equal(t, b.trailer, tt)
						}
					})
				}
			}
		}
	}
}

// restoreFrom applies a backup set to dst the way RESTORE does.
func restoreFrom(t *testing.T, dst **content.Database, b *backup, stopAt content.LSN) {
	r, err := Open(b.devices())
	require.NoError(t, err)
	defer r.Close()
	h := r.Header()
	if *dst == nil {
		*dst = content.NewRestoring(h.Seed, h.DataPages)
	}
	for {
		it, err := r.Next()
		if err == io.EOF {
			return
		}
		require.NoError(t, err)
		if it.Page != nil {
			(*dst).SetPage(it.Page.ID, it.Page.Version)
		} else if it.Log.LSN < stopAt {
			require.NoError(t, (*dst).ApplyRecord(*it.Log))
		}
	}
}

func TestRestoreThroughMediaGivesSourceContent(t *testing.T) {
	src := newSource(500)
	db := src.db
	o := WriterOptions{Compress: true, Checksum: true, ChunkSize: 32 << 10}
	full := writeBackup(t, 3, testHeader(TypeFull, db), o, src.full, db.Records(src.first, src.last))
	diff := writeBackup(t, 2, testHeader(TypeDifferential, db), o, src.diff, db.Records(src.diffFirst, src.diffLast))
	log1 := writeBackup(t, 1, testHeader(TypeLog, db), o, nil, db.Records(src.first, src.diffLast+20))
	log2 := writeBackup(t, 1, testHeader(TypeLog, db), o, nil, db.Records(src.diffLast+20, db.NextLSN()))

	var dst *content.Database
	restoreFrom(t, &dst, full, content.LSN(^uint64(0)))
	assert.Equal(t, db.DigestAtLSN(src.last), dst.Digest(), "full")
	restoreFrom(t, &dst, diff, content.LSN(^uint64(0)))
	assert.Equal(t, db.DigestAtLSN(src.diffLast), dst.Digest(), "full + differential")
	restoreFrom(t, &dst, log1, content.LSN(^uint64(0)))
	assert.Equal(t, db.DigestAtLSN(src.diffLast+20), dst.Digest(), "+ log 1")

	// STOPAT an instant inside log 2.
	stop := db.Records(src.diffLast+100, src.diffLast+101)[0].Time
	restoreFrom(t, &dst, log2, db.LSNAt(stop))
	assert.Equal(t, db.DigestAt(stop), dst.Digest(), "+ log 2 up to STOPAT")
	assert.NotEqual(t, db.Digest(), dst.Digest())
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func TestReadHeaderReadsOnlyHeadAndTail(t *testing.T) {
	db := content.New(content.Options{Seed: 1, DataPages: 3000})
	var pages []content.PageVersion
	for p := range db.Snapshot().All() {
		pages = append(pages, p)
	}
	b := writeBackup(t, 1, testHeader(TypeFull, db), WriterOptions{}, pages, nil)
	size := int64(len(b.stripes[0]))
	require.Greater(t, size, int64(23<<20))

	c := &countingReaderAt{r: bytes.NewReader(b.stripes[0])}
	h, tr, err := ReadHeader(Stripe{R: c, Size: size, Name: "d"})
	require.NoError(t, err)
	assert.Equal(t, "Sales", h.DatabaseName)
	assert.Equal(t, int64(3000), tr.PageCount)
	assert.Less(t, c.n.Load(), int64(4096), "header and trailer only")
}

func TestOpenAcceptsStripesInAnyOrder(t *testing.T) {
	src := newSource(100)
	b := writeBackup(t, 4, testHeader(TypeFull, src.db), WriterOptions{ChunkSize: 16 << 10}, src.full, nil)
	d := b.devices()
	pages, _, _, err := readAll([]Stripe{d[2], d[0], d[3], d[1]})
	require.NoError(t, err)
	assert.Equal(t, src.full, pages)
}

func TestOpenErrors(t *testing.T) {
	src := newSource(50)
	b := writeBackup(t, 3, testHeader(TypeFull, src.db), WriterOptions{}, src.full, nil)
	h := testHeader(TypeFull, src.db)
	h.MediaSetGUID = uuid(77) // the same database's backup, another media set
	foreign := writeBackup(t, 3, h, WriterOptions{}, src.full, nil)
	d, fd := b.devices(), foreign.devices()

	_, err := Open(d[:2])
	var me *MediaError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, ErrMissingFamily, me.Kind)
	assert.Equal(t, 3, me.Family)
	assert.Equal(t, "The media set has 3 media families but only 2 are provided. All members must be provided.", err.Error())

	_, err = Open([]Stripe{d[0], d[1], d[1]})
	assert.ErrorIs(t, err, ErrDuplicateFamily)
	assert.Contains(t, err.Error(), "duplicate of stripe set member 2")

	_, err = Open([]Stripe{d[0], d[1], fd[2]})
	require.ErrorAs(t, err, &me)
	assert.Equal(t, ErrMixedMediaSets, me.Kind)
	assert.Equal(t, fd[2].Name, me.Device)

	notBackup := []byte("this is a text file, not a backup; it is long enough to have a header")
	_, err = Open([]Stripe{{R: bytes.NewReader(notBackup), Size: int64(len(notBackup)), Name: "x.txt"}})
	require.ErrorAs(t, err, &me)
	assert.Equal(t, ErrNotABackup, me.Kind)
	assert.Equal(t, "The media family on device 'x.txt' is incorrectly formed. SQL Server cannot process this media family. (no backup media header)", err.Error())
	_, _, err = ReadHeader(Stripe{R: bytes.NewReader(notBackup), Size: int64(len(notBackup)), Name: "x.txt"})
	assert.ErrorIs(t, err, ErrNotABackup)

	// A blob SQL Server created (0 bytes) and never wrote: truncated, not foreign.
	_, err = Open([]Stripe{{R: bytes.NewReader(nil), Size: 0, Name: "empty"}})
	assert.ErrorIs(t, err, ErrTruncated)

	// A device that lies about its size: the reads come up short.
	_, _, err = ReadHeader(Stripe{R: bytes.NewReader(b.stripes[0]), Size: int64(len(b.stripes[0])) + 100, Name: "d"})
	assert.ErrorIs(t, err, ErrTruncated)

	// A failing device: ErrRead with the cause.
	boom := errors.New("connection reset")
	_, err = Open([]Stripe{{R: failingReaderAt{boom}, Size: 1000, Name: "d"}})
	assert.ErrorIs(t, err, ErrRead)
	assert.ErrorIs(t, err, boom)
}

type failingReaderAt struct{ err error }

func (f failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, f.err }

// damaged reports whether reading the media set fails with a media error (and not with
// a panic or a silent success).
func damaged(t *testing.T, stripes []Stripe) *MediaError {
	t.Helper()
	_, _, _, err := readAll(stripes)
	require.Error(t, err)
	var me *MediaError
	require.ErrorAs(t, err, &me, "got %v", err)
	return me
}

// smallBackups are a few kinds of stripes to damage: compressed and not, with checksums,
// pages and log records.
func smallBackups(t *testing.T) map[string]*backup {
	src := newSource(4)
	logs := src.db.Records(1, 40)
	return map[string]*backup{
		"plain":     writeBackup(t, 2, testHeader(TypeFull, src.db), WriterOptions{ChunkSize: 1}, src.full, logs),
		"zstd+csum": writeBackup(t, 2, testHeader(TypeFull, src.db), WriterOptions{Compress: true, Checksum: true, ChunkSize: 1}, src.full, logs),
	}
}

// offsets yields every offset of the first and last 2 KiB of a stripe (heads, the first
// chunk header, trailers, footers) and every 7th in between (the rest is CRC-covered
// payload, where one offset is as good as the next).
func offsets(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for off := 0; off < n; off++ {
			if off >= 2048 && off < n-2048 && off%7 != 0 {
				continue
			}
			if !yield(off) {
				return
			}
		}
	}
}

func TestByteFlipsAreDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("flips every byte")
	}
	for name, b := range smallBackups(t) {
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, b.stripes[1])
			for s := range b.stripes {
				orig := b.stripes[s]
				for off := range offsets(len(orig)) {
					bad := bytes.Clone(orig)
					bad[off] ^= 0x5a
					d := b.devices()
					d[s] = Stripe{R: bytes.NewReader(bad), Size: int64(len(bad)), Name: d[s].Name}
					me := damaged(t, d)
					if off >= len(magic) {
						require.Contains(t, []Kind{ErrCorrupt, ErrTruncated, ErrNotABackup}, me.Kind, "stripe %d offset %d", s, off)
					}
				}
			}
		})
	}
}

func TestTruncationIsDetected(t *testing.T) {
	for name, b := range smallBackups(t) {
		t.Run(name, func(t *testing.T) {
			for s := range b.stripes {
				orig := b.stripes[s]
				for cut := range offsets(len(orig)) {
					d := b.devices()
					d[s] = Stripe{R: bytes.NewReader(orig[:cut]), Size: int64(cut), Name: d[s].Name}
					me := damaged(t, d)
					require.Contains(t, []Kind{ErrCorrupt, ErrTruncated}, me.Kind, "stripe %d cut at %d: %v", s, cut, me)
				}
			}
		})
	}
}

// reseal applies patch to the raw items of a one-stripe, one-chunk, uncompressed backup and
// recomputes the chunk CRC, the stream digest and the trailer CRC, as a buggy writer would
// have: only the checks on the items themselves can then see the damage.
func reseal(t *testing.T, stripe []byte, patch func(raw []byte)) []byte {
	s := bytes.Clone(stripe)
	off := headFixed + int(binary.LittleEndian.Uint32(s[16:]))
	ch, ok := parseChunkHead(s[off : off+chunkHeadLen])
	require.True(t, ok)
	require.Zero(t, ch.flags)
	raw := s[off+chunkHeadLen : off+chunkHeadLen+int(ch.storedLen)]
	patch(raw)
	ch.crc = crc(raw)
	ch.put(s[off:])

	f := s[len(s)-footerLen:]
	js := s[len(s)-footerLen-int(binary.LittleEndian.Uint32(f)) : len(s)-footerLen]
	var wt wireTrailer
	require.NoError(t, json.Unmarshal(js, &wt))
	require.Equal(t, int64(1), wt.TotalChunks)
	sum := sha256.Sum256(raw)
	stream := sha256.Sum256(sum[:])
	wt.StreamDigest = hex.EncodeToString(stream[:])
	js2, err := json.Marshal(wt)
	require.NoError(t, err)
	require.Len(t, js2, len(js))
	copy(js, js2)
	binary.LittleEndian.PutUint32(f[4:], crc(js, f[0:4]))
	return s
}

func readBad(b []byte) error {
	_, _, _, err := readAll([]Stripe{{R: bytes.NewReader(b), Size: int64(len(b)), Name: "d"}})
	return err
}

func TestItemChecks(t *testing.T) {
	src := newSource(10)
	logs := src.db.Records(1, 4)
	for _, csum := range []bool{false, true} {
		b := writeBackup(t, 1, testHeader(TypeFull, src.db), WriterOptions{Checksum: csum}, src.full[:3], logs)
		require.NoError(t, readBad(reseal(t, b.stripes[0], func([]byte) {})), "sanity: resealing alone is harmless")
		pLen := pageItemLen(csum)

		// Page 1 claims another version than its bytes.
		err := readBad(reseal(t, b.stripes[0], func(raw []byte) { raw[pLen+9]++ }))
		var me *MediaError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, ErrCorrupt, me.Kind)
		assert.Equal(t, int64(1), me.Page)
		assert.Contains(t, err.Error(), `RESTORE detected an error on page (1:1) in database "Sales"`)

		// A byte of page 2's data.
		err = readBad(reseal(t, b.stripes[0], func(raw []byte) { raw[3*pLen-100] ^= 1 }))
		require.ErrorAs(t, err, &me)
		assert.Equal(t, int64(2), me.Page)
		if csum {
			assert.Contains(t, err.Error(), "page checksum mismatch")
		} else {
			assert.Contains(t, err.Error(), "page content mismatch")
		}
	}

	b := writeBackup(t, 1, testHeader(TypeLog, src.db), WriterOptions{}, nil, logs)
	err := readBad(reseal(t, b.stripes[0], func(raw []byte) { raw[logItemLen-1] ^= 1 }))
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "log record 1 damaged")

	// Two records swapped: each is intact, their order is not.
	err = readBad(reseal(t, b.stripes[0], func(raw []byte) {
		first := bytes.Clone(raw[:logItemLen])
		copy(raw, raw[logItemLen:2*logItemLen])
		copy(raw[logItemLen:], first)
	}))
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "log record 1 after 2")
}

// failAfter is a stripe that accepts n bytes, then fails.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterSurfacesStripeErrors(t *testing.T) {
	db := content.New(content.Options{Seed: 1, DataPages: 100})
	boom := errors.New("put block failed")
	ws := []io.Writer{io.Discard, &failAfter{n: 5000, err: boom}}
	w, err := NewWriter(ws, testHeader(TypeFull, db), WriterOptions{ChunkSize: 16 << 10})
	require.NoError(t, err)
	var failedAt int
	for id := range int64(100) {
		if err = w.WritePage(id, 0); err != nil {
			failedAt = int(id)
			break
		}
	}
	require.ErrorIs(t, err, boom)
	// One page per 16 KiB chunk. Chunk 0 (page 0) goes to stripe 1; chunk 1 (page 1) is
	// flushed to stripe 2 when page 2 arrives: that call reports the failure.
	assert.Equal(t, 2, failedAt)
	assert.ErrorIs(t, w.WritePage(5, 0), boom)
	assert.ErrorIs(t, w.Close(Trailer{}), boom)

	_, err = NewWriter([]io.Writer{&failAfter{err: boom}}, testHeader(TypeFull, db), WriterOptions{})
	assert.ErrorIs(t, err, boom, "the media header write")
}

func TestWriterValidates(t *testing.T) {
	db := content.New(content.Options{Seed: 1, DataPages: 10})
	h := testHeader(TypeFull, db)
	_, err := NewWriter(nil, h, WriterOptions{})
	assert.Error(t, err)
	_, err = NewWriter(make([]io.Writer, 65), h, WriterOptions{})
	assert.Error(t, err)
	bad := h
	bad.BackupType = 3
	_, err = NewWriter([]io.Writer{io.Discard}, bad, WriterOptions{})
	assert.Error(t, err)

	h.MediaSetGUID = sqltypes.UUID{}
	w, err := NewWriter([]io.Writer{io.Discard}, h, WriterOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, sqltypes.UUID{}, w.Header().MediaSetGUID, "a media set always has an id")
	assert.Error(t, w.WritePage(10, 0))
	require.NoError(t, w.WriteLogRecord(content.Record{LSN: 5, Time: t0, Kind: content.Marker}))
	assert.Error(t, w.WriteLogRecord(content.Record{LSN: 5, Time: t0, Kind: content.Marker}), "LSN order")
	assert.Error(t, w.WriteLogRecord(content.Record{LSN: 6, Time: t0, Kind: content.PageWrite, PageID: 10}))
	require.NoError(t, w.WritePage(9, 3))
	assert.Equal(t, int64(logItemLen+pageItemLen(false)), w.BytesWritten())
	require.NoError(t, w.Close(Trailer{}))
	assert.Error(t, w.WritePage(1, 0), "closed")
}

func TestReaderCloseMidway(t *testing.T) {
	src := newSource(200)
	b := writeBackup(t, 3, testHeader(TypeFull, src.db), WriterOptions{ChunkSize: 16 << 10}, src.full, nil)
	r, err := Open(b.devices())
	require.NoError(t, err)
	it, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, src.full[0], *it.Page)
	require.NoError(t, r.Close())
	_, err = r.Next()
	assert.Error(t, err)
	assert.NoError(t, r.Close())
}

func TestEmptyBackupSet(t *testing.T) {
	db := content.New(content.Options{Seed: 1, DataPages: 10})
	b := writeBackup(t, 2, testHeader(TypeLog, db), WriterOptions{}, nil, nil)
	pages, logs, r, err := readAll(b.devices())
	require.NoError(t, err)
	assert.Empty(t, pages)
	assert.Empty(t, logs)
	assert.Equal(t, int64(0), r.Trailer().BackupSize)
}

func fullPages(n int64) []content.PageVersion {
	rng := rand.New(rand.NewPCG(1, 1))
	out := make([]content.PageVersion, n)
	for i := range out {
		out[i] = content.PageVersion{ID: int64(i), Version: content.LSN(rng.IntN(1000))}
	}
	return out
}

func BenchmarkWriterFull(b *testing.B) {
	const n = 4096 // 32 MiB
	pages := fullPages(n)
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("compress=%v", compress), func(b *testing.B) {
			db := content.New(content.Options{Seed: 1, DataPages: n})
			b.SetBytes(n * content.PageSize)
			for b.Loop() {
				w, err := NewWriter([]io.Writer{io.Discard, io.Discard}, testHeader(TypeFull, db), WriterOptions{Compress: compress})
				require.NoError(b, err)
				for _, p := range pages {
					if err := w.WritePage(p.ID, p.Version); err != nil {
						b.Fatal(err)
					}
				}
				require.NoError(b, w.Close(Trailer{}))
			}
		})
	}
}

func BenchmarkReaderFull(b *testing.B) {
	const n = 4096
	pages := fullPages(n)
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("compress=%v", compress), func(b *testing.B) {
			db := content.New(content.Options{Seed: 1, DataPages: n})
			bk := writeBackup(b, 2, testHeader(TypeFull, db), WriterOptions{Compress: compress}, pages, nil)
			b.SetBytes(n * content.PageSize)
			for b.Loop() {
				r, err := Open(bk.devices())
				require.NoError(b, err)
				for {
					if _, err := r.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
