// Package blobconformance is one suite of raw Azure Blob REST requests, shaped the way SQL
// Server's BACKUP TO URL / RESTORE FROM URL client sends them, run against every server that
// must answer that client: the agent's blob endpoint (internal/agent/endpoint) and the simulator's
// fake Azure (internal/sqlsim/blobfake). Both are written here by the same hands; one suite
// keeps their lease rules, block-list decoding and version handling from drifting apart,
// and from drifting away from Azure's documented rules.
//
// It is a package of its own, imported only by the two implementations' tests (like
// internal/vault/storetest): it imports neither, so product code never depends on the
// simulator and the simulator never depends on the product. Requests are built by hand with
// net/http, never with an SDK or the simulator's client, so what is pinned is the bytes on
// the wire. The sources of every rule are in internal/sqlsim/FIDELITY.md.
package blobconformance

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RestoreLeaseID is the lease id SQL Server takes every blob it restores from under
// (Microsoft, "Delete backup blob files with active leases").
const RestoreLeaseID = "BAC2BAC2BAC2BAC2BAC2BAC2BAC2BAC2"

// Target is one server under test.
type Target struct {
	// Client sends the requests; it trusts the server's certificate and reaches it for the
	// host names in the URLs below.
	Client *http.Client
	// NewWritable returns the URL of a blob that does not exist yet and a SAS token (no
	// leading '?') that may create, write and read it: what a BACKUP TO URL is given.
	NewWritable func(t *testing.T) (blobURL, sas string)
	// NewReadable returns the URL of a committed blob holding content and a read-only SAS
	// token: what a RESTORE FROM URL is given.
	NewReadable func(t *testing.T, content []byte) (blobURL, sas string)
	// Advance moves the server's clock forward (lease expiry).
	Advance func(d time.Duration)
	// LeaseWithoutDuration is true when an acquire without x-ms-lease-duration takes an
	// infinite lease. Azure answers it 400 (the header is required from service version
	// 2012-02-12 on), and so does the fake Azure; the agent's endpoint is deliberately more
	// lenient, as WAL-G's proxy is. This is the only rule in which the two may differ.
	LeaseWithoutDuration bool
}

// Run runs the whole suite against tg.
func Run(t *testing.T, tg Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c *conn)
	}{
		{"BackupAsSQLServerSendsIt", testBackupAsSQLServerSendsIt},
		{"BlockListEncodings", testBlockListEncodings},
		{"MalformedBlockLists", testMalformedBlockLists},
		{"LeaseActionsInAnyCase", testLeaseActionsInAnyCase},
		{"LeaseIDsCompareCaseInsensitively", testLeaseIDsCaseInsensitive},
		{"LeaseDuration", testLeaseDuration},
		{"LeaseBreakAndLeftoverLease", testLeaseBreak},
		{"VersionHeaderIgnoredOnSAS", testVersionIgnored},
		{"GetBlockListTypes", testGetBlockListTypes},
		{"RestoreAsSQLServerReads", testRestoreAsSQLServerReads},
		{"PutBlobWithContent", testPutBlobWithContent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, &conn{tg: tg}) })
	}
}

// conn sends raw requests to a target.
type conn struct{ tg Target }

// response is a request's outcome, body read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) code() string { return r.header.Get("x-ms-error-code") }

// do sends one request as SQL Server does: the SAS as the query string, then the operation's
// parameters. Headers with an empty value are left out; x-ms-version is SQL Server's unless
// h sets it.
func (c *conn) do(t *testing.T, method, blobURL, sas, query string, h map[string]string, body []byte) response {
	t.Helper()
	target := blobURL + "?" + sas
	if query != "" {
		target += "&" + query
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("x-ms-version", "2014-02-14")
	req.Header.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.tg.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (c *conn) lease(t *testing.T, u, sas string, h map[string]string) response {
	t.Helper()
	return c.do(t, http.MethodPut, u, sas, "comp=lease", h, nil)
}

func blockID(i int) string { return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "blk%09d", i)) }

