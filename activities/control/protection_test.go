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

// The vault's database limit counts every item record (stopped ones and unreadable ones
// too) from one listing, reading none of them and none of the items' points.
func TestRegisterItemsChecksTheLimitWithOneListing(t *testing.T) {
	ctx := context.Background()
	mem := vault.NewMemStore()
	cs := &vault.CountingStore{Store: mem}
	repo := vault.NewRepository(cs, nil).WithKeys(vaulttest.Keys())
	created := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(25 * 24 * time.Hour)
	c := &Control{Vault: repo, Now: func() time.Time { return now }}
	const instance = "SQLVM1"
	var first string
	for i := 0; i < protocol.MaxDatabasesPerVault-1; i++ {
		db := fmt.Sprintf("Db%04d", i)
		id := vault.ItemID(instance, db)
		state := vault.ItemProtected
		if i%3 == 0 {
			state = vault.ItemStoppedRetain
		}
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: id, VM: instance, Instance: instance, Database: db,
			Policy: "daily", State: state, CreatedAt: created, UpdatedAt: created}))
		if i < 20 {
			for p := 0; p < 30; p++ {
				point := vault.NewPointID(created.Add(time.Duration(p)*15*time.Minute), vault.BackupLog, fmt.Sprintf("p%d", p))
				require.NoError(t, mem.Put(ctx, vault.ManifestBlob(id, point), []byte("{}"), vault.PutOptions{}))
			}
		}
		if i == 0 {
			first = db
		}
	}
	// A record this build cannot read is still a protected database.
	require.NoError(t, mem.Put(ctx, vault.ItemBlob(vault.ItemID(instance, "Db0007")), []byte("{not json"), vault.PutOptions{}))
	in := func(dbs ...string) protocol.RegisterItemsInput {
		out := protocol.RegisterItemsInput{VM: instance, Instance: instance, Policy: "daily"}
		for _, d := range dbs {
			out.Databases = append(out.Databases, protocol.DatabaseInfo{Name: d, ItemID: vault.ItemID(instance, d),
				BackupTypes: []protocol.BackupType{protocol.Full, protocol.Log}})
		}
		return out
	}
	reset := func() { cs.Lists.Store(0); cs.Gets.Store(0) }

	reset()
	_, err := c.RegisterItems(ctx, in("New1", "New2"))
	require.Error(t, err)
	assert.Equal(t, protocol.ErrVaultFull, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "protects 1999 databases and this would add 2")
	assert.Equal(t, int64(1), cs.Lists.Load(), "one listing")
	assert.Zero(t, cs.Gets.Load(), "no record read for the check")

	reset()
	ids, err := c.RegisterItems(ctx, in(first, "New1"))
	require.NoError(t, err, "an item already in the vault does not count twice")
	assert.Equal(t, []string{vault.ItemID(instance, first), vault.ItemID(instance, "New1")}, ids)
	// One listing for the limit; the other two are the lease of the first item, which was
	// stopped and is protected again (taking a lease lists the item's lease folder before
	// and after creating its lease: issue 11, item 7).
	assert.Equal(t, int64(3), cs.Lists.Load())
	assert.Equal(t, int64(2), cs.Gets.Load(), "only the registered items' own records (to keep createdAt)")
	it, err := repo.Item(ctx, vault.ItemID(instance, first))
	require.NoError(t, err)
	assert.Equal(t, created, it.CreatedAt)
	assert.Equal(t, vault.ItemProtected, it.State)

	_, err = c.RegisterItems(ctx, in("New2"))
	assert.Equal(t, protocol.ErrVaultFull, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "protects 2000 databases and this would add 1")
}
