package control

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

// Paging walks every item id once, in order, reading no record; an item removed between
// pages is not there and one added after the cursor is reached in its turn.
func TestListItemIDsPageWalksEveryItemOnce(t *testing.T) {
	ctx := context.Background()
	mem := vault.NewMemStore()
	cs := &vault.CountingStore{Store: mem}
	repo := vault.NewRepository(cs, nil).WithKeys(vaulttest.Keys())
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := &Control{Vault: repo, Now: func() time.Time { return at }}
	put := func(db string) string {
		id := vault.ItemID("SQLVM1", db)
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: db,
			Policy: "daily", State: vault.ItemProtected, CreatedAt: at, UpdatedAt: at}))
		return id
	}
	for i := range 7 {
		put(fmt.Sprintf("Db%d", i))
	}
	all, err := repo.ItemIDs(ctx)
	require.NoError(t, err)
	require.Len(t, all, 7)

	cs.Gets.Store(0)
	first, err := c.ListItemIDsPage(ctx, protocol.ListItemIDsPageInput{Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, all[:3], first.IDs)
	assert.True(t, first.More)

	// Between pages: the fourth item goes, and a new one arrives (wherever its id sorts).
	require.NoError(t, mem.Delete(ctx, vault.ItemBlob(all[3])))
	added := put("Late")

	var walked []string
	walked = append(walked, first.IDs...)
	for cursor, more := first.IDs[len(first.IDs)-1], true; more; {
		pg, err := c.ListItemIDsPage(ctx, protocol.ListItemIDsPageInput{After: cursor, Limit: 3})
		require.NoError(t, err)
		walked = append(walked, pg.IDs...)
		more = pg.More
		if len(pg.IDs) > 0 {
			cursor = pg.IDs[len(pg.IDs)-1]
		}
	}
	assert.Zero(t, cs.Gets.Load(), "no record read")
	want := append([]string{}, all[:3]...)
	for _, id := range append(append([]string{}, all[4:]...), added) {
		if id > all[2] {
			want = append(want, id)
		}
	}
	assert.ElementsMatch(t, want, walked)
	assert.IsIncreasing(t, walked, "in id order, none twice")
	assert.NotContains(t, walked, all[3], "removed between pages")

	last, err := c.ListItemIDsPage(ctx, protocol.ListItemIDsPageInput{After: walked[len(walked)-1], Limit: 3})
	require.NoError(t, err)
	assert.Empty(t, last.IDs)
	assert.False(t, last.More)

	_, err = c.ListItemIDsPage(ctx, protocol.ListItemIDsPageInput{Limit: 0})
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
	_, err = c.ListItemIDsPage(ctx, protocol.ListItemIDsPageInput{Limit: protocol.MaxItemPageSize + 1})
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
}
