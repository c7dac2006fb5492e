package urlio

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Block sizes SQL Server accepts for MAXTRANSFERSIZE on URL backups, and Azure's per-blob
// block limit.
const (
	DefaultBlockSize = 1 << 20
	MinBlockSize     = 64 << 10
	MaxBlockSize     = 4 << 20
	MaxBlocksPerBlob = 50000
)

// WriteOptions are the BACKUP options that shape the blob.
type WriteOptions struct {
	Format    bool // WITH FORMAT: overwrite an existing blob
	BlockSize int  // MAXTRANSFERSIZE: bytes per Put Block; 0 means 1 MiB; 64 KiB..4 MiB in 64 KiB steps
	MaxBlocks int  // 0 means 50000, Azure's limit
}

// BlobWriter writes one backup blob: a Put Block per BlockSize bytes, with up to the client's
// BlocksInFlight of them outstanding at once (as SQL Server keeps several buffers of a
// device in flight), committed in order by Close. Write, Close and Abort are serialised
// (one backup stream writes one device; Abort may come from elsewhere).
type BlobWriter struct {
	c         *Client
	ctx       context.Context
	u         BlobURL
	sas       string
	leaseID   string
	blockSize int
	maxBlocks int

	puts       context.Context // the Put Blocks' context: Abort cancels it
	cancelPuts context.CancelFunc
	free       chan []byte // buffers not in flight; a Put Block returns its buffer here
	inFlight   sync.WaitGroup

	call   sync.Mutex // serialises Write, Close and Abort
	buf    []byte     // being filled
	ids    []string
	closed bool

	mu      sync.Mutex // guards what Put Block goroutines update
	written int64
	err     error // sticky: once a request failed, the blob cannot be completed
}

// Create opens a blob for writing the way SQL Server starts a backup to URL: Put Blob of 0
// bytes (with If-None-Match: * unless Format, so an existing backup is never overwritten by
// accident), then an infinite lease with a proposed lease id, which keeps other writers out
// for the whole backup. ctx governs every request of the writer, including Close.
func (c *Client) Create(ctx context.Context, u BlobURL, sas string, o WriteOptions) (*BlobWriter, error) {
	if c.configErr != nil {
		return nil, c.configErr
	}
	bs := o.BlockSize
	if bs == 0 {
		bs = DefaultBlockSize
	}
	if bs < MinBlockSize || bs > MaxBlockSize || bs%MinBlockSize != 0 {
		return nil, fmt.Errorf("urlio: MAXTRANSFERSIZE %d must be a multiple of 64 KiB from 64 KiB to 4 MiB", bs)
	}
	maxBlocks := o.MaxBlocks
	if maxBlocks == 0 {
		maxBlocks = MaxBlocksPerBlob
	}
	if maxBlocks < 1 || maxBlocks > MaxBlocksPerBlob {
		return nil, fmt.Errorf("urlio: MaxBlocks %d must be from 1 to %d", maxBlocks, MaxBlocksPerBlob)
	}

	h := http.Header{"X-Ms-Blob-Type": {"BlockBlob"}}
	if !o.Format {
		h.Set("If-None-Match", "*")
	}
	err := c.do(ctx, call{op: "Put Blob", method: http.MethodPut, u: u, sas: sas, header: h,
		body: []byte{}, want: http.StatusCreated}, nil)
	if err != nil {
		return nil, err
	}
	w := &BlobWriter{c: c, ctx: ctx, u: u, sas: sas, leaseID: newGUID(), blockSize: bs, maxBlocks: maxBlocks}
	lh := http.Header{"X-Ms-Lease-Duration": {"-1"}, "X-Ms-Proposed-Lease-Id": {w.leaseID}}
	if err := c.lease(ctx, u, sas, actionAcquire, lh, http.StatusCreated); err != nil {
		return nil, err
	}
	w.puts, w.cancelPuts = context.WithCancel(ctx)
	// inFlight buffers in all: the one being filled and the others free until sent. A full
	// buffer is sent before the next one is taken, so up to inFlight are on the wire while
	// the stream waits for one to come back. Allocated when first used.
	w.free = make(chan []byte, c.inFlight)
	for range c.inFlight - 1 {
		w.free <- nil
	}
	w.buf = make([]byte, 0, bs)
	return w, nil
}

// LeaseID is the lease the writer holds on the blob.
func (w *BlobWriter) LeaseID() string { return w.leaseID }