// A lease id as SQL Server proposes it for a backup: a GUID, here in capitals so that every
// later use in lower case tests the case-insensitive comparison.
const backupLease = "5D6E7F80-1A2B-4C3D-8E9F-A0B1C2D3E4F5"

// Block-list bodies as they arrive, spelled out byte by byte (not produced by any client
// under test). decl is SQL Server's declaration.
const decl = `<?xml version="1.0" encoding="utf-16"?>`

func listXML(ids ...string) string {
	var b strings.Builder
	b.WriteString("<BlockList>")
	for _, id := range ids {
		b.WriteString("<Latest>" + id + "</Latest>")
	}
	b.WriteString("</BlockList>")
	return b.String()
}

func utf16Body(s string, bom bool, order binary.AppendByteOrder) []byte {
	var out []byte
	if bom {
		out = order.AppendUint16(out, 0xFEFF)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = order.AppendUint16(out, u)
	}
	return out
}

// encodings are the Put Block List bodies the suite sends: what SQL Server 2022 CU12+ sends
// (UTF-8 bytes declared utf-16), what earlier builds send (UTF-16LE; with and without a
// byte-order mark, since which one is not recorded), big-endian for completeness, and what
// Azure's reference and SDKs send (UTF-8).
var encodings = []struct {
	name string
	body func(ids ...string) []byte
}{
	{"utf-8 declared utf-16 (SQL Server 2022 CU12+)", func(ids ...string) []byte { return []byte(decl + listXML(ids...)) }},
	{"utf-16le with BOM (earlier builds)", func(ids ...string) []byte {
		return utf16Body(decl+listXML(ids...), true, binary.LittleEndian)
	}},
	{"utf-16le without BOM", func(ids ...string) []byte {
		return utf16Body(decl+listXML(ids...), false, binary.LittleEndian)
	}},
	{"utf-16be with BOM", func(ids ...string) []byte { return utf16Body(decl+listXML(ids...), true, binary.BigEndian) }},
	{"utf-8 (REST reference)", func(ids ...string) []byte {
		return []byte(`<?xml version="1.0" encoding="utf-8"?>` + listXML(ids...))
	}},
	{"utf-8, no declaration", func(ids ...string) []byte { return []byte(listXML(ids...)) }},
}

type blockListXML struct {
	Committed   []blockXML `xml:"CommittedBlocks>Block"`
	Uncommitted []blockXML `xml:"UncommittedBlocks>Block"`
}

type blockXML struct {
	Name string
	Size int64
}

func parseList(t *testing.T, body []byte) blockListXML {
	t.Helper()
	var l blockListXML
	require.NoError(t, xml.Unmarshal(body, &l), "Get Block List answers XML: %s", body)
	return l
}

