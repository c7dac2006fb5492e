package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
)

// Stripe is one media family to read: a blob read with ranged GETs, a file, a buffer.
type Stripe struct {
	R    io.ReaderAt
	Size int64
	Name string // device name for errors
}

// Item is one thing read from the backup: a page or a log record.
type Item struct {
	Page *content.PageVersion
	Log  *content.Record
}

// head is a parsed stripe head.
type head struct {
	family, families int
	wire             wireHeader
	raw              []byte // the JSON, to compare stripes
	end              int64  // where the chunks start
}

// readAt reads len(p) bytes at off; a short read is ErrTruncated, another failure ErrRead.
func readAt(s Stripe, family int, p []byte, off int64) error {
	n, err := s.R.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated(s.Name, family, fmt.Sprintf("%d bytes at offset %d, got %d", len(p), off, n))
	}
	e := mediaErr(ErrRead, s.Name, family, "Read on \"%s\" failed: %v", s.Name, err)
	e.Err = err
	return e
}

func readHead(s Stripe) (head, error) {
	var h head
	fixed := make([]byte, headFixed)
	n := min(s.Size, headFixed)
	if err := readAt(s, 0, fixed[:n], 0); err != nil {
		return h, err
	}
	m := min(n, int64(len(magic)))
	if !bytes.Equal(fixed[:m], []byte(magic)[:m]) {
		return h, errNotABackup(s.Name, "no backup media header")
	}
	if n < headFixed {
		return h, errTruncated(s.Name, 0, "media header cut short")
	}
	if v := binary.LittleEndian.Uint16(fixed[8:]); v != formatVersion {
		return h, errNotABackup(s.Name, fmt.Sprintf("media format version %d is not supported", v))
	}
	h.family = int(binary.LittleEndian.Uint16(fixed[10:]))
	h.families = int(binary.LittleEndian.Uint16(fixed[12:]))
	hlen := int64(binary.LittleEndian.Uint32(fixed[16:]))
	if hlen > maxHeaderLen {
		return h, errCorrupt(s.Name, 0, "media header length %d", hlen)
	}
	if headFixed+hlen > s.Size {
		return h, errTruncated(s.Name, 0, "media header cut short")
	}
	h.raw = make([]byte, hlen)
	if err := readAt(s, 0, h.raw, headFixed); err != nil {
		return h, err
	}
	if crc(fixed[:20], h.raw) != binary.LittleEndian.Uint32(fixed[20:]) {
		return h, errCorrupt(s.Name, 0, "media header checksum mismatch")
	}
	if err := json.Unmarshal(h.raw, &h.wire); err != nil {
		return h, errCorrupt(s.Name, 0, "media header: %v", err)
	}
	hd := &h.wire.Header
	switch {
	case h.wire.Format != formatVersion,
		h.families < 1 || h.families > MaxStripes || h.families != hd.StripeCount,
		h.family < 1 || h.family > h.families,
		h.wire.ChunkSize < logItemLen || h.wire.ChunkSize > maxChunkSize,
		hd.DataPages <= 0:
		return h, errCorrupt(s.Name, h.family, "inconsistent media header")
	}
	h.end = headFixed + hlen
	return h, nil
}

func readTail(s Stripe, h head) (wireTrailer, error) {
	var t wireTrailer
	if s.Size < h.end+footerLen {
		return t, errTruncated(s.Name, h.family, "no backup trailer")
	}
	f := make([]byte, footerLen)
	if err := readAt(s, h.family, f, s.Size-footerLen); err != nil {
		return t, err
	}
	// No footer: the backup never finished or the blob was cut.
	if string(f[8:]) != endMagic {
		return t, errTruncated(s.Name, h.family, "no backup trailer")
	}
	tlen := int64(binary.LittleEndian.Uint32(f[0:]))
	start := s.Size - footerLen - tlen
	if tlen > maxTrailerLen || start < h.end {
		return t, errCorrupt(s.Name, h.family, "trailer length %d", tlen)
	}
	js := make([]byte, tlen)
	if err := readAt(s, h.family, js, start); err != nil {
		return t, err
	}
	if crc(js, f[0:4]) != binary.LittleEndian.Uint32(f[4:]) {
		return t, errCorrupt(s.Name, h.family, "trailer checksum mismatch")
	}
	if err := json.Unmarshal(js, &t); err != nil {
		return t, errCorrupt(s.Name, h.family, "trailer: %v", err)
	}
	if t.Family != h.family || t.DataEnd != start || t.MediaSetGUID != h.wire.Header.MediaSetGUID.String() ||
		t.Chunks < 0 || t.Chunks > t.TotalChunks {
		return t, errCorrupt(s.Name, h.family, "trailer does not match the media header")
	}
	return t, nil
}

