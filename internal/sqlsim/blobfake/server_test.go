package blobfake_test

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

const sas = "sv=2020-08-04&sr=c&sp=racwdl&se=2099-01-01T00%3A00%3A00Z&sig=abc%2Bdef%3D"

const (
	leaseA = "11111111-2222-4333-8444-555555555555"
	leaseB = "BAC2BAC2BAC2BAC2BAC2BAC2BAC2BAC2"
)

type resp struct {
	status int
	code   string
	header http.Header
	body   []byte
}

type env struct {
	t    *testing.T
	fake *blobfake.Server
	base string
}

func newEnv(t *testing.T) *env {
	fake := blobfake.New()
	fake.AddContainer("c", sas)
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	return &env{t: t, fake: fake, base: ts.URL}
}

// do sends a request to path with the good SAS plus extra query parameters.
func (e *env) do(method, path, query string, h map[string]string, body []byte) resp {
	e.t.Helper()
	return e.doSAS(method, path, sas, query, h, body)
}

func (e *env) doSAS(method, path, token, query string, h map[string]string, body []byte) resp {
	e.t.Helper()
	q := token
	if query != "" {
		q += "&" + query
	}
	req, err := http.NewRequest(method, e.base+path+"?"+q, bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("x-ms-version", "2014-02-14")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	r, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	require.NoError(e.t, err)
	return resp{status: r.StatusCode, code: r.Header.Get("x-ms-error-code"), header: r.Header, body: b}
}

func id(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func blockQuery(s string) string {
	return "comp=block&blockid=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(id(s))
}

func putBlob(e *env, path string, body string) {
	e.t.Helper()
	r := e.do("PUT", path, "", map[string]string{"x-ms-blob-type": "BlockBlob"}, []byte(body))
	require.Equal(e.t, http.StatusCreated, r.status, r.code)
}

func TestBlocksAndBlockLists(t *testing.T) {
	e := newEnv(t)
	for _, b := range []string{"blk0", "blk1", "blk2"} {
		r := e.do("PUT", "/c/x.bak", blockQuery(b), nil, []byte(strings.ToUpper(b)))
		require.Equal(t, http.StatusCreated, r.status, r.code)
	}
	_, ok := e.fake.Blob("c", "x.bak")
	assert.False(t, ok, "uncommitted blocks are invisible")
	assert.Equal(t, http.StatusNotFound, e.do("HEAD", "/c/x.bak", "", nil, nil).status)
	assert.Len(t, e.fake.UncommittedBlocks("c", "x.bak"), 3)

	r := e.do("PUT", "/c/x.bak", blockQuery("blk1000"), nil, []byte("x"))
	assert.Equal(t, http.StatusBadRequest, r.status, "block ids of a blob must have one length")
	assert.Equal(t, "InvalidBlobOrBlock", r.code)
	r = e.do("PUT", "/c/x.bak", "comp=block&blockid=not*base64", nil, []byte("x"))
	assert.Equal(t, "InvalidBlockId", r.code)

	list := `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>` + id("blk2") + `</Latest><Uncommitted>` + id("blk0") + `</Uncommitted></BlockList>`
	r = e.do("PUT", "/c/x.bak", "comp=blocklist", nil, []byte(list))
	require.Equal(t, http.StatusCreated, r.status, r.code)
	got, ok := e.fake.Blob("c", "x.bak")
	require.True(t, ok)
	assert.Equal(t, "BLK2BLK0", string(got.Content))
	assert.Equal(t, []string{id("blk2"), id("blk0")}, got.BlockIDs)
	assert.Empty(t, e.fake.UncommittedBlocks("c", "x.bak"), "a commit discards the other staged blocks")

	// A new block plus a committed one: <Latest> finds either.
	e.do("PUT", "/c/x.bak", blockQuery("blk3"), nil, []byte("NEW"))
	list = `<BlockList><Committed>` + id("blk0") + `</Committed><Latest>` + id("blk3") + `</Latest></BlockList>`
	require.Equal(t, http.StatusCreated, e.do("PUT", "/c/x.bak", "comp=blocklist", nil, []byte(list)).status)
	got, _ = e.fake.Blob("c", "x.bak")
	assert.Equal(t, "BLK0NEW", string(got.Content))

	r = e.do("PUT", "/c/x.bak", "comp=blocklist", nil, []byte(`<BlockList><Latest>`+id("nope")+`</Latest></BlockList>`))
	assert.Equal(t, "InvalidBlockList", r.code)

	e.do("PUT", "/c/x.bak", blockQuery("blk4"), nil, []byte("4444"))
	r = e.do("GET", "/c/x.bak", "comp=blocklist&blocklisttype=all", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	var bl struct {
		Committed []struct {
			Name string
			Size int
		} `xml:"CommittedBlocks>Block"`
		Uncommitted []struct {
			Name string
			Size int
		} `xml:"UncommittedBlocks>Block"`
	}
	require.NoError(t, xml.Unmarshal(r.body, &bl))
	require.Len(t, bl.Committed, 2)
	assert.Equal(t, id("blk0"), bl.Committed[0].Name)
	assert.Equal(t, 4, bl.Committed[0].Size)
	require.Len(t, bl.Uncommitted, 1)
	assert.Equal(t, id("blk4"), bl.Uncommitted[0].Name)
}

func TestReadsAndRanges(t *testing.T) {
	e := newEnv(t)
	putBlob(e, "/c/r.bak", "0123456789")

	r := e.do("HEAD", "/c/r.bak", "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "10", r.header.Get("Content-Length"))
	assert.Equal(t, "BlockBlob", r.header.Get("x-ms-blob-type"))
	assert.Equal(t, "available", r.header.Get("x-ms-lease-state"))

	r = e.do("GET", "/c/r.bak", "", map[string]string{"x-ms-range": "bytes=2-5"}, nil)
	assert.Equal(t, http.StatusPartialContent, r.status)
	assert.Equal(t, "2345", string(r.body))
	assert.Equal(t, "bytes 2-5/10", r.header.Get("Content-Range"))

	r = e.do("GET", "/c/r.bak", "", map[string]string{"Range": "bytes=7-"}, nil)
	assert.Equal(t, "789", string(r.body))
	r = e.do("GET", "/c/r.bak", "", map[string]string{"x-ms-range": "bytes=8-100", "Range": "bytes=0-0"}, nil)
	assert.Equal(t, "89", string(r.body), "x-ms-range wins and the end is clipped")
	r = e.do("GET", "/c/r.bak", "", map[string]string{"x-ms-range": "bytes=10-20"}, nil)
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.status)
	assert.Equal(t, "InvalidRange", r.code)
	r = e.do("GET", "/c/r.bak", "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "0123456789", string(r.body))

	// Path-style with the account segment reaches the same blob.
	r = e.do("GET", "/devstoreaccount1/c/r.bak", "", nil, nil)
	assert.Equal(t, "0123456789", string(r.body))

	assert.Equal(t, "BlobNotFound", e.do("GET", "/c/none.bak", "", nil, nil).code)
	assert.Equal(t, "ContainerNotFound", e.do("GET", "/other/r.bak", "", nil, nil).code)
}

func TestPutBlobIfNoneMatchAndDelete(t *testing.T) {
	e := newEnv(t)
	h := map[string]string{"x-ms-blob-type": "BlockBlob", "If-None-Match": "*"}
	require.Equal(t, http.StatusCreated, e.do("PUT", "/c/d.bak", "", h, nil).status)
	r := e.do("PUT", "/c/d.bak", "", h, []byte("again"))
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "BlobAlreadyExists", r.code)
	assert.Contains(t, string(r.body), "<Code>BlobAlreadyExists</Code>")

	assert.Equal(t, http.StatusAccepted, e.do("DELETE", "/c/d.bak", "", nil, nil).status)
	assert.Equal(t, http.StatusNotFound, e.do("DELETE", "/c/d.bak", "", nil, nil).status)
	assert.Empty(t, e.fake.Blobs())
}

func TestLeases(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e.fake.SetClock(func() time.Time { return now })
	putBlob(e, "/c/l.bak", "data")
	lease := func(action string, h map[string]string) resp {
		hh := map[string]string{"x-ms-lease-action": action}
		for k, v := range h {
			hh[k] = v
		}
		return e.do("PUT", "/c/l.bak", "comp=lease", hh, nil)
	}

	r := lease("acquire", map[string]string{"x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": leaseA})
	require.Equal(t, http.StatusCreated, r.status, r.code)
	assert.Equal(t, leaseA, r.header.Get("x-ms-lease-id"))
	r = lease("acquire", map[string]string{"x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": leaseB})
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "LeaseAlreadyPresent", r.code)
	r = lease("acquire", map[string]string{"x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": leaseA})
	assert.Equal(t, http.StatusCreated, r.status, "the holder may acquire again")
	assert.Equal(t, "InvalidHeaderValue", lease("acquire", map[string]string{"x-ms-lease-duration": "5"}).code)
	assert.Equal(t, "InvalidHeaderValue", lease("acquire", map[string]string{"x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": "not-a-guid"}).code)

	// Writes need the lease id; reads do not, but a wrong one is refused.
	r = e.do("PUT", "/c/l.bak", blockQuery("b0"), nil, []byte("x"))
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseIdMissing", r.code)
	r = e.do("PUT", "/c/l.bak", blockQuery("b0"), map[string]string{"x-ms-lease-id": leaseB}, []byte("x"))
	assert.Equal(t, "LeaseIdMismatchWithBlobOperation", r.code)
	assert.Equal(t, http.StatusCreated, e.do("PUT", "/c/l.bak", blockQuery("b0"), map[string]string{"x-ms-lease-id": leaseA}, []byte("x")).status)
	assert.Equal(t, "LeaseIdMissing", e.do("DELETE", "/c/l.bak", "", nil, nil).code)
	assert.Equal(t, http.StatusOK, e.do("GET", "/c/l.bak", "", nil, nil).status)
	assert.Equal(t, "LeaseIdMismatchWithBlobOperation", e.do("GET", "/c/l.bak", "", map[string]string{"x-ms-lease-id": leaseB}, nil).code)
	h := e.do("HEAD", "/c/l.bak", "", nil, nil).header
	assert.Equal(t, "leased", h.Get("x-ms-lease-state"))
	assert.Equal(t, "locked", h.Get("x-ms-lease-status"))
	assert.Equal(t, "infinite", h.Get("x-ms-lease-duration"))

	r = lease("change", map[string]string{"x-ms-lease-id": leaseA, "x-ms-proposed-lease-id": leaseB})
	require.Equal(t, http.StatusOK, r.status, r.code)
	info, _ := e.fake.Blob("c", "l.bak")
	assert.Equal(t, leaseB, info.LeaseID)
	assert.Equal(t, "LeaseIdMismatchWithLeaseOperation", lease("release", map[string]string{"x-ms-lease-id": leaseA}).code)
	assert.Equal(t, http.StatusOK, lease("release", map[string]string{"x-ms-lease-id": leaseB}).status)
	assert.Equal(t, "LeaseNotPresentWithLeaseOperation", lease("release", map[string]string{"x-ms-lease-id": leaseB}).code)
	assert.Equal(t, "LeaseNotPresentWithBlobOperation",
		e.do("PUT", "/c/l.bak", blockQuery("b1"), map[string]string{"x-ms-lease-id": leaseB}, []byte("x")).code)

	// A finite lease expires by the clock and can then be renewed by its holder.
	require.Equal(t, http.StatusCreated, lease("acquire", map[string]string{"x-ms-lease-duration": "15", "x-ms-proposed-lease-id": leaseA}).status)
	now = now.Add(16 * time.Second)
	assert.Equal(t, "expired", e.do("HEAD", "/c/l.bak", "", nil, nil).header.Get("x-ms-lease-state"))
	assert.Equal(t, http.StatusCreated, e.do("PUT", "/c/l.bak", blockQuery("b2"), nil, []byte("x")).status, "writes need no id once expired")
	assert.Equal(t, http.StatusOK, lease("renew", map[string]string{"x-ms-lease-id": leaseA}).status)
	assert.Equal(t, "leased", e.do("HEAD", "/c/l.bak", "", nil, nil).header.Get("x-ms-lease-state"))

	// Break with a period: breaking, then broken; a new lease can then be acquired.
	r = lease("break", map[string]string{"x-ms-lease-break-period": "10"})
	require.Equal(t, http.StatusAccepted, r.status, r.code)
	assert.Equal(t, "10", r.header.Get("x-ms-lease-time"))
	assert.Equal(t, "breaking", e.do("HEAD", "/c/l.bak", "", nil, nil).header.Get("x-ms-lease-state"))
	assert.Equal(t, "LeaseIsBreakingAndCannotBeAcquired", lease("acquire", map[string]string{"x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": leaseB}).code)
	now = now.Add(10 * time.Second)
	assert.Equal(t, "broken", e.do("HEAD", "/c/l.bak", "", nil, nil).header.Get("x-ms-lease-state"))
	assert.Equal(t, http.StatusCreated, lease("acquire", map[string]string{"x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": leaseB}).status)

	assert.Equal(t, 1, e.fake.Count(blobfake.KindLeaseBreak))
	assert.Equal(t, 1, e.fake.Count(blobfake.KindLeaseChange))
	assert.Equal(t, 1, e.fake.Count(blobfake.KindLeaseRenew))
}

func TestSASChecks(t *testing.T) {
	e := newEnv(t)
	putBlob(e, "/c/a.bak", "x")
	// The operation parameters are not part of the token.
	assert.Equal(t, http.StatusOK, e.do("GET", "/c/a.bak", "comp=blocklist&blocklisttype=committed", nil, nil).status)

	for name, token := range map[string]string{
		"wrong sig":         strings.Replace(sas, "abc", "xyz", 1),
		"extra permission":  strings.Replace(sas, "sp=racwdl", "sp=racwdlx", 1),
		"no token":          "",
		"token for another": "sv=2020-08-04&sig=zzz",
	} {
		r := e.doSAS("GET", "/c/a.bak", token, "", nil, nil)
		assert.Equal(t, http.StatusForbidden, r.status, name)
		assert.Equal(t, "AuthenticationFailed", r.code, name)
	}

	e.fake.AllowSig("c", "only-the-sig")
	assert.Equal(t, http.StatusOK, e.doSAS("GET", "/c/a.bak", "sv=2021-01-01&sp=r&sig=only-the-sig", "", nil, nil).status)
	e.fake.SetClock(func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) })
	assert.Equal(t, http.StatusForbidden, e.do("GET", "/c/a.bak", "", nil, nil).status, "expired token")
}

