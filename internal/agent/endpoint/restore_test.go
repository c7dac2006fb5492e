package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

func TestRestoreRandomReads(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(t, 3*mib+4567) // more than one read chunk per GET
	src := newSource(data)
	rs := e.openRestore(t, map[string]RestoreSource{"db_1.bak": src, "db_2.bak": newSource(nil)})

	r, err := e.client.Open(context.Background(), blobURL(t, rs, "db_1.bak"), rs.SAS())
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), r.Size(), "HEAD gives the source's size")

	rng := rand.New(rand.NewPCG(1, 2))
	var served int64
	for i := 0; i < 150; i++ {
		off := rng.Int64N(int64(len(data)))
		n := 1 + rng.IntN(1536*kib)
		if i%10 == 0 {
			off = int64(len(data)) - int64(rng.IntN(1000)) // runs past the end
		}
		p := make([]byte, n)
		got, err := r.ReadAt(p, off)
		want := data[off:min(off+int64(n), int64(len(data)))]
		if len(want) < n {
			assert.ErrorIs(t, err, io.EOF, "a read past the end is short, with EOF")
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, len(want), got)
		require.Equal(t, want, p[:got], "bytes at %d+%d", off, n)
		served += int64(got)
	}
	_, err = r.ReadAt(make([]byte, 10), int64(len(data)))
	assert.ErrorIs(t, err, io.EOF)

	// The restore lease is on while the reader is open and off after Close.
	head := e.do(t, http.MethodHead, rs.URL("db_1.bak"), rs.SAS(), "", nil, nil)
	assert.Equal(t, "leased", head.header.Get("x-ms-lease-state"))
	assert.Equal(t, "infinite", head.header.Get("x-ms-lease-duration"), "SQL Server's restore lease is infinite")
	require.NoError(t, r.Close())
	head = e.do(t, http.MethodHead, rs.URL("db_1.bak"), rs.SAS(), "", nil, nil)
	assert.Equal(t, "available", head.header.Get("x-ms-lease-state"))

	p := rs.Progress()
	assert.Equal(t, served, p.Bytes)
	assert.Equal(t, int64(150), p.Blocks)
	assert.NoError(t, rs.Err())

	// An empty stripe opens and reads as EOF.
	empty, err := e.client.Open(context.Background(), blobURL(t, rs, "db_2.bak"), rs.SAS())
	require.NoError(t, err)
	assert.Zero(t, empty.Size())
	_, err = empty.ReadAt(make([]byte, 1), 0)
	assert.ErrorIs(t, err, io.EOF)
	require.NoError(t, empty.Close())
}