// ReadHeader reads the header and trailer of one stripe (RESTORE HEADERONLY and
// FILELISTONLY): only its head and tail, whatever its size.
func ReadHeader(s Stripe) (Header, Trailer, error) {
	h, err := readHead(s)
	if err != nil {
		return Header{}, Trailer{}, err
	}
	t, err := readTail(s, h)
	if err != nil {
		return Header{}, Trailer{}, err
	}
	return h.wire.Header, t.Trailer, nil
}

// HeadLen is how many bytes from a stripe's start hold its header, read from the first
// HeadFixed bytes (a sequential reader knows from them how much more it needs); ok is false
// when those bytes are not a media head.
func HeadLen(fixed []byte) (n int64, ok bool) {
	if len(fixed) < headFixed || !bytes.Equal(fixed[:len(magic)], []byte(magic)) {
		return 0, false
	}
	hlen := int64(binary.LittleEndian.Uint32(fixed[16:]))
	if hlen > maxHeaderLen {
		return 0, false
	}
	return headFixed + hlen, true
}

// HeadFixed is the fixed part of a stripe's head (see HeadLen).
const HeadFixed = headFixed

// ReadHeaderOnly reads one stripe's header without its trailer: what a reader of a
// sequential device has before the data (RESTORE FILELISTONLY from a virtual device).
func ReadHeaderOnly(s Stripe) (Header, error) {
	h, err := readHead(s)
	if err != nil {
		return Header{}, err
	}
	return h.wire.Header, nil
}

// stripeState is one opened family.
type stripeState struct {
	s    Stripe
	head head
	tail wireTrailer
}

// Reader reads a backup set's items in the order they were written. Open checks heads and
// trailers; Next reads the chunks, one goroutine per stripe verifying and decoding ahead of
// the caller by at most readAhead chunks. Call Close when stopping before io.EOF.
type Reader struct {
	st        []stripeState // by family
	h         Header
	chunkSize int
	results   []chan chunkResult
	done      chan struct{}
	wg        sync.WaitGroup
	started   bool
	cur       []Item
	pos       int
	seq       int64
	stream    hash.Hash
	read      atomic.Int64
	pages     int64
	logs      int64
	lastLSN   content.LSN
	err       error // sticky: io.EOF or the first error
	closeOnce sync.Once
}

// readAhead is the number of decoded chunks a stripe may hold before the caller takes them.
const readAhead = 2

type chunkResult struct {
	items  []Item
	digest [32]byte
	err    error
	end    bool // the stripe has no more chunks (verified against its trailer)
}

