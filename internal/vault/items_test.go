package vault

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestItemsAndPolicies(t *testing.T) {
	ctx := context.Background()
	r := NewRepository(NewMemStore(), nil).WithKeys(Keys{testKey(t, 7)})
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for _, db := range []string{"Sales", "HR ]'ñ"} {
		require.NoError(t, r.PutItem(ctx, &ProtectedItem{ItemID: ItemID("SQLVM1", db), VM: "SQLVM1", Instance: "SQLVM1",
			Database: db, Policy: "daily", State: ItemProtected, CreatedAt: now, UpdatedAt: now}))
	}
	it, err := r.Item(ctx, ItemID("SQLVM1", "HR ]'ñ"))
	require.NoError(t, err)
	assert.Equal(t, "HR ]'ñ", it.Database)
	assert.Equal(t, ItemSchema, it.Schema)
	it.State = ItemStoppedRetain
	require.NoError(t, r.PutItem(ctx, it))
	items, err := r.Items(ctx)
	require.NoError(t, err)
	require.Len(t, items, 2)
	assert.Equal(t, "HR ]'ñ", items[0].Database)
	assert.Equal(t, ItemStoppedRetain, items[0].State)
	_, err = r.Item(ctx, ItemID("SQLVM1", "nope"))
	assert.ErrorIs(t, err, ErrItemNotFound)
	assert.Error(t, r.PutItem(ctx, &ProtectedItem{ItemID: "bad", Instance: "x", Database: "y"}))

	require.NoError(t, r.PutPolicy(ctx, "daily", []byte(`{"name":"daily"}`)))
	require.NoError(t, r.PutPolicy(ctx, "weekly-30d", []byte(`{"name":"weekly-30d"}`)))
	names, err := r.Policies(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"daily", "weekly-30d"}, names)
	doc, err := r.Policy(ctx, "daily")
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"daily"}`, string(doc))
	_, err = r.Policy(ctx, "missing")
	assert.ErrorIs(t, err, ErrPolicyNotFound)
	assert.Error(t, r.PutPolicy(ctx, "../escape", []byte("{}")))
	// Items listing skips item folders with recovery points but no item record.
	require.NoError(t, r.store.Put(ctx, ManifestBlob(ItemID("SQLVM1", "Loose"), "20261126T090000Z-full-abc12345"), []byte("{}"), PutOptions{}))
	items, err = r.Items(ctx)
	require.NoError(t, err)
	assert.Len(t, items, 2)
}

// putPointBlobs writes the three blobs of a recovery point (their content is not read here).
func putPointBlobs(t *testing.T, s Store, item, point string) {
	data := DataBlob(item, point, 1, 0)
	for _, b := range []string{ManifestBlob(item, point), data, IndexBlob(data)} {
		require.NoError(t, s.Put(context.Background(), b, []byte("{}"), PutOptions{}))
	}
}

// Enumerating items costs a listing of item folders and a Get per record, however many
// recovery points the items hold: no blob of any point is listed.
func TestItemListingsDoNotWalkPoints(t *testing.T) {
	ctx := context.Background()
	cs := &CountingStore{Store: NewMemStore()}
	r := NewRepository(cs, nil).WithKeys(Keys{testKey(t, 7)})
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	const items, points = 100, 50
	var records []string
	for i := 0; i < items; i++ {
		db := fmt.Sprintf("Db%03d", i)
		id := ItemID("SQLVM1", db)
		state := ItemProtected
		if i%10 == 0 {
			state = ItemStoppedRetain // stopped items are items: listed and counted
		}
		require.NoError(t, r.PutItem(ctx, &ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: db,
			Policy: "daily", State: state, CreatedAt: now, UpdatedAt: now}))
		records = append(records, id)
		for p := 0; p < points; p++ {
			putPointBlobs(t, cs, id, NewPointID(now.Add(time.Duration(p)*15*time.Minute), BackupLog, fmt.Sprintf("n%02d", p)))
		}
	}
	loose := ItemID("SQLVM1", "points, no record")
	putPointBlobs(t, cs, loose, NewPointID(now, BackupFull, "x"))
	sort.Strings(records)
	folders := append([]string{loose}, records...)
	sort.Strings(folders)

	cs.Reset()
	got, err := r.Items(ctx)
	require.NoError(t, err)
	require.Len(t, got, items)
	assert.Equal(t, "Db000", got[0].Database)
	assert.Equal(t, ItemStoppedRetain, got[0].State)
	assert.Equal(t, "Db099", got[items-1].Database)
	assert.Zero(t, cs.Lists.Load()-cs.PrefixLists.Load(), "no flat listing")
	assert.Equal(t, int64(1), cs.PrefixLists.Load(), "one hierarchical listing")
	assert.Equal(t, int64(3*items+2), cs.PrefixesListed.Load(), "three folders per item (dat, it, point), two for the loose one")
	assert.Equal(t, int64(items), cs.Gets.Load(), "one Get per item record")

	cs.Reset()
	ids, err := r.ItemIDs(ctx)
	require.NoError(t, err)
	assert.Equal(t, records, ids)
	assert.Equal(t, [3]int64{0, 1, 0}, [3]int64{cs.Lists.Load() - cs.PrefixLists.Load(), cs.PrefixLists.Load(), cs.Gets.Load()}, "a count reads no record")

	cs.Reset()
	ids, err = r.ListItems(ctx)
	require.NoError(t, err)
	assert.Equal(t, folders, ids, "every item folder, with or without a record")
	assert.Equal(t, [3]int64{0, 1, 0}, [3]int64{cs.Lists.Load() - cs.PrefixLists.Load(), cs.PrefixLists.Load(), cs.Gets.Load()})
	assert.Equal(t, int64(items+1), cs.PrefixesListed.Load(), "one folder per item")

	cs.Reset()
	n := 0
	require.NoError(t, cs.List(ctx, ItemsPrefix, func(BlobInfo) error { n++; return nil }))
	assert.Equal(t, items*(1+3*points)+3, n, "the blobs the flat listing of before walked")
}

// getFailer fails the Get of one blob.
type getFailer struct {
	Store
	blob string
	err  error
}

func (g *getFailer) Get(ctx context.Context, blob string) ([]byte, error) {
	if blob == g.blob {
		return nil, g.err
	}
	return g.Store.Get(ctx, blob)
}

// A record that cannot be read or decoded fails Items (never a silently shorter list) and
// still counts in ItemIDs; a folder with no record is no item; one record is read at most
// once and the first failure in id order is the one reported.
func TestItemsErrors(t *testing.T) {
	ctx := context.Background()
	mem := NewMemStore()
	r := NewRepository(mem, nil).WithKeys(Keys{testKey(t, 7)})
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 40; i++ {
		db := fmt.Sprintf("Db%02d", i)
		id := ItemID("SQLVM1", db)
		require.NoError(t, r.PutItem(ctx, &ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: db,
			Policy: "daily", State: ItemProtected, CreatedAt: now, UpdatedAt: now}))
		ids = append(ids, id)
	}
	sort.Strings(ids)

	unavailable := fmt.Errorf("injected: %w", ErrUnavailable)
	_, err := NewRepository(&getFailer{Store: mem, blob: ItemBlob(ids[17]), err: unavailable}, nil).WithKeys(Keys{testKey(t, 7)}).Items(ctx)
	assert.ErrorIs(t, err, ErrUnavailable)

	require.NoError(t, mem.Put(ctx, ItemBlob(ids[30]), []byte("{not json"), PutOptions{}))
	require.NoError(t, mem.Put(ctx, ItemBlob(ids[5]), []byte(`{"schema":"sqlvault.item/v9"}`), PutOptions{}))
	_, err = r.Items(ctx)
	assert.ErrorIs(t, err, ErrUnknownSchema, "the first unreadable record in id order")
	counted, err := r.ItemIDs(ctx)
	require.NoError(t, err)
	assert.Equal(t, ids, counted, "unreadable records still count")

	require.NoError(t, mem.Delete(ctx, ItemBlob(ids[5])))
	require.NoError(t, mem.Delete(ctx, ItemBlob(ids[30])))
	// A blob beside the record whose name starts like it is not a record.
	require.NoError(t, mem.Put(ctx, ItemPrefix(ids[5])+"itinerary", []byte("x"), PutOptions{}))
	items, err := r.Items(ctx)
	require.NoError(t, err)
	assert.Len(t, items, 38)

	_, err = NewRepository(&getFailer{Store: mem, blob: ItemBlob(ids[0]), err: context.Canceled}, nil).WithKeys(Keys{testKey(t, 7)}).Items(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}