// testBackupAsSQLServerSendsIt replays one stripe of a BACKUP TO URL request by request:
// Put Blob of 0 bytes with If-None-Match: *, an infinite lease (capitalised action, proposed
// GUID), Put Blocks under the lease with several in flight, Put Block List in SQL Server
// 2022's encoding, the lease released.
func testBackupAsSQLServerSendsIt(t *testing.T, c *conn) {
	u, sas := c.tg.NewWritable(t)
	r := c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "BlockBlob", "If-None-Match": "*"}, nil)
	require.Equal(t, http.StatusCreated, r.status, "Put Blob: %s", r.body)
	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": backupLease})
	require.Equal(t, http.StatusCreated, r.status, "Acquire: %s", r.body)
	assert.True(t, strings.EqualFold(backupLease, r.header.Get("x-ms-lease-id")))

	// Eight blocks, four in flight at a time, each under the lease (in lower case).
	sizes := []int{1000, 2000, 3000, 4000, 5000, 6000, 7000, 777}
	var wg sync.WaitGroup
	statuses := make([]int, len(sizes))
	sem := make(chan struct{}, 4)
	for i, n := range sizes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			statuses[i] = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(i),
				map[string]string{"x-ms-lease-id": strings.ToLower(backupLease)}, bytes.Repeat([]byte{byte(i)}, n)).status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		assert.Equal(t, http.StatusCreated, s, "Put Block %d", i)
	}
	ids := make([]string, len(sizes))
	total := 0
	for i, n := range sizes {
		ids[i] = blockID(i)
		total += n
	}
	r = c.do(t, http.MethodPut, u, sas, "comp=blocklist", map[string]string{"x-ms-lease-id": backupLease}, encodings[0].body(ids...))
	require.Equal(t, http.StatusCreated, r.status, "Put Block List: %s", r.body)

	head := c.do(t, http.MethodHead, u, sas, "", nil, nil)
	require.Equal(t, http.StatusOK, head.status)
	assert.Equal(t, strconv.Itoa(total), head.header.Get("Content-Length"))
	assert.Equal(t, "BlockBlob", head.header.Get("x-ms-blob-type"))
	assert.Equal(t, "leased", head.header.Get("x-ms-lease-state"))
	assert.Equal(t, "locked", head.header.Get("x-ms-lease-status"))
	assert.Equal(t, "infinite", head.header.Get("x-ms-lease-duration"))

	r = c.do(t, http.MethodGet, u, sas, "comp=blocklist&blocklisttype=committed", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	l := parseList(t, r.body)
	require.Len(t, l.Committed, len(sizes))
	for i, b := range l.Committed {
		assert.Equal(t, blockID(i), b.Name, "the blob's order is the list's, not the upload order")
		assert.EqualValues(t, sizes[i], b.Size)
	}

	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Release", "x-ms-lease-id": backupLease})
	require.Equal(t, http.StatusOK, r.status, "Release: %s", r.body)
	head = c.do(t, http.MethodHead, u, sas, "", nil, nil)
	assert.Equal(t, "available", head.header.Get("x-ms-lease-state"))
	assert.Equal(t, "unlocked", head.header.Get("x-ms-lease-status"))

	// The next backup to the same URL without WITH FORMAT is refused: 409 BlobAlreadyExists.
	r = c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "BlockBlob", "If-None-Match": "*"}, nil)
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "BlobAlreadyExists", r.code())
}

// testBlockListEncodings commits a block list in every encoding and checks what was committed.
func testBlockListEncodings(t *testing.T, c *conn) {
	for _, enc := range encodings {
		t.Run(enc.name, func(t *testing.T) {
			u, sas := c.tg.NewWritable(t)
			r := c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
			require.Equal(t, http.StatusCreated, r.status)
			for i, data := range []string{"first", "second", "third"} {
				r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(i), nil, []byte(data))
				require.Equal(t, http.StatusCreated, r.status)
			}
			r = c.do(t, http.MethodPut, u, sas, "comp=blocklist", nil, enc.body(blockID(2), blockID(0)))
			require.Equal(t, http.StatusCreated, r.status, "%s: %s", enc.name, r.body)
			r = c.do(t, http.MethodGet, u, sas, "comp=blocklist", nil, nil)
			require.Equal(t, http.StatusOK, r.status)
			l := parseList(t, r.body)
			assert.Equal(t, []blockXML{{blockID(2), 5}, {blockID(0), 5}}, l.Committed)
			assert.Empty(t, l.Uncommitted, "blocks left out of the list are discarded")
		})
	}
}