// Open validates a media set: every stripe is a backup of the same media set, every family
// is present exactly once. Stripes may come in any order.
func Open(stripes []Stripe) (*Reader, error) {
	if len(stripes) == 0 {
		return nil, errors.New("media: no stripes to read")
	}
	heads := make([]head, len(stripes))
	for i, s := range stripes {
		h, err := readHead(s)
		if err != nil {
			return nil, err
		}
		heads[i] = h
	}
	first := heads[0]
	for i, h := range heads[1:] {
		if !bytes.Equal(h.raw, first.raw) {
			s := stripes[i+1]
			return nil, mediaErr(ErrMixedMediaSets, s.Name, h.family,
				"The volume on device '%s' is not part of the media set of device '%s' (media set %s, expected %s).",
				s.Name, stripes[0].Name, h.wire.Header.MediaSetGUID, first.wire.Header.MediaSetGUID)
		}
	}
	byFamily := make([]stripeState, first.families)
	for i, h := range heads {
		if prev := byFamily[h.family-1]; prev.s.R != nil {
			return nil, mediaErr(ErrDuplicateFamily, stripes[i].Name, h.family,
				"The volume on device '%s' is a duplicate of stripe set member %d (device '%s').",
				stripes[i].Name, h.family, prev.s.Name)
		}
		byFamily[h.family-1] = stripeState{s: stripes[i], head: h}
	}
	if len(stripes) < first.families {
		missing := 0
		for f, st := range byFamily {
			if st.s.R == nil {
				missing = f + 1
				break
			}
		}
		return nil, mediaErr(ErrMissingFamily, "", missing,
			"The media set has %d media families but only %d are provided. All members must be provided.",
			first.families, len(stripes))
	}
	for i := range byFamily {
		st := &byFamily[i]
		t, err := readTail(st.s, st.head)
		if err != nil {
			return nil, err
		}
		if i > 0 && (t.Trailer != byFamily[0].tail.Trailer || t.TotalChunks != byFamily[0].tail.TotalChunks ||
			t.StreamDigest != byFamily[0].tail.StreamDigest) {
			return nil, errCorrupt(st.s.Name, t.Family, "trailer differs from family 1's")
		}
		// Round-robin: family f holds chunks f-1, f-1+N, …
		if want := (t.TotalChunks - int64(i) + int64(len(byFamily)) - 1) / int64(len(byFamily)); t.Chunks != want {
			return nil, errCorrupt(st.s.Name, t.Family, "trailer counts %d chunks, expected %d", t.Chunks, want)
		}
		st.tail = t
	}
	return &Reader{st: byFamily, h: first.wire.Header, chunkSize: first.wire.ChunkSize, stream: sha256.New()}, nil
}

// Header returns the backup set's header.
func (r *Reader) Header() Header { return r.h }

// Trailer returns the backup set's trailer (read by Open from the stripes' tails).
func (r *Reader) Trailer() Trailer { return r.st[0].tail.Trailer }

// BytesRead returns the logical item bytes returned so far; against Trailer().BackupSize it
// is the progress of a restore.
func (r *Reader) BytesRead() int64 { return r.read.Load() }

// Next returns the next item, io.EOF after the last one once the stream digest and the
// counts in the trailer have been verified, or the first error (then always that error).
func (r *Reader) Next() (Item, error) {
	for {
		if r.pos < len(r.cur) {
			it := r.cur[r.pos]
			r.pos++
			if err := r.account(it); err != nil {
				return Item{}, r.fail(err)
			}
			return it, nil
		}
		if r.err != nil {
			return Item{}, r.err
		}
		if !r.started {
			r.start()
		}
		if r.seq == r.st[0].tail.TotalChunks {
			return Item{}, r.fail(r.finish())
		}
		f := int(r.seq % int64(len(r.st)))
		res := <-r.results[f]
		if res.err != nil {
			return Item{}, r.fail(res.err)
		}
		if res.end {
			return Item{}, r.fail(errCorrupt(r.st[f].s.Name, f+1, "chunk %d missing", r.seq))
		}
		r.stream.Write(res.digest[:])
		r.cur, r.pos = res.items, 0
		r.seq++
	}
}

// account checks what can only be checked across chunks and counts progress.
func (r *Reader) account(it Item) error {
	if it.Log != nil {
		if it.Log.LSN <= r.lastLSN {
			return errCorrupt(r.st[0].s.Name, 0, "log record %d after %d", it.Log.LSN, r.lastLSN)
		}
		r.lastLSN = it.Log.LSN
		r.logs++
		r.read.Add(logItemLen)
		return nil
	}
	r.pages++
	r.read.Add(int64(pageItemLen(r.h.HasBackupChecksums)))
	return nil
}

