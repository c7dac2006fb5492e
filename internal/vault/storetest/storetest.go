// Package storetest is the contract every vault.Store must meet, as one test suite run on
// each implementation (MemStore in package vault, the Azure store against Azurite in package
// azstore). If the in-memory store passes what Azure passes, unit tests built on it are
// testing the real semantics.
package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/vault"
)

// Options tunes the suite to a store.
type Options struct {
	// ListPageSize is the page size the store lists with; the paging test writes more blobs
	// than three pages. 0 means the store does not page (only a few blobs are written).
	ListPageSize int
}

// Run runs the contract. newStore must return an empty store each call.
func Run(t *testing.T, newStore func(t *testing.T) vault.Store, o Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s vault.Store)
	}{
		{"StageCommitOrder", testStageCommitOrder},
		{"UncommittedIsInvisible", testUncommittedInvisible},
		{"RestageReplaces", testRestageReplaces},
		{"RecommitUsesCommittedBlocks", testRecommit},
		{"CommitUnknownBlock", testCommitUnknown},
		{"CommitIfNoneMatch", testCommitIfNoneMatch},
		{"ReadRange", testReadRange},
		{"PutGet", testPutGet},
		{"PutIfNoneMatch", testPutIfNoneMatch},
		{"PutIfMatch", testPutIfMatch},
		{"Props", testProps},
		{"List", testList},
		{"PutMetadataListed", testPutMetadataListed},
		{"ListPaging", func(t *testing.T, s vault.Store) { testListPaging(t, s, o.ListPageSize) }},
		{"ListPrefixes", testListPrefixes},
		{"ListPrefixesOtherDelimiter", testListPrefixesOtherDelimiter},
		{"ListPrefixesPaging", func(t *testing.T, s vault.Store) { testListPrefixesPaging(t, s, o.ListPageSize) }},
		{"Delete", testDelete},
		{"DeleteIfMatch", testDeleteIfMatch},
		{"RecommitChangesETag", testRecommitChangesETag},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// bid makes a valid block id; ids of one blob must share a length, so it is fixed-width.
func bid(n int) string { return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "blk-%06d", n)) }

func testStageCommitOrder(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "v1/items/x/data/p/a1-s0.bak"
	parts := map[int][]byte{1: []byte("first-"), 2: []byte("second--"), 3: bytes.Repeat([]byte("3"), 1000)}
	for _, i := range []int{3, 1, 2} { // staged out of order
		require.NoError(t, s.StageBlock(ctx, blob, bid(i), parts[i]))
	}
	require.NoError(t, s.CommitBlocks(ctx, blob, []string{bid(2), bid(1), bid(3)}, vault.CommitOptions{}))
	got, err := s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, string(parts[2])+string(parts[1])+string(parts[3]), string(got), "content is in commit order")
	blocks, err := s.BlockList(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, []vault.Block{{ID: bid(2), Size: 8}, {ID: bid(1), Size: 6}, {ID: bid(3), Size: 1000}}, blocks)
}

func testUncommittedInvisible(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "staged/only.bak"
	require.NoError(t, s.StageBlock(ctx, blob, bid(1), []byte("data")))
	_, err := s.Get(ctx, blob)
	assert.ErrorIs(t, err, vault.ErrNotFound)
	_, err = s.BlockList(ctx, blob)
	assert.ErrorIs(t, err, vault.ErrNotFound)
	_, err = s.Props(ctx, blob)
	assert.ErrorIs(t, err, vault.ErrNotFound)
	var names []string
	require.NoError(t, s.List(ctx, "staged/", func(b vault.BlobInfo) error { names = append(names, b.Name); return nil }))
	assert.Empty(t, names)
}

func testRestageReplaces(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "restage.bak"
	require.NoError(t, s.StageBlock(ctx, blob, bid(1), []byte("old version")))
	require.NoError(t, s.StageBlock(ctx, blob, bid(2), []byte("B")))
	require.NoError(t, s.StageBlock(ctx, blob, bid(1), []byte("new")))
	require.NoError(t, s.CommitBlocks(ctx, blob, []string{bid(1), bid(2)}, vault.CommitOptions{}))
	got, err := s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, "newB", string(got))
}