func testMalformedBlockLists(t *testing.T, c *conn) {
	u, sas := c.tg.NewWritable(t)
	r := c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	require.Equal(t, http.StatusCreated, r.status)
	r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(0), nil, []byte("data"))
	require.Equal(t, http.StatusCreated, r.status)
	for name, body := range map[string][]byte{
		"not XML":         []byte("Latest " + blockID(0)),
		"wrong root":      []byte("<Blocks><Latest>" + blockID(0) + "</Latest></Blocks>"),
		"unknown element": []byte("<BlockList><Newest>" + blockID(0) + "</Newest></BlockList>"),
		"unknown block":   []byte(decl + listXML(blockID(0), blockID(1))),
		"odd UTF-16":      append(utf16Body(listXML(blockID(0)), true, binary.LittleEndian), '>'),
	} {
		r = c.do(t, http.MethodPut, u, sas, "comp=blocklist", nil, body)
		assert.Equal(t, http.StatusBadRequest, r.status, name)
		assert.Equal(t, "InvalidBlockList", r.code(), name)
	}
	head := c.do(t, http.MethodHead, u, sas, "", nil, nil)
	assert.Equal(t, "0", head.header.Get("Content-Length"), "a refused list commits nothing")
}

// createLeased makes a committed, empty blob.
func createBlob(t *testing.T, c *conn) (string, string) {
	u, sas := c.tg.NewWritable(t)
	r := c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	require.Equal(t, http.StatusCreated, r.status)
	return u, sas
}

// testLeaseActionsInAnyCase runs every action as SQL Server sends it (capitalised), as the
// REST reference spells it (lower case) and in capitals.
func testLeaseActionsInAnyCase(t *testing.T, c *conn) {
	for _, spell := range []func(string) string{
		func(a string) string { return strings.ToUpper(a[:1]) + a[1:] },
		func(a string) string { return a },
		strings.ToUpper,
	} {
		name := spell("acquire")
		t.Run(name, func(t *testing.T) {
			u, sas := createBlob(t, c)
			const second = "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9"
			r := c.lease(t, u, sas, map[string]string{"x-ms-lease-action": spell("acquire"), "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": backupLease})
			require.Equal(t, http.StatusCreated, r.status, "%s: %s", spell("acquire"), r.body)
			r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": spell("renew"), "x-ms-lease-id": backupLease})
			require.Equal(t, http.StatusOK, r.status, "%s: %s", spell("renew"), r.body)
			r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": spell("change"), "x-ms-lease-id": backupLease, "x-ms-proposed-lease-id": second})
			require.Equal(t, http.StatusOK, r.status, "%s: %s", spell("change"), r.body)
			assert.True(t, strings.EqualFold(second, r.header.Get("x-ms-lease-id")))
			r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": spell("release"), "x-ms-lease-id": backupLease})
			assert.Equal(t, http.StatusConflict, r.status, "the old id no longer holds the lease")
			assert.Equal(t, "LeaseIdMismatchWithLeaseOperation", r.code())
			r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": spell("release"), "x-ms-lease-id": second})
			require.Equal(t, http.StatusOK, r.status, "%s: %s", spell("release"), r.body)
			r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": spell("acquire"), "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": second})
			require.Equal(t, http.StatusCreated, r.status)
			r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": spell("break"), "x-ms-lease-break-period": "0"})
			require.Equal(t, http.StatusAccepted, r.status, "%s: %s", spell("break"), r.body)
			assert.Equal(t, "0", r.header.Get("x-ms-lease-time"))
			head := c.do(t, http.MethodHead, u, sas, "", nil, nil)
			assert.Equal(t, "broken", head.header.Get("x-ms-lease-state"))
		})
	}
	u, sas := createBlob(t, c)
	r := c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Steal", "x-ms-lease-duration": "-1"})
	assert.Equal(t, http.StatusBadRequest, r.status, "an unknown action is refused")
}

