package control

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
)

type fakeSigner struct{}

func (fakeSigner) SignBlob(name string, _ sas.BlobPermissions, _, _ time.Time) (string, error) {
	return "sig=fake-" + name, nil
}

func (fakeSigner) ContainerURL() string { return "http://127.0.0.1:10000/devstoreaccount1/vault" }

func fileKEK(t *testing.T, name string) *keys.FileKEK {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	_, err := blockcrypt.GenerateKeyFile(path)
	require.NoError(t, err)
	kek, err := keys.OpenFileKEK(path)
	require.NoError(t, err)
	return kek
}

// A step on a VM with keys of its own gets, in its grant, the VM's key as only its KEK opens
// it, and the grant is sealed with that key; a step on any other VM (or from a run that names
// none) gets the grant as before. A control side that cannot mint still delivers the keys.
func TestMintVaultGrantDeliversKeysToAVMWithItsOwn(t *testing.T) {
	ctx := t.Context()
	repo := vault.NewRepository(vault.NewMemStore(), nil)
	fleet := fileKEK(t, "fleet.key")
	ring := keys.NewRing(repo, fleet, fleet.DataKey())
	kekA := fileKEK(t, "sqlvm1.key")
	recA, err := ring.RotateVM(ctx, "SQLVM1", kekA)
	require.NoError(t, err)
	minterKey := fleet.DataKey()
	c := &Control{Vault: repo, Log: zap.NewNop(), KeyDelivery: ring, Grants: &grant.Minter{Signer: fakeSigner{}, Key: minterKey}}
	item, point := vault.ItemID("SQLVM1", "Sales"), vault.NewPointID(time.Now(), vault.BackupFull, "")
	in := protocol.MintGrantInput{Op: protocol.GrantBackup, ItemID: item, PointIDs: []string{point}, Stripes: 1, Attempts: 1, Valid: time.Hour}

	in.VM = "SQLVM1"
	g, err := c.MintVaultGrant(ctx, in)
	require.NoError(t, err)
	require.NotNil(t, g.Keys)
	assert.Equal(t, "sqlvm1", g.Keys.VM)
	assert.Equal(t, recA.ID, g.Keys.CarrierID)
	assert.Empty(t, g.Keys.Keys, "a backup needs the VM's active key alone")
	assert.Equal(t, recA.ID, g.KeyID, "sealed with the VM's key")
	// The VM's agent, with no keyring at all, opens the keys and then the grant.
	src, err := keys.NewVMRing(nil, "sqlvm1", kekA).Accept(ctx, g.Keys)
	require.NoError(t, err)
	k, err := src.Key(ctx, g.KeyID)
	require.NoError(t, err)
	opened, err := grant.Open(k, g, protocol.GrantBackup, item, []string{point}, time.Now())
	require.NoError(t, err)
	assert.Len(t, opened.Blobs, 2)

	for _, other := range []string{"sqlvm9", ""} {
		in.VM = other
		g, err = c.MintVaultGrant(ctx, in)
		require.NoError(t, err)
		assert.Nil(t, g.Keys, "VM %q has no keys of its own", other)
		assert.Equal(t, minterKey.ID(), g.KeyID)
	}

	c.Grants = nil
	in.VM = "sqlvm1"
	g, err = c.MintVaultGrant(ctx, in)
	require.NoError(t, err)
	require.NotNil(t, g)
	assert.Empty(t, g.Sealed, "no storage grant: the agent's own credential")
	assert.Equal(t, recA.ID, g.Keys.CarrierID)
	in.VM = "sqlvm9"
	g, err = c.MintVaultGrant(ctx, in)
	require.NoError(t, err)
	assert.Nil(t, g, "nothing to mint, nothing to deliver")
}