func testRecommit(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "recommit.bak"
	require.NoError(t, s.StageBlock(ctx, blob, bid(1), []byte("one")))
	require.NoError(t, s.StageBlock(ctx, blob, bid(2), []byte("two")))
	require.NoError(t, s.CommitBlocks(ctx, blob, []string{bid(1), bid(2)}, vault.CommitOptions{}))
	// A retried Put Block List: committed blocks can be named again.
	require.NoError(t, s.CommitBlocks(ctx, blob, []string{bid(1), bid(2)}, vault.CommitOptions{}))
	got, err := s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, "onetwo", string(got))
	// A new staged version of a committed id wins over the committed one.
	require.NoError(t, s.StageBlock(ctx, blob, bid(2), []byte("TWO")))
	require.NoError(t, s.CommitBlocks(ctx, blob, []string{bid(2), bid(1)}, vault.CommitOptions{}))
	got, err = s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, "TWOone", string(got))
}

func testCommitUnknown(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "unknown.bak"
	require.NoError(t, s.StageBlock(ctx, blob, bid(1), []byte("one")))
	err := s.CommitBlocks(ctx, blob, []string{bid(1), bid(9)}, vault.CommitOptions{})
	assert.ErrorIs(t, err, vault.ErrInvalidBlockList)
	_, err = s.Get(ctx, blob)
	assert.ErrorIs(t, err, vault.ErrNotFound, "a failed commit creates nothing")
}

func testCommitIfNoneMatch(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "cond.bak"
	require.NoError(t, s.StageBlock(ctx, blob, bid(1), []byte("one")))
	require.NoError(t, s.CommitBlocks(ctx, blob, []string{bid(1)}, vault.CommitOptions{IfNoneMatch: true}))
	require.NoError(t, s.StageBlock(ctx, blob, bid(2), []byte("two")))
	err := s.CommitBlocks(ctx, blob, []string{bid(2)}, vault.CommitOptions{IfNoneMatch: true})
	assert.ErrorIs(t, err, vault.ErrExists)
	got, err := s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, "one", string(got))
}

func testReadRange(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "range.bak"
	require.NoError(t, s.StageBlock(ctx, blob, bid(1), []byte("0123456789")))
	require.NoError(t, s.StageBlock(ctx, blob, bid(2), []byte("abcdefghij")))
	require.NoError(t, s.CommitBlocks(ctx, blob, []string{bid(1), bid(2)}, vault.CommitOptions{}))
	for _, c := range []struct {
		off, n int64
		want   string
	}{{0, 3, "012"}, {8, 4, "89ab"}, {10, 10, "abcdefghij"}, {15, 100, "fghij"}, {19, 1, "j"}, {0, 20, "0123456789abcdefghij"}} {
		got, err := s.ReadRange(ctx, blob, c.off, c.n)
		require.NoError(t, err, "off %d n %d", c.off, c.n)
		assert.Equal(t, c.want, string(got), "off %d n %d", c.off, c.n)
	}
	got, err := s.ReadRange(ctx, blob, 5, 0)
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = s.ReadRange(ctx, blob, 20, 1)
	assert.ErrorIs(t, err, vault.ErrRange)
	_, err = s.ReadRange(ctx, blob, 25, 5)
	assert.ErrorIs(t, err, vault.ErrRange)
	_, err = s.ReadRange(ctx, "missing.bak", 0, 1)
	assert.ErrorIs(t, err, vault.ErrNotFound)
}

func testPutGet(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "v1/items/x/points/p.json"
	require.NoError(t, s.Put(ctx, blob, []byte(`{"a":1}`), vault.PutOptions{}))
	got, err := s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(got))
	require.NoError(t, s.Put(ctx, blob, []byte(`{"a":2}`), vault.PutOptions{}), "unconditional put overwrites")
	got, err = s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, `{"a":2}`, string(got))
	require.NoError(t, s.Put(ctx, "empty", nil, vault.PutOptions{}))
	got, err = s.Get(ctx, "empty")
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = s.Get(ctx, "nope")
	assert.ErrorIs(t, err, vault.ErrNotFound)
}

func testPutIfNoneMatch(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "manifest.json"
	require.NoError(t, s.Put(ctx, blob, []byte("first"), vault.PutOptions{IfNoneMatch: true}))
	err := s.Put(ctx, blob, []byte("second"), vault.PutOptions{IfNoneMatch: true})
	require.ErrorIs(t, err, vault.ErrExists)
	got, err := s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, "first", string(got))
}

