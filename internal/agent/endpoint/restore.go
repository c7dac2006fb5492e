package endpoint

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RestoreSource serves one stripe's plaintext for ranged reads (the vault's stripe reader
// implements it). Size must not change during the session. ReadAt has io.ReaderAt's
// contract (a short read only at the end, with an error) and may be called concurrently:
// SQL Server reads a stripe with several ranged GETs in flight.
type RestoreSource interface {
	Size() int64
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
}

// readChunk bounds the memory of one GET: a range is streamed in pieces of this size.
const readChunk = 1 << 20

// RestoreSession is one RESTORE FROM URL operation, read-only.
type RestoreSession struct {
	*session
	blobs map[string]*restoreBlob
}

type restoreBlob struct {
	src    RestoreSource
	size   int64
	opened time.Time // Last-Modified, which SQL Server does not care about

	mu    sync.Mutex
	lease lease
}

// OpenRestore opens a restore session with one source per blob name. Its token is
// read-only (sp=rl): any write is refused with 403.
func (s *Server) OpenRestore(blobs map[string]RestoreSource, ttl time.Duration) (*RestoreSession, error) {
	var rs *RestoreSession
	names := make([]string, 0, len(blobs))
	for n, src := range blobs {
		if src == nil {
			return nil, errors.New("endpoint: nil source for blob " + n)
		}
		if src.Size() < 0 {
			return nil, fmt.Errorf("endpoint: negative size for blob %s", n)
		}
		names = append(names, n)
	}
	now := s.now()
	_, err := s.openSession("restore", permsRestore, names, ttl, func(sess *session) blobHandler {
		rs = &RestoreSession{session: sess, blobs: make(map[string]*restoreBlob, len(blobs))}
		for n, src := range blobs {
			rs.blobs[n] = &restoreBlob{src: src, size: src.Size(), opened: now}
		}
		return rs
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// Progress reports the bytes sent and the GETs answered in full.
func (rs *RestoreSession) Progress() Progress { return rs.progress() }

func (rs *RestoreSession) serveBlob(ctx context.Context, w http.ResponseWriter, r *http.Request, op, name string) *apiError {
	b := rs.blobs[name]
	if b == nil {
		return errBlobNotFound
	}
	if requiredPermission(op) != 'r' {
		// The token already lacks write permission; this holds even if that changed.
		return errPermission
	}
	now := rs.srv.now()
	b.mu.Lock()
	if op == opLease {
		defer b.mu.Unlock()
		status, h, e := b.lease.apply(now, r.Header, newGUID)
		if e != nil {
			return e
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("ETag", etag(0))
		w.WriteHeader(status)
		return nil
	}
	e := b.lease.checkRead(now, r.Header.Get("x-ms-lease-id"))
	if e == nil {
		setBlobHeaders(w.Header(), etag(0), b.opened, &b.lease, now)
	}
	b.mu.Unlock()
	if e != nil {
		return e
	}
	switch op {
	case opGetProps:
		w.Header().Set("Content-Length", itoa(b.size))
		w.WriteHeader(http.StatusOK)
		return nil
	case opGetBlob:
		return rs.get(ctx, w, r, b, name)
	case opGetBlockList:
		return getRestoreBlockList(w, r, b)
	}
	return errUnsupported
}

// Block is one committed block of a blob, for Get Block List.
type Block struct {
	ID   string // base64, as the backup named it
	Size int64
}

// BlockLister is implemented by a RestoreSource that knows its blob's committed blocks.
type BlockLister interface {
	Blocks() []Block
}

// syntheticBlockSize is the block size of the list a source without BlockLister reports.
const syntheticBlockSize = DefaultMaxBlockSize

// getRestoreBlockList answers Get Block List on a restore session, read-only as Azure answers
// it with a read SAS: the committed blocks (from the source when it knows them, otherwise
// equal blocks of 4 MiB that add up to the blob's size, with ids of one length) and never an
// uncommitted one, since nothing is ever staged in a restore session.
func getRestoreBlockList(w http.ResponseWriter, r *http.Request, b *restoreBlob) *apiError {
	wantCommitted, _, e := blockListType(r)
	if e != nil {
		return e
	}
	var committed []xmlBlock
	if wantCommitted {
		if bl, ok := b.src.(BlockLister); ok {
			for _, x := range bl.Blocks() {
				committed = append(committed, xmlBlock{Name: x.ID, Size: x.Size})
			}
		} else {
			for off, i := int64(0), 0; off < b.size; off, i = off+syntheticBlockSize, i+1 {
				id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "sqlvault%08d", i))
				committed = append(committed, xmlBlock{Name: id, Size: min(syntheticBlockSize, b.size-off)})
			}
		}
	}
	w.Header().Set("x-ms-blob-content-length", itoa(b.size))
	writeBlockList(w, committed, nil)
	return nil
}

// get answers Get Blob, whole or with x-ms-range (preferred, as in Azure) or Range.
func (rs *RestoreSession) get(ctx context.Context, w http.ResponseWriter, r *http.Request, b *restoreBlob, name string) *apiError {
	start, end, status := int64(0), b.size-1, http.StatusOK
	if spec := rangeHeader(r); spec != "" {
		var ok bool
		start, end, ok = parseRange(spec)
		if !ok {
			return errInvalidHeader("x-ms-range")
		}
		if start >= b.size {
			w.Header().Set("Content-Range", "bytes */"+itoa(b.size))
			return errInvalidRange
		}
		if end < 0 || end >= b.size {
			end = b.size - 1
		}
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, b.size))
	}
	n := end - start + 1
	w.Header().Set("Content-Length", itoa(n))
	if n == 0 {
		w.WriteHeader(status)
		return nil
	}

	bufp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bufp)
	if int64(cap(*bufp)) < min(n, readChunk) {
		*bufp = make([]byte, readChunk)
	}
	buf := (*bufp)[:min(n, readChunk)]
	for off, sent := start, false; off <= end; {
		k := min(end-off+1, int64(len(buf)))
		err := rs.call(func() error { return readFull(ctx, b.src, buf[:k], off) })
		if err != nil {
			e := rs.sinkFailed("ReadAt", name, err)
			if !sent {
				// The first chunk is read before the status line, so a failing source
				// is an honest error response.
				w.Header().Del("Content-Length")
				w.Header().Del("Content-Range")
				return e
			}
			return errAborted
		}
		if !sent {
			w.WriteHeader(status)
			sent = true
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return nil // the client went away; nobody is left to tell
		}
		off += k
		rs.moved(k, 0)
	}
	rs.moved(0, 1)
	return nil
}

