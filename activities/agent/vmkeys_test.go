package agent

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/activities/control"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
)

func fileKEK(t *testing.T, name string) *keys.FileKEK {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	_, err := blockcrypt.GenerateKeyFile(path)
	require.NoError(t, err)
	kek, err := keys.OpenFileKEK(path)
	require.NoError(t, err)
	return kek
}

// useAgentKeys gives the agent alone src: its key source and the keyring its own repository
// (its vault credential, which reads the whole vault) authenticates with; the control side
// keeps the fleet's.
func (w *unitWorld) useAgentKeys(src keys.Source) {
	w.agent.Keys = src
	w.agent.Vault = vault.NewRepository(w.repo.Store(), nil).WithKeys(src)
}

// An agent with its own VM's KEK (key.scope: vm) seals its backups with its VM's key, which
// the control side commits and plans with through the fleet KEK, and restores them; a point
// sealed with the fleet's key or another VM's is refused by name (DataKeyUnavailable), though
// the agent reads the whole vault and keyring with its credential.
func TestAnAgentWithItsOwnKEKReadsItsOwnVMsPointsOnly(t *testing.T) {
	w := newUnitWorld(t)
	w.create(t, sqlsim.DatabaseSpec{Name: "Sales", DataPages: 64, Seed: 7})
	fleet := fileKEK(t, "fleet.key")
	fleetRing := keys.NewRing(vault.NewRepository(w.repo.Store(), nil), fleet, fleet.DataKey())
	w.useKeys(fleetRing)
	fleetRec, err := fleetRing.Rotate(t.Context())
	require.NoError(t, err)
	kekA, kekB := fileKEK(t, "sqlvm1.key"), fileKEK(t, "sqlvm2.key")
	recA, err := fleetRing.RotateVM(t.Context(), "SQLVM1", kekA)
	require.NoError(t, err)
	recB, err := fleetRing.RotateVM(t.Context(), "sqlvm2", kekB)
	require.NoError(t, err)
	ringA := keys.NewVMRing(vault.NewRepository(w.repo.Store(), nil), w.agent.VM, kekA)
	w.useAgentKeys(ringA)
	t0 := time.Now().UTC().Truncate(time.Second)

	fullStream, _ := w.backup(t, "Sales", protocol.Full, t0)
	assert.Equal(t, recA.ID, fullStream.KeyID, "a backup on VM A is sealed with A's key")
	// A log sealed with VM B's key (as if the database had been backed up on B), and one with
	// the fleet's (an agent holding the fleet KEK).
	w.useAgentKeys(keys.NewVMRing(vault.NewRepository(w.repo.Store(), nil), "sqlvm2", kekB))
	bStream, _ := w.backup(t, "Sales", protocol.Log, t0.Add(15*time.Minute))
	assert.Equal(t, recB.ID, bStream.KeyID)
	w.useAgentKeys(fleetRing)
	fleetStream, lg := w.backup(t, "Sales", protocol.Log, t0.Add(30*time.Minute))
	assert.Equal(t, fleetRec.ID, fleetStream.KeyID)
	w.useAgentKeys(ringA)

	var plan protocol.RestorePlan
	require.NoError(t, w.run(t, &plan, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: lg.PointID}),
		"the control side plans over every VM's points")
	require.Len(t, plan.Steps, 3)
	step := func(i int) error {
		return w.run(t, nil, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy",
			ItemID: plan.ItemID, Step: plan.Steps[i], Index: i, Relocate: true})
	}
	require.NoError(t, step(0), "A restores its own point")
	err = step(1)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDataKeyUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "data key "+recB.ID+" belongs to VM sqlvm2")
	err = step(2)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDataKeyUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "data key "+fleetRec.ID+" belongs to the fleet")

	// Through the workflow, the control side delivers the keys each step needs to A alone
	// (inside the step's grant; this control side mints no storage grant, so the grant is
	// the keys alone and A uses its own credential): A restores every step.
	ctl := &control.Control{Vault: w.repo, KeyDelivery: fleetRing, Log: zap.NewNop()}
	grantFor := func(vm string, i int) *protocol.VaultGrant {
		g, err := ctl.MintVaultGrant(t.Context(), protocol.MintGrantInput{Op: protocol.GrantRestore, ItemID: plan.ItemID,
			PointIDs: []string{plan.Steps[i].PointID}, Valid: time.Hour, VM: vm})
		require.NoError(t, err)
		require.NotNil(t, g)
		assert.Empty(t, g.Sealed, "no storage grant was minted")
		return g
	}
	stepWith := func(target string, i int, g *protocol.VaultGrant) error {
		return w.run(t, nil, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: target,
			ItemID: plan.ItemID, Step: plan.Steps[i], Index: i, Relocate: true, Grant: g})
	}
	// Keys delivered for VM B do not open on A.
	err = stepWith("Sales_copy", 1, grantFor("sqlvm2", 1))
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDataKeyUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "delivered for VM \"sqlvm2\"")
	for i := range plan.Steps {
		require.NoError(t, stepWith("Sales_delivered", i, grantFor("SQLVM1", i)), "step %d with delivered keys", i)
	}
	var state string
	require.NoError(t, w.run(t, &state, protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_delivered"}))
	assert.Equal(t, "ONLINE", state)
	// And A still holds no key of B's or the fleet's of its own: the delivery was the step's.
	_, err = ringA.Key(t.Context(), recB.ID)
	require.ErrorIs(t, err, keys.ErrDataKeyOutOfScope)

	// The same steps from an agent holding the fleet KEK restore: nothing is lost, only
	// out of A's reach.
	w.useAgentKeys(keys.NewRing(vault.NewRepository(w.repo.Store(), nil), fleet, fleet.DataKey()))
	require.NoError(t, step(1))
	require.NoError(t, step(2))
}

// A storage grant sealed with the fleet's key (the control side's) does not open on an agent
// with its own VM's KEK: holding a vault credential, it works through that; holding none, the
// step is refused by name.
func TestAGrantOutsideTheVMsScope(t *testing.T) {
	w := newUnitWorld(t)
	fleet := fileKEK(t, "fleet.key")
	fleetRing := keys.NewRing(vault.NewRepository(w.repo.Store(), nil), fleet, fleet.DataKey())
	_, err := fleetRing.Rotate(t.Context())
	require.NoError(t, err)
	kekA := fileKEK(t, "sqlvm1.key")
	_, err = fleetRing.RotateVM(t.Context(), "SQLVM1", kekA)
	require.NoError(t, err)
	w.useAgentKeys(keys.NewVMRing(vault.NewRepository(w.repo.Store(), nil), w.agent.VM, kekA))

	sealWith, err := fleetRing.Active(t.Context())
	require.NoError(t, err)
	item, point := vault.ItemID("SQLVM1", "Sales"), vault.NewPointID(time.Now(), vault.BackupFull, "")
	g, err := grant.Seal(sealWith, grant.Grant{ContainerURL: "http://127.0.0.1:10000/devstoreaccount1/sqlvault", Expiry: time.Now().Add(time.Hour)},
		protocol.GrantBackup, item, []string{point})
	require.NoError(t, err)
	repo, _, err := w.agent.vaultFor(t.Context(), g, protocol.GrantBackup, item, []string{point})
	require.NoError(t, err)
	assert.Same(t, w.agent.Vault, repo, "the agent's own credential")

	w.agent.Vault = nil
	_, _, err = w.agent.vaultFor(t.Context(), g, protocol.GrantBackup, item, []string{point})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDataKeyUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "belongs to the fleet")
}