// finish verifies the end of the stream: every stripe ends here, the digest and the counts
// match the trailer.
func (r *Reader) finish() error {
	for f := range r.st {
		res := <-r.results[f]
		if res.err != nil {
			return res.err
		}
		if !res.end {
			return errCorrupt(r.st[f].s.Name, f+1, "chunk beyond the end of the backup set")
		}
	}
	t := r.st[0].tail
	if got := hex.EncodeToString(r.stream.Sum(nil)); got != t.StreamDigest {
		return errCorrupt(r.st[0].s.Name, 1, "backup stream digest mismatch")
	}
	if r.pages != t.Trailer.PageCount || r.logs != t.Trailer.LogRecordCount || r.read.Load() != t.Trailer.BackupSize {
		return errCorrupt(r.st[0].s.Name, 1, "backup set counts differ from its trailer")
	}
	return io.EOF
}

func (r *Reader) fail(err error) error {
	r.err = err
	r.cur, r.pos = nil, 0
	r.stop()
	return err
}

// Close stops the read-ahead. It is safe to call more than once and after io.EOF.
func (r *Reader) Close() error {
	if r.err == nil {
		r.err = errors.New("media: reader is closed")
	}
	r.stop()
	return nil
}

func (r *Reader) stop() {
	r.closeOnce.Do(func() {
		if r.started {
			close(r.done)
			r.wg.Wait()
		}
	})
}

func (r *Reader) start() {
	r.started = true
	r.done = make(chan struct{})
	r.results = make([]chan chunkResult, len(r.st))
	for f := range r.st {
		r.results[f] = make(chan chunkResult, readAhead)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.readStripe(f)
		}()
	}
}

// stripeReader reads and verifies one family's chunks.
type stripeReader struct {
	r      *Reader
	st     *stripeState
	family int
	dec    *zstd.Decoder
	stored []byte
	raw    []byte
	page   []byte
	pay    []byte
}

// readStripe sends family f's chunks, verified and decoded, then an end marker or an error.
func (r *Reader) readStripe(f int) {
	sr := &stripeReader{r: r, st: &r.st[f], family: f + 1, page: make([]byte, content.PageSize),
		pay: make([]byte, content.LogPayloadSize)}
	if r.h.Compressed {
		sr.dec = decoders.Get().(*zstd.Decoder)
		defer decoders.Put(sr.dec)
	}
	off := sr.st.head.end
	n := int64(len(r.st))
	for seq := int64(f); seq < sr.st.tail.TotalChunks; seq += n {
		res, next := sr.chunk(off, uint64(seq))
		if !r.send(f, res) || res.err != nil {
			return
		}
		off = next
	}
	res := chunkResult{end: true}
	if off != sr.st.tail.DataEnd {
		res = chunkResult{err: errCorrupt(sr.st.s.Name, sr.family, "data after the last chunk")}
	}
	r.send(f, res)
}

func (r *Reader) send(f int, res chunkResult) bool {
	select {
	case r.results[f] <- res:
		return true
	case <-r.done:
		return false
	}
}