// A put conditional on an ETag replaces the blob only as it was when the ETag was read: not
// after another write, and never recreating a deleted blob (vault upgrade relies on both).
func testPutIfMatch(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	const blob = "manifest.json"
	require.NoError(t, s.Put(ctx, blob, []byte("first"), vault.PutOptions{}))
	p, err := s.Props(ctx, blob)
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, blob, []byte("second"), vault.PutOptions{IfMatch: p.ETag}))
	got, err := s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))

	err = s.Put(ctx, blob, []byte("third"), vault.PutOptions{IfMatch: p.ETag}) // stale: "second" changed it
	require.ErrorIs(t, err, vault.ErrChanged)
	got, err = s.Get(ctx, blob)
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))

	p, err = s.Props(ctx, blob)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, blob))
	err = s.Put(ctx, blob, []byte("fourth"), vault.PutOptions{IfMatch: p.ETag})
	require.ErrorIs(t, err, vault.ErrChanged)
	_, err = s.Get(ctx, blob)
	assert.ErrorIs(t, err, vault.ErrNotFound, "a conditional put does not resurrect a deleted blob")
}

func testProps(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	before := time.Now().Add(-time.Minute) // tolerate clock skew with the service
	require.NoError(t, s.Put(ctx, "p", []byte("12345"), vault.PutOptions{}))
	p, err := s.Props(ctx, "p")
	require.NoError(t, err)
	assert.Equal(t, int64(5), p.Size)
	assert.True(t, p.LastModified.After(before) && p.LastModified.Before(time.Now().Add(time.Minute)),
		"LastModified %v is about now", p.LastModified)
	_, err = s.Props(ctx, "q")
	assert.ErrorIs(t, err, vault.ErrNotFound)
}

