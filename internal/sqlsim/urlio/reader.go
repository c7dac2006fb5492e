package urlio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// RestoreLeaseID is the fixed lease id SQL Server uses while it restores from a URL
// (Microsoft, "Delete backup blob files with active leases").
const RestoreLeaseID = "BAC2BAC2BAC2BAC2BAC2BAC2BAC2BAC2"

// BlobReader reads one backup blob with ranged GETs under the restore lease. ReadAt may be
// called concurrently, as io.ReaderAt allows. Once reads run sequentially (a restore
// streaming a stripe), it keeps up to the client's ReadAhead GETs of ReadSegment bytes in
// flight ahead of the reader, as SQL Server keeps several reads of a device outstanding;
// other reads (a RESTORE HEADERONLY reading a head and a tail) get one GET each for exactly
// the bytes asked for.
type BlobReader struct {
	c      *Client
	ctx    context.Context // the reads' context: Close cancels it
	cancel context.CancelFunc
	parent context.Context
	u      BlobURL
	sas    string
	size   int64

	mu     sync.Mutex
	closed bool
	next   int64              // where the last read ended; -1 before the first
	run    int                // reads in a row that began where the previous one ended
	segs   map[int64]*segment // read-ahead segments by index
	gets   sync.WaitGroup     // read-ahead GETs in flight

	closeOnce sync.Once
	closeErr  error
}

// segment is one read-ahead GET: ReadSegment bytes at index*ReadSegment.
type segment struct {
	done chan struct{}
	data []byte
	err  error
}

// sequentialAfter is how many reads in a row must continue each other before read-ahead
// starts: a HEADERONLY reads a fixed head and its header right after it, and nothing more.
const sequentialAfter = 2

// Open opens a blob for RESTORE: HEAD for its size, then the restore lease, infinite, under
// SQL Server's fixed id (a lease already held under that id, say by a restore that died, is
// taken over). ctx governs every request of the reader.
func (c *Client) Open(ctx context.Context, u BlobURL, sas string) (*BlobReader, error) {
	if c.configErr != nil {
		return nil, c.configErr
	}
	var size int64
	err := c.do(ctx, call{op: "Get Blob Properties", method: http.MethodHead, u: u, sas: sas, want: http.StatusOK},
		func(resp *http.Response) error {
			if t := resp.Header.Get("x-ms-blob-type"); t != "BlockBlob" {
				return &Error{Op: "Get Blob Properties", URL: u.String(), Status: resp.StatusCode, Kind: ErrStorage,
					Err: fmt.Errorf("blob type %q: only block blobs can be restored with a SAS credential", t)}
			}
			if resp.ContentLength < 0 {
				return &Error{Op: "Get Blob Properties", URL: u.String(), Status: resp.StatusCode, Kind: ErrStorage,
					Err: errors.New("no Content-Length")}
			}
			size = resp.ContentLength
			return nil
		})
	if err != nil {
		return nil, err
	}
	lh := http.Header{"X-Ms-Lease-Duration": {"-1"}, "X-Ms-Proposed-Lease-Id": {RestoreLeaseID}}
	if err := c.lease(ctx, u, sas, actionAcquire, lh, http.StatusCreated); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	return &BlobReader{c: c, ctx: rctx, cancel: cancel, parent: ctx, u: u, sas: sas, size: size,
		next: -1, segs: map[int64]*segment{}}, nil
}

// Size returns the blob's size as of Open.
func (r *BlobReader) Size() int64 { return r.size }

// ReadAt reads len(p) bytes at off, with io.ReaderAt semantics: fewer bytes only at the end
// of the blob, together with io.EOF.
func (r *BlobReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("urlio: negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n == 0 {
		return 0, nil
	}
	if off+n > r.size {
		n = r.size - off
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, ErrClosed
	}
	if off == r.next {
		r.run++
	} else {
		r.run = 0
	}
	r.next = off + n
	if r.run < sequentialAfter || r.c.readAhead < 2 {
		clear(r.segs) // random access: what was read ahead is not going to be asked for
		r.mu.Unlock()
		got, err := r.get(p[:n], off)
		if err == nil && int64(got) < int64(len(p)) {
			err = io.EOF
		}
		return got, err
	}
	need := r.segments(off, n)
	r.mu.Unlock()

	copied := 0
	for _, s := range need {
		<-s.done
		if s.err != nil {
			return copied, s.err
		}
	}
	for i, s := range need {
		start := (off/ReadSegment + int64(i)) * ReadSegment
		from := max(off, start) - start
		copied += copy(p[copied:n], s.data[from:])
	}
	if int64(copied) < int64(len(p)) {
		return copied, io.EOF
	}
	return copied, nil
}

// segments returns the segments covering [off, off+n), starting their GETs and those of the
// segments after them up to readAhead from the first, and forgets the segments before off
// (read already). Called with r.mu held.
func (r *BlobReader) segments(off, n int64) []*segment {
	first, last := off/ReadSegment, (off+n-1)/ReadSegment
	end := max(last, first+int64(r.c.readAhead)-1)
	for i := range r.segs {
		if i < first {
			delete(r.segs, i)
		}
	}
	var need []*segment
	for i := first; i <= end && i*ReadSegment < r.size; i++ {
		s := r.segs[i]
		if s == nil {
			s = r.fetch(i)
			r.segs[i] = s
		}
		if i <= last {
			need = append(need, s)
		}
	}
	return need
}

// fetch starts the GET of segment i.
func (r *BlobReader) fetch(i int64) *segment {
	s := &segment{done: make(chan struct{})}
	start := i * ReadSegment
	buf := make([]byte, min(ReadSegment, r.size-start))
	r.gets.Add(1)
	go func() {
		defer r.gets.Done()
		defer close(s.done)
		got, err := r.get(buf, start)
		if err == nil && got < len(buf) {
			err = fmt.Errorf("urlio: %s ended at %d, before its size %d: %w", r.u.String(), start+int64(got), r.size, io.ErrUnexpectedEOF)
		}
		s.data, s.err = buf, err
	}()
	return s
}

// get reads len(p) bytes at off with one ranged GET under the restore lease (the range is
// within the blob).
func (r *BlobReader) get(p []byte, off int64) (int, error) {
	h := http.Header{
		"X-Ms-Range":    {fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)},
		"X-Ms-Lease-Id": {RestoreLeaseID},
	}
	var got int
	err := r.c.do(r.ctx, call{op: "Get Blob", method: http.MethodGet, u: r.u, sas: r.sas, header: h, want: http.StatusPartialContent},
		func(resp *http.Response) error {
			var err error
			got, err = io.ReadFull(resp.Body, p)
			return err
		})
	return got, err
}

// Close stops the reads in flight and releases the restore lease.
func (r *BlobReader) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		clear(r.segs)
		r.mu.Unlock()
		r.cancel()
		r.gets.Wait()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.parent), 15*time.Second)
		defer cancel()
		r.closeErr = r.c.lease(ctx, r.u, r.sas, actionRelease, http.Header{"X-Ms-Lease-Id": {RestoreLeaseID}}, http.StatusOK)
	})
	return r.closeErr
}