// chunk reads, verifies and decodes the chunk at off, which must be number seq.
func (sr *stripeReader) chunk(off int64, seq uint64) (chunkResult, int64) {
	name, fam := sr.st.s.Name, sr.family
	fail := func(err error) (chunkResult, int64) { return chunkResult{err: err}, 0 }
	end := sr.st.tail.DataEnd
	if off+chunkHeadLen > end {
		return fail(errCorrupt(name, fam, "chunk %d missing", seq))
	}
	var hb [chunkHeadLen]byte
	if err := readAt(sr.st.s, fam, hb[:], off); err != nil {
		return fail(err)
	}
	h, ok := parseChunkHead(hb[:])
	switch {
	case !ok:
		return fail(errCorrupt(name, fam, "chunk header at offset %d damaged", off))
	case h.seq != seq:
		return fail(errCorrupt(name, fam, "chunk %d found where chunk %d belongs", h.seq, seq))
	case int(h.rawLen) > sr.r.chunkSize || h.rawLen == 0 || h.flags&^flagZstd != 0,
		h.flags == 0 && h.storedLen != h.rawLen,
		off+chunkHeadLen+int64(h.storedLen) > end:
		return fail(errCorrupt(name, fam, "chunk %d header inconsistent", seq))
	}
	sr.stored = grow(sr.stored, int(h.storedLen))
	if err := readAt(sr.st.s, fam, sr.stored, off+chunkHeadLen); err != nil {
		return fail(err)
	}
	if crc(sr.stored) != h.crc {
		return fail(errCorrupt(name, fam, "chunk %d checksum mismatch", seq))
	}
	raw := sr.stored
	if h.flags&flagZstd != 0 {
		if sr.dec == nil {
			return fail(errCorrupt(name, fam, "chunk %d compressed in an uncompressed backup", seq))
		}
		var err error
		// The capacity limits what a damaged frame can make the decoder produce.
		sr.raw, err = sr.dec.DecodeAll(sr.stored, grow(sr.raw, int(h.rawLen))[:0:h.rawLen])
		if err != nil || len(sr.raw) != int(h.rawLen) {
			return fail(errCorrupt(name, fam, "chunk %d does not decompress", seq))
		}
		raw = sr.raw
	}
	res := chunkResult{digest: sha256.Sum256(raw)}
	var err error
	if res.items, err = sr.items(raw, seq); err != nil {
		return fail(err)
	}
	return res, off + chunkHeadLen + int64(h.storedLen)
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// items decodes and verifies a chunk's items. Page and payload bytes must be exactly what
// the content functions generate.
func (sr *stripeReader) items(raw []byte, seq uint64) ([]Item, error) {
	h := &sr.r.h
	name, fam := sr.st.s.Name, sr.family
	pLen := pageItemLen(h.HasBackupChecksums)
	// One allocation per chunk for the values the items point to: the capacity taken from
	// the remaining bytes is never exceeded, so appends do not move them.
	var pages []content.PageVersion
	var logs []content.Record
	items := make([]Item, 0, len(raw)/pLen+1)
	loc := h.BackupStartDate.Location()
	for len(raw) > 0 {
		switch raw[0] {
		case tagPage:
			if len(raw) < pLen {
				return nil, errCorrupt(name, fam, "chunk %d ends inside a page", seq)
			}
			id := int64(binary.LittleEndian.Uint64(raw[1:]))
			v := content.LSN(binary.LittleEndian.Uint64(raw[9:]))
			if id < 0 || id >= h.DataPages {
				return nil, errCorrupt(name, fam, "page %d out of range", id)
			}
			data := raw[pLen-content.PageSize : pLen]
			if h.HasBackupChecksums && crc(data) != binary.LittleEndian.Uint32(raw[pageItemFix:]) {
				return nil, errPage(name, fam, h.DatabaseName, id, "page checksum mismatch")
			}
			content.PageBytes(sr.page, h.Seed, id, v)
			if !bytes.Equal(sr.page, data) {
				return nil, errPage(name, fam, h.DatabaseName, id, "page content mismatch")
			}
			if pages == nil {
				pages = make([]content.PageVersion, 0, len(raw)/pLen)
			}
			pages = append(pages, content.PageVersion{ID: id, Version: v})
			items = append(items, Item{Page: &pages[len(pages)-1]})
			raw = raw[pLen:]
		case tagLog:
			if len(raw) < logItemLen {
				return nil, errCorrupt(name, fam, "chunk %d ends inside a log record", seq)
			}
			rec := content.Record{
				LSN:    content.LSN(binary.LittleEndian.Uint64(raw[1:])),
				Time:   time.Unix(0, int64(binary.LittleEndian.Uint64(raw[9:]))).In(loc),
				Kind:   content.RecordKind(raw[17]),
				PageID: int64(binary.LittleEndian.Uint64(raw[18:])),
			}
			content.LogPayload(sr.pay, h.Seed, rec)
			if !bytes.Equal(sr.pay, raw[26:logItemLen]) {
				return nil, errCorrupt(name, fam, "log record %d damaged", rec.LSN)
			}
			if logs == nil {
				logs = make([]content.Record, 0, len(raw)/logItemLen)
			}
			logs = append(logs, rec)
			items = append(items, Item{Log: &logs[len(logs)-1]})
			raw = raw[logItemLen:]
		default:
			return nil, errCorrupt(name, fam, "chunk %d holds an unknown item", seq)
		}
	}
	return items, nil
}