// testLeaseIDsCaseInsensitive: lease ids are GUIDs, compared case-insensitively by Azure, in
// blob operations and in lease operations alike.
func testLeaseIDsCaseInsensitive(t *testing.T, c *conn) {
	u, sas := createBlob(t, c)
	lower := strings.ToLower(backupLease)
	r := c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": backupLease})
	require.Equal(t, http.StatusCreated, r.status)

	r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(0), map[string]string{"x-ms-lease-id": lower}, []byte("x"))
	assert.Equal(t, http.StatusCreated, r.status, "Put Block under the lease in other letter case")
	r = c.do(t, http.MethodPut, u, sas, "comp=blocklist", map[string]string{"x-ms-lease-id": lower}, []byte(decl+listXML(blockID(0))))
	assert.Equal(t, http.StatusCreated, r.status, "Put Block List under the lease in other letter case")
	r = c.do(t, http.MethodHead, u, sas, "", map[string]string{"x-ms-lease-id": lower}, nil)
	assert.Equal(t, http.StatusOK, r.status, "a read naming the lease in other letter case")
	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": lower})
	assert.Equal(t, http.StatusCreated, r.status, "acquiring again with the held id, in other letter case")
	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Renew", "x-ms-lease-id": lower})
	assert.Equal(t, http.StatusOK, r.status)

	// Without the lease, or with another, writes are refused.
	r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(1), nil, []byte("x"))
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseIdMissing", r.code())
	r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(1), map[string]string{"x-ms-lease-id": "11111111-1111-4111-8111-111111111111"}, []byte("x"))
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseIdMismatchWithBlobOperation", r.code())
	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": "11111111-1111-4111-8111-111111111111"})
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "LeaseAlreadyPresent", r.code())

	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Release", "x-ms-lease-id": lower})
	assert.Equal(t, http.StatusOK, r.status)
}

func testLeaseDuration(t *testing.T, c *conn) {
	for _, d := range []string{"14", "61", "0", "-2", "abc"} {
		u, sas := createBlob(t, c)
		r := c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": d})
		assert.Equal(t, http.StatusBadRequest, r.status, "duration %s", d)
		assert.Equal(t, "InvalidHeaderValue", r.code(), "duration %s", d)
	}

	// Without a duration: Azure requires one; the endpoint takes an infinite lease.
	u, sas := createBlob(t, c)
	r := c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Acquire", "x-ms-proposed-lease-id": backupLease})
	if c.tg.LeaseWithoutDuration {
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		c.tg.Advance(time.Hour)
		head := c.do(t, http.MethodHead, u, sas, "", nil, nil)
		assert.Equal(t, "leased", head.header.Get("x-ms-lease-state"))
		assert.Equal(t, "infinite", head.header.Get("x-ms-lease-duration"))
	} else {
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "MissingRequiredHeader", r.code())
	}

	// A finite lease expires: then the blob is writable without it, and the old id is lost.
	u, sas = createBlob(t, c)
	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": "15", "x-ms-proposed-lease-id": backupLease})
	require.Equal(t, http.StatusCreated, r.status)
	head := c.do(t, http.MethodHead, u, sas, "", nil, nil)
	assert.Equal(t, "fixed", head.header.Get("x-ms-lease-duration"))
	c.tg.Advance(16 * time.Second)
	head = c.do(t, http.MethodHead, u, sas, "", nil, nil)
	assert.Equal(t, "expired", head.header.Get("x-ms-lease-state"))
	r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(0), map[string]string{"x-ms-lease-id": backupLease}, []byte("x"))
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseLost", r.code())
	r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(0), nil, []byte("x"))
	assert.Equal(t, http.StatusCreated, r.status)
	// An expired lease can be renewed by its holder (Azure: if the blob was not modified
	// since; here it was not committed since).
	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Renew", "x-ms-lease-id": backupLease})
	assert.Equal(t, http.StatusOK, r.status)
}

