package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/storetest"
)

// itemStore is an in-memory vault.Store that keeps each protected item's blobs (every name
// under vault.ItemsPrefix + "<item>/") in a MemStore of their own and every other blob in one
// more, so that listing one item's points walks only that item's blobs, as an Azure prefix
// listing reads only what it returns. MemStore alone filters every blob of the vault by
// prefix on each List: over 2,000 items' points, the RPO watchdog's 2,000 point listings
// would measure that scan (quadratic in the vault's size) rather than the watchdog.
// Listings that span items (the item folders, a whole-vault walk) ask every shard and merge.
type itemStore struct {
	root *vault.MemStore

	mu    sync.Mutex
	items map[string]*vault.MemStore // by item id
}

var _ vault.Store = (*itemStore)(nil)

func newItemStore() *itemStore {
	return &itemStore{root: vault.NewMemStore(), items: map[string]*vault.MemStore{}}
}

// itemOf is the item whose folder name lies in ("" for a name outside every item folder).
func itemOf(name string) string {
	rest, ok := strings.CutPrefix(name, vault.ItemsPrefix)
	if !ok {
		return ""
	}
	id, _, found := strings.Cut(rest, "/")
	if !found || id == "" {
		return ""
	}
	return id
}

// shard is the store that holds name.
func (s *itemStore) shard(name string) *vault.MemStore {
	id := itemOf(name)
	if id == "" {
		return s.root
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.items[id]
	if m == nil {
		m = vault.NewMemStore()
		s.items[id] = m
	}
	return m
}

// shardsFor returns the stores that may hold names starting with prefix: one item's alone
// when prefix reaches into its folder, the root alone when prefix is outside ItemsPrefix,
// else all of them.
func (s *itemStore) shardsFor(prefix string) []*vault.MemStore {
	if itemOf(prefix) != "" {
		return []*vault.MemStore{s.shard(prefix)}
	}
	if !strings.HasPrefix(prefix, vault.ItemsPrefix) && !strings.HasPrefix(vault.ItemsPrefix, prefix) {
		return []*vault.MemStore{s.root}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*vault.MemStore{s.root}
	for id, m := range s.items {
		folder := vault.ItemsPrefix + id + "/"
		if strings.HasPrefix(folder, prefix) || strings.HasPrefix(prefix, folder) {
			out = append(out, m)
		}
	}
	return out
}

func (s *itemStore) StageBlock(ctx context.Context, blob, id string, data []byte) error {
	return s.shard(blob).StageBlock(ctx, blob, id, data)
}

func (s *itemStore) CommitBlocks(ctx context.Context, blob string, ids []string, o vault.CommitOptions) error {
	return s.shard(blob).CommitBlocks(ctx, blob, ids, o)
}

func (s *itemStore) BlockList(ctx context.Context, blob string) ([]vault.Block, error) {
	return s.shard(blob).BlockList(ctx, blob)
}

func (s *itemStore) ReadRange(ctx context.Context, blob string, off, n int64) ([]byte, error) {
	return s.shard(blob).ReadRange(ctx, blob, off, n)
}

func (s *itemStore) Put(ctx context.Context, blob string, data []byte, o vault.PutOptions) error {
	return s.shard(blob).Put(ctx, blob, data, o)
}

func (s *itemStore) Get(ctx context.Context, blob string) ([]byte, error) {
	return s.shard(blob).Get(ctx, blob)
}

func (s *itemStore) Props(ctx context.Context, blob string) (vault.Props, error) {
	return s.shard(blob).Props(ctx, blob)
}

func (s *itemStore) Delete(ctx context.Context, blob string) error {
	return s.shard(blob).Delete(ctx, blob)
}

func (s *itemStore) DeleteIfMatch(ctx context.Context, blob, etag string) error {
	return s.shard(blob).DeleteIfMatch(ctx, blob, etag)
}

// List lists one shard directly, or merges the shards' listings into one in name order.
func (s *itemStore) List(ctx context.Context, prefix string, fn func(vault.BlobInfo) error) error {
	shards := s.shardsFor(prefix)
	if len(shards) == 1 {
		return shards[0].List(ctx, prefix, fn)
	}
	var infos []vault.BlobInfo
	for _, m := range shards {
		if err := m.List(ctx, prefix, func(b vault.BlobInfo) error { infos = append(infos, b); return nil }); err != nil {
			return err
		}
	}
	return vault.SendListing(ctx, infos, fn)
}

// ListPrefixes lists one shard's folders directly, or the union of the shards' folders in
// name order (a folder is the same string whichever shard reports it).
func (s *itemStore) ListPrefixes(ctx context.Context, prefix, delimiter string, fn func(string) error) error {
	shards := s.shardsFor(prefix)
	if len(shards) == 1 {
		return shards[0].ListPrefixes(ctx, prefix, delimiter, fn)
	}
	var folders []string
	for _, m := range shards {
		if err := m.ListPrefixes(ctx, prefix, delimiter, func(f string) error { folders = append(folders, f); return nil }); err != nil {
			return err
		}
	}
	// SendFolders reports each distinct folder of the names once, in order; a folder (its
	// only delimiter after prefix is its last character) is its own folder.
	return vault.SendFolders(ctx, folders, prefix, delimiter, fn)
}

// The item-sharded store keeps the vault's Store contract.
func TestItemStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vault.Store { return newItemStore() }, storetest.Options{})
}

