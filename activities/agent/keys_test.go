package agent

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

func fileRing(t *testing.T, w *unitWorld, name string) (*keys.Ring, *keys.FileKEK) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	_, err := blockcrypt.GenerateKeyFile(path)
	require.NoError(t, err)
	kek, err := keys.OpenFileKEK(path)
	require.NoError(t, err)
	return keys.NewRing(w.repo, kek, kek.DataKey()), kek
}

// With the keyring: a point from before a rotation and one after restore through the
// agent's activities, each with its own key; an agent that cannot reach the KEK fails its
// backups and restores by name (KEKUnavailable), and one without a point's key says so
// (DataKeyUnavailable).
func TestTheAgentSealsWithTheActiveKeyAndRestoresWithEachPointsKey(t *testing.T) {
	w := newUnitWorld(t)
	w.create(t, sqlsim.DatabaseSpec{Name: "Sales", DataPages: 64, Seed: 7})
	ring, kek := fileRing(t, w, "vault.key")
	w.useKeys(ring)
	t0 := time.Now().UTC().Truncate(time.Second)

	fullStream, _ := w.backup(t, "Sales", protocol.Full, t0)
	assert.Equal(t, kek.DataKey().ID(), fullStream.KeyID, "before any rotation the key file seals, as it always did")
	rec, err := ring.Rotate(t.Context())
	require.NoError(t, err)
	logStream, lg := w.backup(t, "Sales", protocol.Log, t0.Add(15*time.Minute))
	assert.Equal(t, rec.ID, logStream.KeyID, "after the rotation the new data key seals")

	var plan protocol.RestorePlan
	require.NoError(t, w.run(t, &plan, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: lg.PointID}))
	require.Len(t, plan.Steps, 2)
	restore := func(target string) error {
		for i, step := range plan.Steps {
			if err := w.run(t, nil, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: target,
				ItemID: plan.ItemID, Step: step, Index: i, Relocate: true}); err != nil {
				return err
			}
		}
		return nil
	}
	// A freshly started agent: the keys come from the vault's keyring through the KEK file.
	w.useKeys(keys.NewRing(w.repo, kek, kek.DataKey()))
	require.NoError(t, restore("Sales_copy"))

	// An agent whose key file is another one: nothing it needs from the keyring opens.
	other, _ := fileRing(t, w, "other.key")
	w.useKeys(other)
	var stream protocol.StreamBackupResult
	err = w.run(t, &stream, protocol.ActivityStreamBackup, protocol.StreamBackupInput{Instance: "SQLVM1", Database: "Sales",
		Type: protocol.Log, ItemID: plan.ItemID, PointID: "20991231T000000Z-log-nokey", Stripes: 1, Compression: true})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrKEKUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "What to do")
	// Its first step (the key file's point) has no key here at all; the log's KEK is out of reach.
	err = restore("Sales_other")
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDataKeyUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), kek.DataKey().ID())
	err = w.run(t, nil, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_other2",
		ItemID: plan.ItemID, Step: plan.Steps[1], Index: 1, Relocate: true})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrKEKUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "unwrap data key "+rec.ID)
}