// testLeaseBreak: a backup that died holding its infinite lease blocks a retry WITH FORMAT
// (412) until the lease is broken, as Microsoft documents for orphaned backup blobs.
func testLeaseBreak(t *testing.T, c *conn) {
	u, sas := createBlob(t, c)
	r := c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Break"})
	assert.Equal(t, http.StatusConflict, r.status, "nothing to break")
	assert.Equal(t, "LeaseNotPresentWithLeaseOperation", r.code())

	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": backupLease})
	require.Equal(t, http.StatusCreated, r.status)
	r = c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "WITH FORMAT retry without the lease")
	assert.Equal(t, "LeaseIdMissing", r.code())
	r = c.do(t, http.MethodDelete, u, sas, "", nil, nil)
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "Delete without the lease")

	// Without a period an infinite lease breaks at once; any caller may break it.
	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Break"})
	require.Equal(t, http.StatusAccepted, r.status)
	assert.Equal(t, "0", r.header.Get("x-ms-lease-time"))
	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Renew", "x-ms-lease-id": backupLease})
	assert.Equal(t, http.StatusConflict, r.status, "a broken lease cannot be renewed")
	assert.Equal(t, "LeaseIsBrokenAndCannotBeRenewed", r.code())
	r = c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	assert.Equal(t, http.StatusCreated, r.status, "after the break the retry overwrites")
}

// testVersionIgnored: every request here carries a SAS, and on a SAS request Azure ignores
// x-ms-version; the token's sv decides.
func testVersionIgnored(t *testing.T, c *conn) {
	u, sas := c.tg.NewWritable(t)
	for i, v := range []string{"", "2009-09-19", "2013-08-15", "2014-02-14", "2099-01-01", "garbage"} {
		h := map[string]string{"x-ms-version": v, "x-ms-blob-type": "BlockBlob"}
		r := c.do(t, http.MethodPut, u, sas, "", h, nil)
		assert.Equal(t, http.StatusCreated, r.status, "Put Blob, x-ms-version %q: %s", v, r.body)
		r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(i), map[string]string{"x-ms-version": v}, []byte("x"))
		assert.Equal(t, http.StatusCreated, r.status, "Put Block, x-ms-version %q", v)
		r = c.do(t, http.MethodHead, u, sas, "", map[string]string{"x-ms-version": v}, nil)
		assert.Equal(t, http.StatusOK, r.status, "HEAD, x-ms-version %q", v)
		assert.NotEmpty(t, r.header.Get("x-ms-version"), "the answer names the version used")
	}
}

// testGetBlockListTypes: blocklisttype committed (the default), uncommitted or all, in any
// letter case.
func testGetBlockListTypes(t *testing.T, c *conn) {
	u, sas := createBlob(t, c)
	for i := range 2 {
		r := c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(i), nil, []byte("abc"))
		require.Equal(t, http.StatusCreated, r.status)
	}
	r := c.do(t, http.MethodPut, u, sas, "comp=blocklist", nil, []byte(decl+listXML(blockID(0))))
	require.Equal(t, http.StatusCreated, r.status)
	r = c.do(t, http.MethodPut, u, sas, "comp=block&blockid="+blockID(1), nil, []byte("de"))
	require.Equal(t, http.StatusCreated, r.status)

	for typ, want := range map[string][2]int{
		"":            {1, 0},
		"committed":   {1, 0},
		"Committed":   {1, 0},
		"uncommitted": {0, 1},
		"UNCOMMITTED": {0, 1},
		"all":         {1, 1},
		"All":         {1, 1},
	} {
		q := "comp=blocklist"
		if typ != "" {
			q += "&blocklisttype=" + typ
		}
		r = c.do(t, http.MethodGet, u, sas, q, nil, nil)
		require.Equal(t, http.StatusOK, r.status, "blocklisttype %q: %s", typ, r.body)
		l := parseList(t, r.body)
		assert.Len(t, l.Committed, want[0], "blocklisttype %q", typ)
		assert.Len(t, l.Uncommitted, want[1], "blocklisttype %q", typ)
	}
	r = c.do(t, http.MethodGet, u, sas, "comp=blocklist&blocklisttype=latest", nil, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
}

