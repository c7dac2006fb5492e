package agent

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
)

const (
	grantItem  = "i0123456789abcdef01234567"
	grantPoint = "20261206T120000Z-full-abc"
)

func sealedGrant(t *testing.T, key *blockcrypt.Key, op string, points []string, expiry time.Time) *protocol.VaultGrant {
	t.Helper()
	g, err := grant.Seal(key, grant.Grant{ContainerURL: "http://127.0.0.1:10000/devstoreaccount1/vault",
		Blobs: map[string]string{vault.DataBlob(grantItem, grantPoint, 1, 1): "sv=x&sig=y"}, Expiry: expiry}, op, grantItem, points)
	require.NoError(t, err)
	return g
}

// A step's grant decides its vault access; a grant for another step, an expired one, or none
// on an agent without a credential of its own is refused by name, never silently widened.
func TestVaultForUnitUsesTheStepsGrantOrRefusesByName(t *testing.T) {
	key, err := blockcrypt.NewKey(bytes.Repeat([]byte{3}, blockcrypt.KeySize))
	require.NoError(t, err)
	own := vault.NewRepository(vault.NewMemStore(), nil)
	a := &Agent{Keys: keys.Static(key), Log: zap.NewNop()}
	ctx := context.Background()
	points := []string{grantPoint}

	_, _, err = a.vaultFor(ctx, nil, protocol.GrantBackup, grantItem, points)
	assert.Equal(t, protocol.ErrVaultGrant, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "agent.vaultAccess: grant")

	live := sealedGrant(t, key, protocol.GrantBackup, points, time.Now().Add(time.Hour))
	repo, _, err := a.vaultFor(ctx, live, protocol.GrantBackup, grantItem, points)
	require.NoError(t, err)
	_, err = repo.ListPointSummaries(ctx, grantItem)
	require.Error(t, err, "a grant allows no listing")

	_, _, err = a.vaultFor(ctx, live, protocol.GrantBackup, grantItem, []string{"20261206T120000Z-full-other"})
	assert.Equal(t, protocol.ErrVaultGrant, protocol.ErrorType(err), "a grant for another point")
	_, _, err = a.vaultFor(ctx, live, protocol.GrantRestore, grantItem, points)
	assert.Equal(t, protocol.ErrVaultGrant, protocol.ErrorType(err), "a backup grant used for a restore")

	expired := sealedGrant(t, key, protocol.GrantRestore, points, time.Now().Add(-time.Second))
	_, _, err = a.vaultFor(ctx, expired, protocol.GrantRestore, grantItem, points)
	assert.Equal(t, protocol.ErrVaultGrantExpired, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "mints a new grant")

	a.Vault = own
	repo, _, err = a.vaultFor(ctx, nil, protocol.GrantBackup, grantItem, points)
	require.NoError(t, err)
	assert.Same(t, own, repo, "no grant: the agent's own credential, as before grants")
	assert.False(t, a.GrantOnly())
}

// A read or write that meets an expired grant fails the step by name instead of retrying
// with the same grant; other vault failures stay retried.
func TestVaultErrorsUnitNameAnExpiredGrant(t *testing.T) {
	expired := &azstore.Error{Op: "get", Blob: "b", Status: 403, Kind: azstore.ErrGrantExpired}
	assert.Equal(t, protocol.ErrVaultGrantExpired, protocol.ErrorType(vaultReadError(expired, "read %s", "b")))
	assert.Equal(t, protocol.ErrVaultGrantExpired, protocol.ErrorType(pathError(expired, "writing to")))
	other := &azstore.Error{Op: "get", Blob: "b", Status: 503, Kind: vault.ErrUnavailable}
	assert.Equal(t, protocol.ErrVaultUnavailable, protocol.ErrorType(vaultReadError(other, "read %s", "b")))
	assert.Equal(t, protocol.ErrVaultUnavailable, protocol.ErrorType(pathError(other, "writing to")))
}
