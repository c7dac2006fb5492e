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

// RestoreLeaseID is the fixed lease id SQL Server uses while it restores from a URL.
const RestoreLeaseID = "BAC2BAC2BAC2BAC2BAC2BAC2BAC2BAC2"

// restoreLeaseSeconds is the restore lease's duration: a finite lease (renewed while the
// restore runs) frees the blob by itself if the restoring process dies.
const restoreLeaseSeconds = 60

// restoreLeaseRenewEvery is a variable so tests can watch renewals without waiting.
var restoreLeaseRenewEvery = 20 * time.Second

// BlobReader reads one backup blob with ranged GETs under the restore lease. ReadAt may be
// called concurrently, as io.ReaderAt allows.
type BlobReader struct {
	c    *Client
	ctx  context.Context
	u    BlobURL
	sas  string
	size int64

	stopRenew chan struct{}
	renewDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens a blob for RESTORE: HEAD for its size, then the restore lease (a lease already
// held under the same id, say by a restore that died, is taken over). ctx governs every
// request of the reader, including the lease renewals.
func (c *Client) Open(ctx context.Context, u BlobURL, sas string) (*BlobReader, error) {
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
	lh := http.Header{"X-Ms-Lease-Duration": {fmt.Sprint(restoreLeaseSeconds)}, "X-Ms-Proposed-Lease-Id": {RestoreLeaseID}}
	if err := c.lease(ctx, u, sas, "acquire", lh, http.StatusCreated); err != nil {
		return nil, err
	}
	r := &BlobReader{c: c, ctx: ctx, u: u, sas: sas, size: size,
		stopRenew: make(chan struct{}), renewDone: make(chan struct{})}
	go r.renew()
	return r, nil
}

// renew keeps the restore lease alive until Close. A failed renewal is not fatal by
// itself: if the lease is really lost, the next ranged GET fails with ErrLeaseHeld.
func (r *BlobReader) renew() {
	defer close(r.renewDone)
	t := time.NewTicker(restoreLeaseRenewEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stopRenew:
			return
		case <-r.ctx.Done():
			return
		case <-t.C:
			_ = r.c.lease(r.ctx, r.u, r.sas, "renew", http.Header{"X-Ms-Lease-Id": {RestoreLeaseID}}, http.StatusOK)
		}
	}
}

// Size returns the blob's size as of Open.
func (r *BlobReader) Size() int64 { return r.size }

// ReadAt reads len(p) bytes at off with one ranged GET, with io.ReaderAt semantics: fewer
// bytes only at the end of the blob, together with io.EOF.
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
	select {
	case <-r.stopRenew:
		return 0, ErrClosed
	default:
	}
	h := http.Header{
		"X-Ms-Range":    {fmt.Sprintf("bytes=%d-%d", off, off+n-1)},
		"X-Ms-Lease-Id": {RestoreLeaseID},
	}
	var got int
	err := r.c.do(r.ctx, call{op: "Get Blob", method: http.MethodGet, u: r.u, sas: r.sas, header: h, want: http.StatusPartialContent},
		func(resp *http.Response) error {
			var err error
			got, err = io.ReadFull(resp.Body, p[:n])
			return err
		})
	if err != nil {
		return got, err
	}
	if got < len(p) {
		return got, io.EOF
	}
	return got, nil
}

// Close stops the lease renewals and releases the restore lease.
func (r *BlobReader) Close() error {
	r.closeOnce.Do(func() {
		close(r.stopRenew)
		<-r.renewDone
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 15*time.Second)
		defer cancel()
		r.closeErr = r.c.lease(ctx, r.u, r.sas, "release", http.Header{"X-Ms-Lease-Id": {RestoreLeaseID}}, http.StatusOK)
	})
	return r.closeErr
}