// testRestoreAsSQLServerReads replays a RESTORE FROM URL stripe: HEAD for the size, the
// infinite restore lease under the fixed id BAC2…, taken again by a retried restore, ranged
// GETs with several in flight, Get Block List, release.
func testRestoreAsSQLServerReads(t *testing.T, c *conn) {
	content := make([]byte, 300_000)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	u, sas := c.tg.NewReadable(t, content)

	head := c.do(t, http.MethodHead, u, sas, "", nil, nil)
	require.Equal(t, http.StatusOK, head.status)
	assert.Equal(t, strconv.Itoa(len(content)), head.header.Get("Content-Length"))
	assert.Equal(t, "BlockBlob", head.header.Get("x-ms-blob-type"))

	acquire := map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": RestoreLeaseID}
	for range 2 {
		r := c.lease(t, u, sas, acquire)
		require.Equal(t, http.StatusCreated, r.status, "restore lease: %s", r.body)
		assert.True(t, strings.EqualFold(RestoreLeaseID, r.header.Get("x-ms-lease-id")))
	}
	lower := map[string]string{"x-ms-lease-action": "Acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": strings.ToLower(RestoreLeaseID)}
	r := c.lease(t, u, sas, lower)
	assert.Equal(t, http.StatusCreated, r.status, "the restore id in lower case is the same lease")
	head = c.do(t, http.MethodHead, u, sas, "", nil, nil)
	assert.Equal(t, "infinite", head.header.Get("x-ms-lease-duration"))

	// Ranged GETs of 64 KiB, four in flight, under the lease.
	const chunk = 64 << 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := make([]byte, len(content))
	sem := make(chan struct{}, 4)
	for off := 0; off < len(content); off += chunk {
		end := min(off+chunk, len(content)) - 1
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := c.do(t, http.MethodGet, u, sas, "", map[string]string{
				"x-ms-range": fmt.Sprintf("bytes=%d-%d", off, end), "x-ms-lease-id": RestoreLeaseID}, nil)
			assert.Equal(t, http.StatusPartialContent, r.status)
			assert.Equal(t, fmt.Sprintf("bytes %d-%d/%d", off, end, len(content)), r.header.Get("Content-Range"))
			mu.Lock()
			copy(got[off:], r.body)
			mu.Unlock()
		}()
	}
	wg.Wait()
	assert.True(t, bytes.Equal(content, got), "the ranged GETs return the blob")

	r = c.do(t, http.MethodGet, u, sas, "", map[string]string{"x-ms-range": "bytes=0-9", "x-ms-lease-id": "11111111111111111111111111111111"}, nil)
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseIdMismatchWithBlobOperation", r.code())

	r = c.do(t, http.MethodGet, u, sas, "comp=blocklist&blocklisttype=Committed", nil, nil)
	require.Equal(t, http.StatusOK, r.status, "Get Block List on a restore: %s", r.body)
	var sum int64
	for _, b := range parseList(t, r.body).Committed {
		sum += b.Size
	}
	assert.EqualValues(t, len(content), sum, "the committed blocks add up to the blob")

	r = c.lease(t, u, sas, map[string]string{"x-ms-lease-action": "Release", "x-ms-lease-id": RestoreLeaseID})
	assert.Equal(t, http.StatusOK, r.status)
	head = c.do(t, http.MethodHead, u, sas, "", nil, nil)
	assert.Equal(t, "available", head.header.Get("x-ms-lease-state"))
}

// testPutBlobWithContent: SQL Server creates its blob with 0 bytes, but Azure (and WAL-G's
// proxy) take a Put Blob with content too; never be stricter than Azure.
func testPutBlobWithContent(t *testing.T, c *conn) {
	u, sas := c.tg.NewWritable(t)
	body := bytes.Repeat([]byte("0123456789"), 1000)
	r := c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "BlockBlob"}, body)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	head := c.do(t, http.MethodHead, u, sas, "", nil, nil)
	assert.Equal(t, "10000", head.header.Get("Content-Length"))
	r = c.do(t, http.MethodPut, u, sas, "", map[string]string{"x-ms-blob-type": "PageBlob"}, nil)
	assert.Equal(t, http.StatusBadRequest, r.status, "a page blob without x-ms-blob-content-length: 400, as in Azure")
}
