package control

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

// A sweep grace below what a backup in flight needs is refused with the named error,
// before anything is deleted (issue 11, item 3).
func TestSweepRefusesAShortGrace(t *testing.T) {
	mem := vault.NewMemStore()
	old := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mem.SetClock(func() time.Time { return old })
	ctx := context.Background()
	blob := vault.DataBlob(vault.ItemID("SQLVM1", "Sales"), vault.NewPointID(old, vault.BackupLog, "x"), 1, 0)
	require.NoError(t, mem.Put(ctx, blob, []byte("x"), vault.PutOptions{}))
	c := &Control{Vault: vault.NewRepository(mem, nil).WithKeys(vaulttest.Keys()), Now: func() time.Time { return old.Add(20 * time.Hour) }}
	for _, h := range []int{-1, 1, 24} {
		_, err := c.Sweep(ctx, protocol.RetentionInput{SweepGraceHours: h})
		require.Error(t, err)
		assert.Equal(t, protocol.ErrSweepGraceTooShort, protocol.ErrorType(err), "%d hours", h)
		assert.Contains(t, err.Error(), "set sweepGraceHours to at least")
	}
	_, err := mem.Get(ctx, blob)
	require.NoError(t, err, "nothing was swept")
}

// The stop of an item that is already stopped, retried after its result was lost, writes
// nothing: the record (and its updatedAt) stays as the first attempt left it.
func TestSetItemStateRetryWritesNothing(t *testing.T) {
	ctx := context.Background()
	repo, id, t0 := protectedSales(t)
	now := t0.Add(time.Hour)
	c := &Control{Vault: repo, Now: func() time.Time { return now }}
	in := protocol.SetItemStateInput{ItemID: id, State: vault.ItemStoppedRetain}
	_, err := c.SetItemState(ctx, in)
	require.NoError(t, err)
	now = now.Add(time.Minute)
	_, err = c.SetItemState(ctx, in)
	require.NoError(t, err, "the retry succeeds")
	it, err := repo.Item(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemStoppedRetain, it.State)
	assert.True(t, t0.Add(time.Hour).Equal(it.UpdatedAt), "the retry did not rewrite the record")
}

// Stopping with delete says when the soft-delete period ends, counted from the first stop
// (a retry does not extend it), by the control worker's setting.
func TestSetItemStateStoppedDeleteSaysWhenDataGoes(t *testing.T) {
	ctx := context.Background()
	repo, id, t0 := protectedSales(t)
	now := t0.Add(time.Hour)
	c := &Control{Vault: repo, Now: func() time.Time { return now }}
	in := protocol.SetItemStateInput{ItemID: id, State: vault.ItemStoppedDelete}
	res, err := c.SetItemState(ctx, in)
	require.NoError(t, err)
	require.NotNil(t, res.DeleteAfter)
	assert.Equal(t, t0.Add(time.Hour+14*24*time.Hour), *res.DeleteAfter, "the default is 14 days")
	now = now.Add(time.Hour)
	c.SoftDelete = 30 * 24 * time.Hour
	res, err = c.SetItemState(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Hour+30*24*time.Hour), *res.DeleteAfter, "from the first stop, by the setting")
	res, err = c.SetItemState(ctx, protocol.SetItemStateInput{ItemID: id, State: vault.ItemStoppedRetain})
	require.NoError(t, err)
	assert.Nil(t, res.DeleteAfter)
}

// Configuring the same databases again (or a retried RegisterItems) writes nothing.
func TestRegisterItemsRetryWritesNothing(t *testing.T) {
	mem := vault.NewMemStore()
	cs := &vault.CountingStore{Store: mem}
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := &Control{Vault: vault.NewRepository(cs, nil).WithKeys(vaulttest.Keys()), Now: func() time.Time { return now }}
	in := protocol.RegisterItemsInput{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily",
		Databases: []protocol.DatabaseInfo{{ItemID: vault.ItemID("SQLVM1", "Sales"), Name: "Sales", BackupTypes: []protocol.BackupType{protocol.Full, protocol.Log}}}}
	_, err := c.RegisterItems(ctx, in)
	require.NoError(t, err)
	puts := cs.Snapshot().Puts
	now = now.Add(time.Minute)
	ids, err := c.RegisterItems(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, []string{vault.ItemID("SQLVM1", "Sales")}, ids)
	assert.Equal(t, puts, cs.Snapshot().Puts, "the retry rewrote nothing")
	it, err := c.Vault.Item(ctx, ids[0])
	require.NoError(t, err)
	assert.True(t, it.UpdatedAt.Equal(now.Add(-time.Minute)))
}

// protectedSales is a vault holding one protected item (Sales on SQLVM1), created and last
// changed at t0.
func protectedSales(t *testing.T) (repo *vault.Repository, id string, t0 time.Time) {
	t.Helper()
	repo = vault.NewRepository(vault.NewMemStore(), nil).WithKeys(vaulttest.Keys())
	id = vault.ItemID("SQLVM1", "Sales")
	t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, repo.PutItem(context.Background(), &vault.ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: "Sales",
		Policy: "daily", State: vault.ItemProtected, CreatedAt: t0, UpdatedAt: t0}))
	return repo, id, t0
}