func testList(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	for _, n := range []string{"a/2", "a/1", "a/sub/3", "b/1", "ab"} {
		require.NoError(t, s.Put(ctx, n, []byte(n), vault.PutOptions{}))
	}
	var got []vault.BlobInfo
	require.NoError(t, s.List(ctx, "a/", func(b vault.BlobInfo) error { got = append(got, b); return nil }))
	require.Len(t, got, 3)
	assert.Equal(t, []string{"a/1", "a/2", "a/sub/3"}, []string{got[0].Name, got[1].Name, got[2].Name})
	assert.Equal(t, int64(len("a/sub/3")), got[2].Size)
	assert.False(t, got[0].LastModified.IsZero())

	stop := errors.New("stop")
	calls := 0
	err := s.List(ctx, "", func(vault.BlobInfo) error { calls++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, calls)
}

// testPutMetadataListed: metadata given to Put comes back from List, on that blob only, with
// the value byte for byte; a blob written without metadata lists with none; writing a blob
// again replaces its metadata; a refused conditional write leaves it as it was.
func testPutMetadataListed(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	value := "v1:createdAt=2026-11-26T10%3A20%3A00.123456789Z&firstLsn=37000000012300001&pointId=20261126T101530Z-full-k&type=full" +
		"&x=" + strings.Repeat("0123456789", 100) // a long value, as a summary with long GUIDs would be
	md := map[string]string{"sqlvaultpoint": value, "other_1": "A b-c.d/e:f"}
	require.NoError(t, s.Put(ctx, "md/with", []byte("{}"), vault.PutOptions{IfNoneMatch: true, Metadata: md}))
	require.NoError(t, s.Put(ctx, "md/without", []byte("{}"), vault.PutOptions{}))
	md["other_1"] = "changed after Put" // the store must have kept its own copy

	listed := func() map[string]vault.BlobInfo {
		out := map[string]vault.BlobInfo{}
		require.NoError(t, s.List(ctx, "md/", func(b vault.BlobInfo) error { out[b.Name] = b; return nil }))
		return out
	}
	got := listed()
	require.Len(t, got, 2)
	assert.Equal(t, map[string]string{"sqlvaultpoint": value, "other_1": "A b-c.d/e:f"}, got["md/with"].Metadata)
	assert.Empty(t, got["md/without"].Metadata, "a blob written without metadata lists with none")
	assert.Equal(t, int64(2), got["md/with"].Size)

	err := s.Put(ctx, "md/with", []byte("{}"), vault.PutOptions{IfNoneMatch: true, Metadata: map[string]string{"sqlvaultpoint": "other"}})
	require.ErrorIs(t, err, vault.ErrExists)
	assert.Equal(t, value, listed()["md/with"].Metadata["sqlvaultpoint"], "a refused write changes no metadata")

	require.NoError(t, s.Put(ctx, "md/with", []byte("{ }"), vault.PutOptions{}))
	assert.Empty(t, listed()["md/with"].Metadata, "a Put without metadata replaces the blob's metadata")
	require.NoError(t, s.Put(ctx, "md/without", []byte("{}"), vault.PutOptions{Metadata: map[string]string{"k": "v"}}))
	assert.Equal(t, map[string]string{"k": "v"}, listed()["md/without"].Metadata)
}

func testListPaging(t *testing.T, s vault.Store, page int) {
	ctx := ctxT(t)
	n := 7
	if page > 0 {
		n = 3*page + 1
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("pg/%04d", i)
		require.NoError(t, s.Put(ctx, want[i], []byte{byte(i)}, vault.PutOptions{}))
	}
	var got []string
	require.NoError(t, s.List(ctx, "pg/", func(b vault.BlobInfo) error { got = append(got, b.Name); return nil }))
	assert.Equal(t, want, got, "every blob once, in name order, across pages")
}

func prefixes(t *testing.T, s vault.Store, prefix, delimiter string) []string {
	t.Helper()
	got := []string{}
	require.NoError(t, s.ListPrefixes(ctxT(t), prefix, delimiter, func(p string) error { got = append(got, p); return nil }))
	return got
}

// testListPrefixes: one level of folders, each once and in name order, whatever it holds;
// blobs directly under the prefix, deeper folders, names outside the prefix and staged-only
// blobs are not reported; names with spaces, ']' and non-ASCII letters come back byte for
// byte.
func testListPrefixes(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	for _, n := range []string{
		"h/a/2", "h/a/1", "h/a/sub/3", "h/a", // a blob beside the folder of the same name
		"h/b c/1", "h/x]y/[z]/1", "h/ünï 数据/1", "h/ünï 数据/2",
		"h/direct", "h//empty-segment", "hx/1", "g/h/1",
	} {
		require.NoError(t, s.Put(ctx, n, []byte(n), vault.PutOptions{}))
	}
	require.NoError(t, s.StageBlock(ctx, "h/staged/only", bid(1), []byte("x")))

	assert.Equal(t, []string{"h//", "h/a/", "h/b c/", "h/x]y/", "h/ünï 数据/"}, prefixes(t, s, "h/", "/"))
	assert.Equal(t, []string{"h/a/sub/"}, prefixes(t, s, "h/a/", "/"), "only the direct children")
	assert.Equal(t, []string{"h/x]y/[z]/"}, prefixes(t, s, "h/x]y/", "/"))
	assert.Equal(t, []string{"g/", "h/", "hx/"}, prefixes(t, s, "", "/"))
	assert.Equal(t, []string{"h/ünï 数据/"}, prefixes(t, s, "h/ü", "/"), "a prefix need not end at a delimiter")
	assert.Empty(t, prefixes(t, s, "h/a/sub/", "/"), "blobs only: no folders")
	assert.Empty(t, prefixes(t, s, "nothing/", "/"), "nothing under the prefix")
	assert.Empty(t, prefixes(t, s, "h/staged/", "/"))

	stop := errors.New("stop")
	calls := 0
	err := s.ListPrefixes(ctx, "h/", "/", func(string) error { calls++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, calls)
	assert.ErrorIs(t, s.ListPrefixes(ctx, "h/", "", func(string) error { return nil }), vault.ErrEmptyDelimiter)
}

// testListPrefixesOtherDelimiter: any character can delimit (the vault lists item records
// with 't'), and only an occurrence after the prefix counts.
func testListPrefixesOtherDelimiter(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	for _, n := range []string{"it/i1/item.json", "it/i1/points/p1", "it/i1/points/p2", "it/i1/data/p1/s", "it/i2/data/p3/s", "it/i3/none"} {
		require.NoError(t, s.Put(ctx, n, []byte("x"), vault.PutOptions{}))
	}
	assert.Equal(t, []string{"it/i1/dat", "it/i1/it", "it/i1/point", "it/i2/dat"}, prefixes(t, s, "it/", "t"))
}

// testListPrefixesPaging: more folders than three pages, each holding more blobs than a
// page (so a folder straddles page boundaries), with blobs between them: every folder once,
// in order.
func testListPrefixesPaging(t *testing.T, s vault.Store, page int) {
	ctx := ctxT(t)
	folders, perFolder := 7, 3
	if page > 0 {
		folders, perFolder = 3*page+1, page+2
	}
	var want []string
	for i := 0; i < folders; i++ {
		f := fmt.Sprintf("pp/%04d/", i)
		want = append(want, f)
		for j := 0; j < perFolder; j++ {
			require.NoError(t, s.Put(ctx, fmt.Sprintf("%s%02d", f, j), []byte{byte(j)}, vault.PutOptions{}))
		}
		require.NoError(t, s.Put(ctx, fmt.Sprintf("pp/%04d-blob", i), []byte{byte(i)}, vault.PutOptions{}))
	}
	assert.Equal(t, want, prefixes(t, s, "pp/", "/"), "every folder once, in name order, across pages")
}

func testDelete(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	require.NoError(t, s.Put(ctx, "d", []byte("x"), vault.PutOptions{}))
	require.NoError(t, s.Delete(ctx, "d"))
	_, err := s.Get(ctx, "d")
	assert.ErrorIs(t, err, vault.ErrNotFound)
	assert.ErrorIs(t, s.Delete(ctx, "d"), vault.ErrNotFound)
}

// testDeleteIfMatch: a conditional delete with the listed ETag deletes; after any write
// (even of the same bytes) it refuses with ErrChanged and the blob stays.
func testDeleteIfMatch(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	require.NoError(t, s.Put(ctx, "c/a", []byte("x"), vault.PutOptions{}))
	listed := map[string]string{}
	require.NoError(t, s.List(ctx, "c/", func(b vault.BlobInfo) error { listed[b.Name] = b.ETag; return nil }))
	require.NotEmpty(t, listed["c/a"], "List reports an ETag")
	p, err := s.Props(ctx, "c/a")
	require.NoError(t, err)
	assert.Equal(t, listed["c/a"], p.ETag, "Props and List report the same ETag")
	require.NoError(t, s.Put(ctx, "c/a", []byte("x"), vault.PutOptions{}))
	assert.ErrorIs(t, s.DeleteIfMatch(ctx, "c/a", listed["c/a"]), vault.ErrChanged)
	got, err := s.Get(ctx, "c/a")
	require.NoError(t, err, "a refused conditional delete deletes nothing")
	assert.Equal(t, []byte("x"), got)
	p, err = s.Props(ctx, "c/a")
	require.NoError(t, err)
	require.NoError(t, s.DeleteIfMatch(ctx, "c/a", p.ETag))
	_, err = s.Get(ctx, "c/a")
	assert.ErrorIs(t, err, vault.ErrNotFound)
	// A blob that is gone: Azurite answers 412 to If-Match on a missing blob, so either
	// sentinel is "nothing deleted".
	err = s.DeleteIfMatch(ctx, "c/a", p.ETag)
	assert.True(t, errors.Is(err, vault.ErrNotFound) || errors.Is(err, vault.ErrChanged), "%v", err)
}

// testRecommitChangesETag: committing a blob's own committed block list again leaves its
// content as it was and gives it a new ETag (CommitManifest touches stripes this way).
func testRecommitChangesETag(t *testing.T, s vault.Store) {
	ctx := ctxT(t)
	require.NoError(t, s.StageBlock(ctx, "r", bid(1), []byte("one")))
	require.NoError(t, s.StageBlock(ctx, "r", bid(2), []byte("two")))
	require.NoError(t, s.CommitBlocks(ctx, "r", []string{bid(1), bid(2)}, vault.CommitOptions{}))
	before, err := s.Props(ctx, "r")
	require.NoError(t, err)
	require.NoError(t, s.CommitBlocks(ctx, "r", []string{bid(1), bid(2)}, vault.CommitOptions{}))
	after, err := s.Props(ctx, "r")
	require.NoError(t, err)
	assert.NotEqual(t, before.ETag, after.ETag)
	got, err := s.ReadRange(ctx, "r", 0, 100)
	require.NoError(t, err)
	assert.Equal(t, []byte("onetwo"), got)
	assert.ErrorIs(t, s.DeleteIfMatch(ctx, "r", before.ETag), vault.ErrChanged)
}
