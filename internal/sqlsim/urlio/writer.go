package urlio

import (
	"bytes"
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

// BlobWriter writes one backup blob: a Put Block per BlockSize bytes, committed by Close.
// It is not safe for concurrent use (one backup stream writes one device).
type BlobWriter struct {
	c         *Client
	ctx       context.Context
	u         BlobURL
	sas       string
	leaseID   string
	blockSize int
	maxBlocks int

	mu      sync.Mutex
	buf     []byte
	ids     []string
	written int64
	err     error // sticky: once a request failed, the blob cannot be completed
	closed  bool
}

// Create opens a blob for writing the way SQL Server starts a backup to URL: Put Blob of 0
// bytes (with If-None-Match: * unless Format, so an existing backup is never overwritten by
// accident), then an infinite lease with a proposed lease id, which keeps other writers out
// for the whole backup. ctx governs every request of the writer, including Close.
func (c *Client) Create(ctx context.Context, u BlobURL, sas string, o WriteOptions) (*BlobWriter, error) {
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
	if err := c.lease(ctx, u, sas, "acquire", lh, http.StatusCreated); err != nil {
		return nil, err
	}
	w.buf = make([]byte, 0, bs)
	return w, nil
}

// LeaseID is the lease the writer holds on the blob.
func (w *BlobWriter) LeaseID() string { return w.leaseID }

// Write buffers p and puts a block each time the buffer is full; it returns only after the
// service has acknowledged those blocks, so memory stays at one block.
func (w *BlobWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
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

func (w *BlobWriter) putBlock() error {
	if len(w.ids) >= w.maxBlocks {
		w.err = &Error{Op: "Put Block", URL: w.u.String(), Kind: ErrTooManyBlocks,
			Err: fmt.Errorf("%d blocks of %d bytes are full; use a larger MAXTRANSFERSIZE or more URLs", w.maxBlocks, w.blockSize)}
		return w.err
	}
	id := blockID(len(w.ids))
	err := w.c.do(w.ctx, call{op: "Put Block", method: http.MethodPut, u: w.u, sas: w.sas,
		query:  "comp=block&blockid=" + url.QueryEscape(id),
		header: http.Header{"X-Ms-Lease-Id": {w.leaseID}}, body: w.buf, want: http.StatusCreated}, nil)
	if err != nil {
		w.err = err
		return err
	}
	w.ids = append(w.ids, id)
	w.written += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Close puts the last partial block, commits the block list and releases the lease. After
// a failed Write it only releases the lease and returns that failure. The blob is backed up
// only if Close returns nil.
func (w *BlobWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		w.release()
		return w.err
	}
	if len(w.buf) > 0 {
		if err := w.putBlock(); err != nil {
			w.release()
			return err
		}
	}
	var list bytes.Buffer
	list.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
	for _, id := range w.ids {
		fmt.Fprintf(&list, "<Latest>%s</Latest>", id) // base64 needs no XML escaping
	}
	list.WriteString("</BlockList>")
	err := w.c.do(w.ctx, call{op: "Put Block List", method: http.MethodPut, u: w.u, sas: w.sas,
		query: "comp=blocklist", header: http.Header{"X-Ms-Lease-Id": {w.leaseID}},
		body: list.Bytes(), want: http.StatusCreated}, nil)
	if err != nil {
		w.err = err
		w.release()
		return err
	}
	w.buf = nil
	if err := w.c.lease(w.ctx, w.u, w.sas, "release", http.Header{"X-Ms-Lease-Id": {w.leaseID}}, http.StatusOK); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Abort stops the backup without committing anything and, like SQL Server, tries to leave
// the blob unleased so that a retry WITH FORMAT can overwrite it. If the service cannot be
// reached the lease stays, and the retry sees ErrLeaseHeld.
func (w *BlobWriter) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	if w.err == nil {
		w.err = ErrClosed
	}
	w.buf = nil
	w.release()
}

// release gives up the lease on a best-effort basis, even when the backup's context has
// been cancelled (cancellation is the usual reason to get here).
func (w *BlobWriter) release() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 15*time.Second)
	defer cancel()
	_ = w.c.lease(ctx, w.u, w.sas, "release", http.Header{"X-Ms-Lease-Id": {w.leaseID}}, http.StatusOK)
}
