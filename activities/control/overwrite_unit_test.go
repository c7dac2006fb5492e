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

// Issue 16: an overwrite restore of a database under active protection needs the item's
// current protection tag; a stopped item, or a database that is no item, needs none. The
// refusal is named, never retried, never tells the tag, and a differently spelt name on a
// case-insensitive server does not get around it.
func TestCheckOverwrite(t *testing.T) {
	ctx := context.Background()
	repo := vault.NewRepository(vault.NewMemStore(), nil).WithKeys(vaulttest.Keys())
	t0 := time.Date(2026, 11, 1, 9, 30, 0, 123456789, time.UTC)
	now := t0.Add(time.Hour)
	c := &Control{Vault: repo, Now: func() time.Time { return now }}
	id := vault.ItemID("SQLVM1", "Sales")
	require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: "Sales",
		Policy: "daily", State: vault.ItemProtected, CreatedAt: t0, UpdatedAt: t0}))
	it, err := repo.Item(ctx, id)
	require.NoError(t, err)
	tag := protocol.ProtectionTag(id, it.State, it.UpdatedAt)
	assert.Regexp(t, `^protected-[0-9a-f]{12}$`, tag)

	refused := func(in protocol.CheckOverwriteInput, contains string) {
		t.Helper()
		err := c.CheckOverwrite(ctx, in)
		require.Error(t, err)
		assert.Equal(t, protocol.ErrProtectedOverwrite, protocol.ErrorType(err))
		assert.True(t, isNonRetryable(err))
		assert.Contains(t, err.Error(), contains)
		cur, err2 := repo.Item(ctx, id)
		require.NoError(t, err2)
		assert.NotContains(t, err.Error(), protocol.ProtectionTag(id, cur.State, cur.UpdatedAt), "the refusal must not hand out the tag")
	}
	refused(protocol.CheckOverwriteInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales"},
		"Sales on SQLVM1 is under active protection (item "+id+", policy daily) and the request names no protection tag")
	refused(protocol.CheckOverwriteInput{TargetInstance: "sqlvm1", TargetDatabase: "SALES"}, "the request names no protection tag")
	refused(protocol.CheckOverwriteInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales", ProtectionTag: "protected-000000000000"},
		"(protected-000000000000) is not the item's current one")
	require.NoError(t, c.CheckOverwrite(ctx, protocol.CheckOverwriteInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales", ProtectionTag: tag}))
	require.NoError(t, c.CheckOverwrite(ctx, protocol.CheckOverwriteInput{TargetInstance: "SQLVM1", TargetDatabase: "sales", ProtectionTag: tag}))
	require.NoError(t, c.CheckOverwrite(ctx, protocol.CheckOverwriteInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy"}),
		"a database that is no item needs no tag")

	// Stopped: no tag needed. Resumed: the old tag no longer works, the new one does.
	_, err = c.SetItemState(ctx, protocol.SetItemStateInput{ItemID: id, State: vault.ItemStoppedRetain})
	require.NoError(t, err)
	require.NoError(t, c.CheckOverwrite(ctx, protocol.CheckOverwriteInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales"}))
	now = now.Add(time.Minute)
	_, err = c.SetItemState(ctx, protocol.SetItemStateInput{ItemID: id, State: vault.ItemProtected})
	require.NoError(t, err)
	refused(protocol.CheckOverwriteInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales", ProtectionTag: tag}, "its protection changed since it was read")
	it, err = repo.Item(ctx, id)
	require.NoError(t, err)
	require.NoError(t, c.CheckOverwrite(ctx, protocol.CheckOverwriteInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales",
		ProtectionTag: protocol.ProtectionTag(id, it.State, it.UpdatedAt)}))
}