func TestRestoreGetRangesAndLeases(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(t, 10000)
	rs := e.openRestore(t, map[string]RestoreSource{"db.bak": newSource(data)})
	u := rs.URL("db.bak")

	r := e.do(t, http.MethodHead, u, rs.SAS(), "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "10000", r.header.Get("Content-Length"))
	assert.Equal(t, "BlockBlob", r.header.Get("x-ms-blob-type"))
	assert.Equal(t, "available", r.header.Get("x-ms-lease-state"))

	r = e.do(t, http.MethodGet, u, rs.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status, "whole-blob GET")
	assert.Equal(t, data, r.body)

	r = e.do(t, http.MethodGet, u, rs.SAS(), "", map[string]string{"x-ms-range": "bytes=100-199"}, nil)
	assert.Equal(t, http.StatusPartialContent, r.status)
	assert.Equal(t, "bytes 100-199/10000", r.header.Get("Content-Range"))
	assert.Equal(t, data[100:200], r.body)

	r = e.do(t, http.MethodGet, u, rs.SAS(), "", map[string]string{"Range": "bytes=9990-"}, nil)
	assert.Equal(t, http.StatusPartialContent, r.status, "Range works too, open-ended")
	assert.Equal(t, data[9990:], r.body)

	r = e.do(t, http.MethodGet, u, rs.SAS(), "", map[string]string{"x-ms-range": "bytes=9000-20000"}, nil)
	assert.Equal(t, data[9000:], r.body, "a range past the end is clipped")

	r = e.do(t, http.MethodGet, u, rs.SAS(), "", map[string]string{"x-ms-range": "bytes=10000-10100"}, nil)
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.status)
	assert.Equal(t, "InvalidRange", r.code())
	assert.Equal(t, "bytes */10000", r.header.Get("Content-Range"))

	r = e.do(t, http.MethodGet, u, rs.SAS(), "", map[string]string{"x-ms-range": "bytes=50-10"}, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)

	// SQL Server's restore lease: acquire (also again, by a retried restore), renew, and
	// reads under it; a wrong lease id is refused.
	acquire := map[string]string{"x-ms-lease-action": "acquire", "x-ms-lease-duration": "60", "x-ms-proposed-lease-id": urlio.RestoreLeaseID}
	for range 2 {
		r = e.do(t, http.MethodPut, u, rs.SAS(), "comp=lease", acquire, nil)
		require.Equal(t, http.StatusCreated, r.status)
		assert.Equal(t, urlio.RestoreLeaseID, r.header.Get("x-ms-lease-id"))
	}
	r = e.do(t, http.MethodPut, u, rs.SAS(), "comp=lease", map[string]string{"x-ms-lease-action": "renew", "x-ms-lease-id": urlio.RestoreLeaseID}, nil)
	assert.Equal(t, http.StatusOK, r.status)
	r = e.do(t, http.MethodGet, u, rs.SAS(), "", map[string]string{"x-ms-range": "bytes=0-9", "x-ms-lease-id": urlio.RestoreLeaseID}, nil)
	assert.Equal(t, data[:10], r.body)
	r = e.do(t, http.MethodGet, u, rs.SAS(), "", map[string]string{"x-ms-range": "bytes=0-9", "x-ms-lease-id": "11111111111111111111111111111111"}, nil)
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseIdMismatchWithBlobOperation", r.code())

	// A lease that is not renewed expires (the server clock moves 61 s).
	e.offset.Store(int64(61 * time.Second))
	r = e.do(t, http.MethodHead, u, rs.SAS(), "", nil, nil)
	assert.Equal(t, "expired", r.header.Get("x-ms-lease-state"))
	e.offset.Store(0)
	r = e.do(t, http.MethodPut, u, rs.SAS(), "comp=lease", map[string]string{"x-ms-lease-action": "release", "x-ms-lease-id": urlio.RestoreLeaseID}, nil)
	assert.Equal(t, http.StatusOK, r.status)

	r = e.do(t, http.MethodHead, rs.URL("missing.bak"), rs.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "BlobNotFound", r.code())
}

func TestRestoreSourceErrorIsKept(t *testing.T) {
	e := newEnv(t, nil)
	srcErr := errors.New("vault: block 7 fails authentication")
	src := newSource(randomBytes(t, 100*kib))
	src.failAt, src.failErr = 1, srcErr
	rs := e.openRestore(t, map[string]RestoreSource{"db.bak": src})

	r, err := e.client.Open(context.Background(), blobURL(t, rs, "db.bak"), rs.SAS())
	require.NoError(t, err)
	defer r.Close()
	_, err = r.ReadAt(make([]byte, 1000), 0)
	require.Error(t, err)
	assert.Equal(t, http.StatusInternalServerError, urlioErr(t, err).Status)
	assert.NotContains(t, err.Error(), "authentication")
	assert.ErrorIs(t, rs.Err(), srcErr)
}

