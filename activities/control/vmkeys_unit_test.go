package control

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
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

// putPointSealedWith stores the authenticated manifest of a full of db on instance sealed with
// data key keyID of ring.
func putPointSealedWith(t *testing.T, repo *vault.Repository, ring *keys.Ring, instance, db, keyID string) (item, point string) {
	t.Helper()
	item = vault.ItemID(instance, db)
	finish := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	m := &vault.Manifest{Schema: vault.ManifestSchema, ItemID: item, PointID: vault.NewPointID(finish, vault.BackupFull, "a1")}
	m.Database.Name, m.Database.GUID, m.Database.FamilyGUID = db, "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	m.Server.Instance = instance
	m.Backup.Type = vault.BackupFull
	m.Backup.StartTime, m.Backup.FinishTime = finish.Add(-time.Minute), finish
	m.Backup.FirstLSN, m.Backup.LastLSN, m.Backup.CheckpointLSN, m.Backup.DatabaseBackupLSN = "1000", "2000", "1500", "0"
	m.CreatedAt = finish
	m.Encryption.Algorithm, m.Encryption.KeyID, m.Encryption.Compression = vault.AlgorithmAES256GCM, keyID, vault.CompressionZstd
	blob := vault.DataBlob(item, m.PointID, 1, 1)
	m.Stripes = []vault.StripeInfo{{Blob: blob, Index: vault.IndexBlob(blob), IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)}}
	key, err := ring.Key(t.Context(), keyID)
	require.NoError(t, err)
	data, md, err := vault.SealedManifest(key, m)
	require.NoError(t, err)
	require.NoError(t, repo.Store().Put(t.Context(), vault.ManifestBlob(item, m.PointID), data, vault.PutOptions{Metadata: md}))
	return item, m.PointID
}

// key.crossVMRestores: refuse. A restore onto VM A of a point sealed with VM B's key is
// refused by name and delivers nothing; A's own points and the points sealed with a fleet
// key (taken before the VMs had keys of their own) are still delivered; with the default
// (allow) B's point is delivered to A.
func TestMintVaultGrantRefusesAnotherVMsKeysWhenAskedTo(t *testing.T) {
	ctx := t.Context()
	repo := vault.NewRepository(vault.NewMemStore(), nil)
	fleetFile := filepath.Join(t.TempDir(), "fleet.key")
	fleetKey, err := blockcrypt.GenerateKeyFile(fleetFile)
	require.NoError(t, err)
	ring, err := keys.FromConfig(config.Key{File: fleetFile}, repo) // as the control worker builds it
	require.NoError(t, err)
	recA, err := ring.RotateVM(ctx, "SQLVM1", fileKEK(t, "sqlvm1.key"))
	require.NoError(t, err)
	recB, err := ring.RotateVM(ctx, "SQLVM2", fileKEK(t, "sqlvm2.key"))
	require.NoError(t, err)
	itemA, pointA := putPointSealedWith(t, repo, ring, "SQLVM1", "Sales", recA.ID)
	itemB, pointB := putPointSealedWith(t, repo, ring, "SQLVM2", "HR", recB.ID)
	itemF, pointF := putPointSealedWith(t, repo, ring, "SQLVM1", "Old", fleetKey.ID())
	restore := func(item, point string) protocol.MintGrantInput {
		return protocol.MintGrantInput{Op: protocol.GrantRestore, ItemID: item, PointIDs: []string{point}, VM: "SQLVM1", Valid: time.Hour}
	}
	c := &Control{Vault: repo.WithKeys(ring), Log: zap.NewNop(), KeyDelivery: ring, RefuseCrossVMKeys: true}

	g, err := c.MintVaultGrant(ctx, restore(itemB, pointB))
	require.Error(t, err)
	assert.Nil(t, g, "nothing delivered")
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, protocol.ErrCrossVMRestoreRefused, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), "sqlvm2")
	assert.Contains(t, err.Error(), "key.crossVMRestores")

	for _, own := range []struct{ item, point, key string }{{itemA, pointA, recA.ID}, {itemF, pointF, fleetKey.ID()}} {
		g, err = c.MintVaultGrant(ctx, restore(own.item, own.point))
		require.NoError(t, err)
		require.NotNil(t, g.Keys)
		assert.Equal(t, recA.ID, g.Keys.CarrierID)
		if own.key != recA.ID {
			require.Len(t, g.Keys.Keys, 1, "the fleet key sealed for A")
		}
	}

	c.RefuseCrossVMKeys = false
	g, err = c.MintVaultGrant(ctx, restore(itemB, pointB))
	require.NoError(t, err)
	require.NotNil(t, g.Keys)
	require.Len(t, g.Keys.Keys, 1, "B's key, sealed for A")
}

// A step on a VM without keys of its own gets the fleet's keyring records it needs with its
// grant — the active key's for a backup, the points' for a restore — as stored; a run that
// names no VM (from before) gets none.
func TestMintVaultGrantHandsFleetRecordsToAVMOnTheFleetsKeys(t *testing.T) {
	ctx := t.Context()
	repo := vault.NewRepository(vault.NewMemStore(), nil)
	fleetFile := filepath.Join(t.TempDir(), "fleet.key")
	_, err := blockcrypt.GenerateKeyFile(fleetFile)
	require.NoError(t, err)
	ring, err := keys.FromConfig(config.Key{File: fleetFile}, repo)
	require.NoError(t, err)
	old, err := ring.Rotate(ctx)
	require.NoError(t, err)
	item, point := putPointSealedWith(t, repo, ring, "SQLVM1", "Sales", old.ID)
	active, err := ring.Rotate(ctx)
	require.NoError(t, err)
	minterKey, err := ring.Active(ctx)
	require.NoError(t, err)
	c := &Control{Vault: repo.WithKeys(ring), Log: zap.NewNop(), KeyDelivery: ring, Grants: &grant.Minter{Signer: fakeSigner{}, Key: minterKey}}

	ids := func(g *protocol.VaultGrant) []string {
		var out []string
		for _, raw := range g.FleetKeys.Records {
			var r vault.KeyRecord
			require.NoError(t, json.Unmarshal(raw, &r))
			out = append(out, r.ID)
		}
		return out
	}
	backup := protocol.MintGrantInput{Op: protocol.GrantBackup, ItemID: item, PointIDs: []string{vault.NewPointID(time.Now(), vault.BackupFull, "")},
		Stripes: 1, Attempts: 1, Valid: time.Hour, VM: "SQLVM1"}
	g, err := c.MintVaultGrant(ctx, backup)
	require.NoError(t, err)
	assert.Nil(t, g.Keys, "no keys of its own")
	require.NotNil(t, g.FleetKeys)
	assert.Equal(t, active.ID, g.FleetKeys.Active)
	assert.Equal(t, []string{active.ID}, ids(g))

	g, err = c.MintVaultGrant(ctx, protocol.MintGrantInput{Op: protocol.GrantRestore, ItemID: item, PointIDs: []string{point}, Valid: time.Hour, VM: "SQLVM1"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{old.ID, active.ID}, ids(g))

	backup.VM = ""
	g, err = c.MintVaultGrant(ctx, backup)
	require.NoError(t, err)
	assert.Nil(t, g.FleetKeys, "a run from before names no VM")
}
