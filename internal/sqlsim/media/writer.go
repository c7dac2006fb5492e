package media

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// WriterOptions are the BACKUP options that change the media.
type WriterOptions struct {
	Compress bool // zstd every chunk (COMPRESSION)
	Checksum bool // a CRC32C per page (CHECKSUM; HasBackupChecksums)
	// ChunkSize is the raw bytes of items per chunk; 0 means 1 MiB. It is raised to fit at
	// least one page and capped at 64 MiB.
	ChunkSize int
}

// Writer writes one backup set to its stripes. It is not safe for concurrent use, except
// BytesWritten, which a progress reporter may call at any time.
//
// It holds one chunk in memory and writes it to its stripe, synchronously, as soon as the
// next item does not fit (or on Close): a stripe's write error is returned by that call,
// and by every later call.
type Writer struct {
	stripes []io.Writer
	h       Header
	o       WriterOptions
	enc     *zstd.Encoder
	buf     []byte // chunkHeadLen reserved bytes, then the raw items of the current chunk
	comp    []byte // chunkHeadLen bytes, then the compressed payload
	seq     uint64
	chunks  []int64 // chunks written per stripe
	offs    []int64 // bytes written per stripe
	stream  hash.Hash
	written atomic.Int64
	stored  int64
	pages   int64
	logs    int64
	lastLSN content.LSN
	err     error
	closed  bool
	trailer Trailer
}