// readBufs recycles the chunk buffers of ranged reads: SQL Server restores with one GET per
// chunk, and a fresh buffer per GET is garbage that raises the agent's peak memory.
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// readFull fills p from src at off. The source ending early is an error: it promised
// Size() bytes.
func readFull(ctx context.Context, src RestoreSource, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := src.ReadAt(ctx, p, off)
		p, off = p[n:], off+int64(n)
		if len(p) == 0 {
			return nil
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("endpoint: source ended at %d, before its size: %w", off, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("endpoint: source returned no data at %d", off)
		}
	}
	return nil
}

func rangeHeader(r *http.Request) string {
	if v := r.Header.Get("x-ms-range"); v != "" {
		return v
	}
	return r.Header.Get("Range")
}

// parseRange parses "bytes=a-b" or "bytes=a-" (end -1). Suffix ranges ("bytes=-n") and
// multiple ranges are not part of what SQL Server sends.
func parseRange(spec string) (start, end int64, ok bool) {
	v, found := strings.CutPrefix(strings.TrimSpace(spec), "bytes=")
	if !found {
		return 0, 0, false
	}
	a, bs, found := strings.Cut(v, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	if bs == "" {
		return start, -1, true
	}
	end, err = strconv.ParseInt(bs, 10, 64)
	if err != nil || end < start {
		return 0, 0, false
	}
	return start, end, true
}