// failure is the first failed request's error, if any.
func (w *BlobWriter) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *BlobWriter) fail(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// Write buffers p and sends a Put Block each time the buffer is full. It returns once the
// block is on its way and a buffer is free again, so at most BlocksInFlight blocks are
// outstanding; a failed Put Block is reported by a later Write or by Close.
func (w *BlobWriter) Write(p []byte) (int, error) {
	w.call.Lock()
	defer w.call.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if err := w.failure(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
		if len(w.buf) == cap(w.buf) {
			if err := w.putBlock(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Written returns the bytes in blocks the service has acknowledged.
func (w *BlobWriter) Written() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

// blockID is base64 of a fixed-width string: Azure requires all block ids of a blob to
// have the same length. 12 bytes encode to 16 characters without padding.
func blockID(i int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "sqlsim%06d", i))
}

// putBlock sends the full buffer as the next block and takes a free buffer to fill next.
func (w *BlobWriter) putBlock() error {
	if err := w.failure(); err != nil {
		return err
	}
	if len(w.ids) >= w.maxBlocks {
		w.inFlight.Wait() // what was sent is settled before the backup is declared failed
		return w.fail(&Error{Op: "Put Block", URL: w.u.String(), Kind: ErrTooManyBlocks,
			Err: fmt.Errorf("%d blocks of %d bytes are full; use a larger MAXTRANSFERSIZE or more URLs", w.maxBlocks, w.blockSize)})
	}
	id := blockID(len(w.ids))
	w.ids = append(w.ids, id)
	data := w.buf
	w.inFlight.Add(1)
	go func() {
		defer w.inFlight.Done()
		err := w.c.do(w.puts, call{op: "Put Block", method: http.MethodPut, u: w.u, sas: w.sas,
			query:  "comp=block&blockid=" + url.QueryEscape(id),
			header: http.Header{"X-Ms-Lease-Id": {w.leaseID}}, body: data, want: http.StatusCreated}, nil)
		if err != nil {
			w.fail(err)
		} else {
			w.mu.Lock()
			w.written += int64(len(data))
			w.mu.Unlock()
		}
		w.free <- data[:0]
	}()
	next := <-w.free
	if cap(next) < w.blockSize {
		next = make([]byte, 0, w.blockSize)
	}
	w.buf = next
	return w.failure()
}

// Close puts the last partial block, waits for every block, commits the block list (in the
// client's encoding) and releases the lease. After a failed request it only releases the
// lease and returns that failure. The blob is backed up only if Close returns nil.
func (w *BlobWriter) Close() error {
	w.call.Lock()
	defer w.call.Unlock()
	if w.closed {
		return w.failure()
	}
	w.closed = true
	defer w.cancelPuts()
	if len(w.buf) > 0 && w.failure() == nil {
		_ = w.putBlock()
	}
	w.inFlight.Wait()
	w.buf = nil
	if err := w.failure(); err != nil {
		w.release()
		return err
	}
	err := w.c.do(w.ctx, call{op: "Put Block List", method: http.MethodPut, u: w.u, sas: w.sas,
		query: "comp=blocklist", header: http.Header{"X-Ms-Lease-Id": {w.leaseID}},
		body: encodeBlockList(w.c.listEnc, w.ids), want: http.StatusCreated}, nil)
	if err != nil {
		w.fail(err)
		w.release()
		return err
	}
	if err := w.c.lease(w.ctx, w.u, w.sas, actionRelease, http.Header{"X-Ms-Lease-Id": {w.leaseID}}, http.StatusOK); err != nil {
		return w.fail(err)
	}
	return nil
}

// Abort stops the backup without committing anything: blocks still in flight are cancelled
// and, like SQL Server, it tries to leave the blob unleased so that a retry WITH FORMAT can
// overwrite it. If the service cannot be reached the lease stays, and the retry sees
// ErrLeaseHeld.
func (w *BlobWriter) Abort() {
	w.call.Lock()
	defer w.call.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	w.fail(ErrClosed)
	w.cancelPuts()
	w.inFlight.Wait()
	w.buf = nil
	w.release()
}

// release gives up the lease on a best-effort basis, even when the backup's context has
// been cancelled (cancellation is the usual reason to get here).
func (w *BlobWriter) release() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 15*time.Second)
	defer cancel()
	_ = w.c.lease(ctx, w.u, w.sas, actionRelease, http.Header{"X-Ms-Lease-Id": {w.leaseID}}, http.StatusOK)
}