// The item-sharded store lists exactly as one MemStore holding the same blobs: names,
// metadata and folders, for prefixes inside one item, across items, and outside them.
func TestItemStoreListsAsOneMemStore(t *testing.T) {
	ctx := context.Background()
	one, sharded := vault.NewMemStore(), newItemStore()
	names := []string{vault.PolicyBlob("p"), vault.RPOReportBlob, vault.RPOPagePrefix("s1") + "pA.json", vault.ItemsPrefix + "loose"}
	for _, id := range []string{vault.ItemID("VM1", "A"), vault.ItemID("VM1", "B"), vault.ItemID("VM2", "A")} {
		names = append(names, vault.ItemBlob(id), vault.ManifestBlob(id, "p1"), vault.ManifestBlob(id, "p2"), vault.DataBlob(id, "p1", 1, 1))
	}
	for i, n := range names {
		md := map[string]string{"k": fmt.Sprint(i)}
		require.NoError(t, one.Put(ctx, n, []byte(n), vault.PutOptions{Metadata: md}))
		require.NoError(t, sharded.Put(ctx, n, []byte(n), vault.PutOptions{Metadata: md}))
	}
	id := vault.ItemID("VM1", "B")
	prefixes := []string{"", "v1/", vault.ItemsPrefix, vault.ItemsPrefix + id[:3], vault.ItemPrefix(id), vault.PointsPrefix(id),
		vault.RPOPrefix, "v1/p", vault.ItemsPrefix + "zz/"}
	list := func(s vault.Store, prefix string) []string {
		var out []string
		require.NoError(t, s.List(ctx, prefix, func(b vault.BlobInfo) error { out = append(out, b.Name+"="+b.Metadata["k"]); return nil }))
		return out
	}
	folders := func(s vault.Store, prefix, delim string) []string {
		var out []string
		require.NoError(t, s.ListPrefixes(ctx, prefix, delim, func(f string) error { out = append(out, f); return nil }))
		return out
	}
	for _, p := range prefixes {
		require.Equal(t, list(one, p), list(sharded, p), "List %q", p)
		for _, d := range []string{"/", "t"} {
			require.Equal(t, folders(one, p, d), folders(sharded, p, d), "ListPrefixes %q %q", p, d)
		}
	}
	require.Len(t, list(sharded, ""), len(names))
	want, err := vault.NewRepository(one, nil).ItemIDs(ctx)
	require.NoError(t, err)
	got, err := vault.NewRepository(sharded, nil).ItemIDs(ctx)
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, want, got)
}