// NewWriter writes the head of every stripe and returns the writer. It completes h:
// StripeCount, HasBackupChecksums and Compressed come from the stripes and options, and a
// zero MediaSetGUID is replaced by a random one.
func NewWriter(stripes []io.Writer, h Header, o WriterOptions) (*Writer, error) {
	if len(stripes) < 1 || len(stripes) > MaxStripes {
		return nil, fmt.Errorf("media: %d stripes; a backup has 1 to %d", len(stripes), MaxStripes)
	}
	switch h.BackupType {
	case TypeFull, TypeLog, TypeDifferential:
	default:
		return nil, fmt.Errorf("media: unknown backup type %d", h.BackupType)
	}
	if h.DataPages <= 0 {
		return nil, fmt.Errorf("media: DataPages %d must be positive", h.DataPages)
	}
	h.StripeCount = len(stripes)
	h.HasBackupChecksums = o.Checksum
	h.Compressed = o.Compress
	if h.MediaSetGUID == (sqltypes.UUID{}) {
		_, _ = rand.Read(h.MediaSetGUID[:]) // crypto/rand.Read never fails
	}
	switch {
	case o.ChunkSize == 0:
		o.ChunkSize = defaultChunkSize
	case o.ChunkSize > maxChunkSize:
		o.ChunkSize = maxChunkSize
	}
	o.ChunkSize = max(o.ChunkSize, pageItemLen(true), logItemLen)

	w := &Writer{
		stripes: stripes,
		h:       h,
		o:       o,
		buf:     make([]byte, chunkHeadLen, chunkHeadLen+o.ChunkSize),
		chunks:  make([]int64, len(stripes)),
		offs:    make([]int64, len(stripes)),
		stream:  sha256.New(),
	}
	if o.Compress {
		w.enc = encoders.Get().(*zstd.Encoder)
		w.comp = make([]byte, chunkHeadLen, chunkHeadLen+o.ChunkSize)
	}
	js, err := json.Marshal(wireHeader{Format: formatVersion, ChunkSize: o.ChunkSize, Header: h})
	if err != nil {
		return nil, fmt.Errorf("media: encode header: %w", err)
	}
	if len(js) > maxHeaderLen {
		return nil, fmt.Errorf("media: header of %d bytes is too large", len(js))
	}
	head := make([]byte, headFixed+len(js))
	copy(head, magic)
	binary.LittleEndian.PutUint16(head[8:], formatVersion)
	binary.LittleEndian.PutUint16(head[12:], uint16(len(stripes)))
	binary.LittleEndian.PutUint32(head[16:], uint32(len(js)))
	copy(head[headFixed:], js)
	for i := range stripes {
		binary.LittleEndian.PutUint16(head[10:], uint16(i+1)) // the family number
		binary.LittleEndian.PutUint32(head[20:], crc(head[:20], js))
		if err := w.write(i, head); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Header returns the header as written (completed by NewWriter).
func (w *Writer) Header() Header { return w.h }

// BytesWritten returns the logical (uncompressed) item bytes accepted so far: the measure
// of STATS progress, against the backup's expected size.
func (w *Writer) BytesWritten() int64 { return w.written.Load() }

func (w *Writer) write(stripe int, b []byte) error {
	if _, err := w.stripes[stripe].Write(b); err != nil {
		w.err = fmt.Errorf("media: write to stripe %d: %w", stripe+1, err)
		return w.err
	}
	w.offs[stripe] += int64(len(b))
	return nil
}

// reserve makes room for an item of n bytes, flushing the current chunk if it would not
// fit, and returns the slice to fill.
func (w *Writer) reserve(n int) ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.closed {
		return nil, errors.New("media: writer is closed")
	}
	if len(w.buf) > chunkHeadLen && len(w.buf)-chunkHeadLen+n > w.o.ChunkSize {
		if err := w.flush(); err != nil {
			return nil, err
		}
	}
	l := len(w.buf)
	w.buf = w.buf[:l+n]
	w.written.Add(int64(n))
	return w.buf[l:], nil
}

// WritePage writes page id at version v; its bytes are content.PageBytes.
func (w *Writer) WritePage(id int64, v content.LSN) error {
	if id < 0 || id >= w.h.DataPages {
		return fmt.Errorf("media: page %d out of range [0,%d)", id, w.h.DataPages)
	}
	b, err := w.reserve(pageItemLen(w.o.Checksum))
	if err != nil {
		return err
	}
	b[0] = tagPage
	binary.LittleEndian.PutUint64(b[1:], uint64(id))
	binary.LittleEndian.PutUint64(b[9:], uint64(v))
	page := b[len(b)-content.PageSize:]
	content.PageBytes(page, w.h.Seed, id, v)
	if w.o.Checksum {
		binary.LittleEndian.PutUint32(b[pageItemFix:], crc(page))
	}
	w.pages++
	return nil
}

// WriteLogRecord writes a log record and its content.LogPayload. Records must come in
// increasing LSN order.
func (w *Writer) WriteLogRecord(r content.Record) error {
	if r.LSN <= w.lastLSN {
		return fmt.Errorf("media: log record %d after %d: records must be in LSN order", r.LSN, w.lastLSN)
	}
	switch r.Kind {
	case content.PageWrite:
		if r.PageID < 0 || r.PageID >= w.h.DataPages {
			return fmt.Errorf("media: log record %d writes page %d out of range", r.LSN, r.PageID)
		}
	case content.Checkpoint, content.Marker:
	default:
		return fmt.Errorf("media: log record %d has unknown kind %v", r.LSN, r.Kind)
	}
	b, err := w.reserve(logItemLen)
	if err != nil {
		return err
	}
	b[0] = tagLog
	binary.LittleEndian.PutUint64(b[1:], uint64(r.LSN))
	binary.LittleEndian.PutUint64(b[9:], uint64(r.Time.UnixNano()))
	b[17] = byte(r.Kind)
	binary.LittleEndian.PutUint64(b[18:], uint64(r.PageID))
	content.LogPayload(b[26:], w.h.Seed, r)
	w.lastLSN = r.LSN
	w.logs++
	return nil
}

// flush writes the current chunk to its stripe (round-robin by sequence number).
func (w *Writer) flush() error {
	raw := w.buf[chunkHeadLen:]
	sum := sha256.Sum256(raw)
	w.stream.Write(sum[:])

	out := w.buf
	h := chunkHead{seq: w.seq, rawLen: uint32(len(raw))}
	if w.enc != nil {
		w.comp = w.enc.EncodeAll(raw, w.comp[:chunkHeadLen])
		// Incompressible chunks are stored as they are, as SQL Server does.
		if len(w.comp)-chunkHeadLen < len(raw) {
			out = w.comp
			h.flags = flagZstd
		}
	}
	payload := out[chunkHeadLen:]
	h.storedLen = uint32(len(payload))
	h.crc = crc(payload)
	h.put(out[:chunkHeadLen])

	stripe := int(w.seq % uint64(len(w.stripes)))
	if err := w.write(stripe, out); err != nil {
		return err
	}
	w.stored += int64(len(payload))
	w.chunks[stripe]++
	w.seq++
	w.buf = w.buf[:chunkHeadLen]
	return nil
}

// Close flushes the last chunk and writes every stripe's trailer. From t it takes
// BackupFinishDate; the sizes and counts are the writer's own (see Trailer).
func (w *Writer) Close(t Trailer) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("media: writer is closed")
	}
	if len(w.buf) > chunkHeadLen {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.closed = true
	if w.enc != nil {
		encoders.Put(w.enc)
		w.enc = nil
	}
	t.BackupSize = w.written.Load()
	t.CompressedBackupSize = w.stored
	t.PageCount = w.pages
	t.LogRecordCount = w.logs
	w.trailer = t
	digest := hex.EncodeToString(w.stream.Sum(nil))

	for i := range w.stripes {
		js, err := json.Marshal(wireTrailer{
			Trailer:      t,
			MediaSetGUID: w.h.MediaSetGUID.String(),
			Family:       i + 1,
			Chunks:       w.chunks[i],
			TotalChunks:  int64(w.seq),
			DataEnd:      w.offs[i],
			StreamDigest: digest,
		})
		if err != nil {
			return fmt.Errorf("media: encode trailer: %w", err)
		}
		tail := make([]byte, len(js)+footerLen)
		copy(tail, js)
		f := tail[len(js):]
		binary.LittleEndian.PutUint32(f[0:], uint32(len(js)))
		binary.LittleEndian.PutUint32(f[4:], crc(js, f[0:4]))
		copy(f[8:], endMagic)
		if err := w.write(i, tail); err != nil {
			return err
		}
	}
	return nil
}

// Trailer returns the trailer written by Close.
func (w *Writer) Trailer() Trailer { return w.trailer }
