package vault

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestItemsAndPolicies(t *testing.T) {
	ctx := context.Background()
	r := NewRepository(NewMemStore(), nil)
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