func TestCloseMidRestoreFailsClientPromptly(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(t, 3*mib)
	src := newSource(data)
	src.stallAt = 2 // the first chunk goes out, the second never comes
	rs := e.openRestore(t, map[string]RestoreSource{"db.bak": src})

	r, err := e.client.Open(context.Background(), blobURL(t, rs, "db.bak"), rs.SAS())
	require.NoError(t, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := r.ReadAt(make([]byte, len(data)), 0)
		readErr <- err
	}()
	select {
	case <-src.stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the second chunk was never asked for")
	}
	within(t, 5*time.Second, rs.Close)
	select {
	case err := <-readErr:
		assert.Error(t, err, "a cut-off body is an error, not short data")
	case <-time.After(5 * time.Second):
		t.Fatal("the client hangs after the session closed")
	}
	assert.NoError(t, rs.Err())
	assert.Equal(t, int64(readChunk), rs.Progress().Bytes)
	within(t, 5*time.Second, func() { _ = r.Close() })
	assert.True(t, hasLog(e.logs, "aborted mid-response", "status"))

	head := e.do(t, http.MethodHead, rs.URL("db.bak"), rs.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusForbidden, head.status)
}

// listedSource is a source that knows the blocks its backup was written in.
type listedSource struct {
	*memSource
	blocks []Block
}

func (l listedSource) Blocks() []Block { return l.blocks }

// Get Block List on a restore session answers, read-only, with the source's blocks when it
// knows them and otherwise with equal blocks that add up to the blob; never an uncommitted one.
func TestRestoreGetBlockList(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(t, 9*mib+5)
	known := []Block{{ID: "QUFBQQ==", Size: 4 * mib}, {ID: "QkJCQg==", Size: 5*mib + 5}}
	rs := e.openRestore(t, map[string]RestoreSource{
		"plain.bak":  newSource(data),
		"listed.bak": listedSource{memSource: newSource(data), blocks: known},
	})
	r := e.do(t, http.MethodGet, rs.URL("plain.bak"), rs.SAS(), "comp=blocklist&blocklisttype=All", nil, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "9437189", r.header.Get("x-ms-blob-content-length"))
	assert.Contains(t, string(r.body), "<Size>4194304</Size></Block><Block><Name>c3FsdmF1bHQwMDAwMDAwMg==</Name><Size>1048581</Size></Block></CommittedBlocks>")
	assert.NotContains(t, string(r.body), "<UncommittedBlocks><Block>")

	r = e.do(t, http.MethodGet, rs.URL("listed.bak"), rs.SAS(), "comp=blocklist", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), "<CommittedBlocks><Block><Name>QUFBQQ==</Name><Size>4194304</Size></Block><Block><Name>QkJCQg==</Name><Size>5242885</Size></Block></CommittedBlocks>")

	r = e.do(t, http.MethodGet, rs.URL("listed.bak"), rs.SAS(), "comp=blocklist&blocklisttype=uncommitted", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, string(r.body), "<Block>")
	r = e.do(t, http.MethodPut, rs.URL("listed.bak"), rs.SAS(), "comp=blocklist", nil, []byte("<BlockList/>"))
	assert.Equal(t, http.StatusForbidden, r.status, "still read-only")
}

// SQL Server gives up on a failing restore by dropping its connections: the reads cut short
// then fail with their request's context, after the source's real failure. Err keeps the
// real failure, which the agent reports.
func TestRestoreSourceErrorIsNotHiddenByAbandonedRequests(t *testing.T) {
	e := newEnv(t, nil)
	rs := e.openRestore(t, map[string]RestoreSource{"db.bak": newSource(randomBytes(t, kib))})
	srcErr := errors.New("vault: block 7 fails authentication")
	require.ErrorIs(t, rs.call(func() error { return srcErr }), srcErr)
	require.ErrorIs(t, rs.call(func() error { return fmt.Errorf("read: %w", context.Canceled) }), context.Canceled)
	assert.ErrorIs(t, rs.Err(), srcErr)

	later := errors.New("vault: unavailable")
	require.ErrorIs(t, rs.call(func() error { return later }), later)
	assert.ErrorIs(t, rs.Err(), later, "a real failure is still the last one kept")
}