func TestFaultsAndObservability(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNth(blobfake.KindPutBlock, 2, http.StatusInternalServerError)
	assert.Equal(t, http.StatusCreated, e.do("PUT", "/c/f.bak", blockQuery("b0"), nil, []byte("x")).status)
	r := e.do("PUT", "/c/f.bak", blockQuery("b1"), nil, []byte("x"))
	assert.Equal(t, http.StatusInternalServerError, r.status)
	assert.Equal(t, "InternalError", r.code)
	assert.Equal(t, http.StatusCreated, e.do("PUT", "/c/f.bak", blockQuery("b2"), nil, []byte("x")).status, "only the nth fails")
	assert.Len(t, e.fake.UncommittedBlocks("c", "f.bak"), 2, "the failed block had no effect")
	assert.Equal(t, 3, e.fake.Count(blobfake.KindPutBlock))
	reqs := e.fake.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, http.StatusInternalServerError, reqs[1].Status)
	assert.Equal(t, "c", reqs[1].Container)
	assert.Equal(t, "f.bak", reqs[1].Blob)
	assert.Equal(t, id("b1"), reqs[1].Query.Get("blockid"))

	e.fake.SetDelay(100 * time.Millisecond)
	start := time.Now()
	e.do("HEAD", "/c/f.bak", "", nil, nil)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	e.fake.SetDelay(0)

	e.fake.SetUnreachable(true)
	req, _ := http.NewRequest("GET", e.base+"/c/f.bak?"+sas, nil)
	_, err := http.DefaultClient.Do(req)
	assert.Error(t, err, "the connection is dropped without a response")
	e.fake.SetUnreachable(false)
}

func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "/c/p" + string(rune('a'+i)) + ".bak"
			putBlob(e, name, strings.Repeat("z", i))
		}()
	}
	wg.Wait()
	blobs := e.fake.Blobs()
	require.Len(t, blobs, 8)
	total := int64(0)
	for _, b := range blobs {
		total += b.Size
	}
	assert.EqualValues(t, 0+1+2+3+4+5+6+7, total)
}

func TestNewTLSServer(t *testing.T) {
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	ln, err := testenv.ListenLoopback443()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), "agent.sqlvault.test", testenv.LoopbackIP(ln.Addr().String()))
	require.NoError(t, err)
	ts, err := blobfake.NewTLSServer(ln, blobfake.New(), certFile, keyFile)
	require.NoError(t, err)
	defer ts.Close()
	require.True(t, strings.HasPrefix(ts.URL, "https://127."), ts.URL)
	require.True(t, strings.HasSuffix(ts.URL, ":443"), "on the only port SQL Server accepts: %s", ts.URL)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(ca)}}
	r, err := c.Get(ts.URL + "/c/x")
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusNotFound, r.StatusCode)
	assert.Equal(t, "HTTP/1.1", r.Proto)
}
