package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// The control side delivers B's and the fleet's keys to A for a restore: A opens them with
// its own KEK and restores; B cannot open a delivery made for A; an altered delivery is
// refused; the delivery holds no key in clear.
func TestADeliveryOpensOnlyOnItsVM(t *testing.T) {
	w := newVMWorld(t)
	mA, pA := w.backupOn(t, w.itemA, w.ringA)
	mB, pB := w.backupOn(t, w.itemB, w.ringB)
	mF, pF := w.backupOn(t, w.fl, w.control)
	legacyPoint, pL := w.backupOn(t, w.fl, Static(w.fleet.DataKey())) // the key file's, before the keyring

	// The control worker's ring as it builds it (the key file known by path, so it can
	// deliver the key file's own points too).
	ctl, err := FromConfig(config.Key{File: w.fleet.path}, w.repo)
	require.NoError(t, err)
	d, carrier, err := ctl.Deliver(ctxT(t), "SQLVM-A", []string{mB.Encryption.KeyID, mF.Encryption.KeyID, mA.Encryption.KeyID, mB.Encryption.KeyID,
		legacyPoint.Encryption.KeyID})
	require.NoError(t, err)
	require.NotNil(t, d)
	assert.Equal(t, w.recA.ID, carrier.ID(), "the grant is sealed with A's active key")
	assert.Equal(t, "sqlvm-a", d.VM)
	assert.Equal(t, w.recA.ID, d.CarrierID)
	assert.Equal(t, []string{w.recB.ID, w.fleetRec.ID, w.fleet.DataKey().ID()}, []string{d.Keys[0].ID, d.Keys[1].ID, d.Keys[2].ID}, "each once, the carrier not again")

	// What history holds: no key in clear.
	blob, err := json.Marshal(d)
	require.NoError(t, err)
	for _, id := range []string{w.recB.ID, w.fleetRec.ID} {
		raw, err := w.control.rawKey(ctxT(t), id, mustRecord(t, w, id))
		require.NoError(t, err)
		assert.False(t, bytes.Contains(blob, raw), "data key %s in clear", id)
	}

	src, err := w.ringA.Accept(ctxT(t), d)
	require.NoError(t, err)
	w.mustRestore(t, src, mB, pB)
	w.mustRestore(t, src, mF, pF)
	w.mustRestore(t, src, mA, pA)
	w.mustRestore(t, src, legacyPoint, pL)
	active, err := src.Active(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, w.recA.ID, active.ID())

	// B's agent: not its delivery.
	_, err = w.ringB.Accept(ctxT(t), d)
	require.ErrorIs(t, err, ErrDeliveryRefused)
	require.ErrorIs(t, err, ErrDataKeyMismatch)
	// Re-labelled for B, the carrier does not open under B's KEK.
	forB := *d
	forB.VM = "sqlvm-b"
	_, err = w.ringB.Accept(ctxT(t), &forB)
	require.ErrorIs(t, err, ErrKEKUnavailable)
	// A key moved to another id, or changed, is refused.
	moved := *d
	moved.Keys = []protocol.DeliveredKey{{ID: w.recB.ID, Sealed: d.Keys[1].Sealed}}
	_, err = w.ringA.Accept(ctxT(t), &moved)
	require.ErrorIs(t, err, ErrDeliveryRefused)
	altered := *d
	sealed := bytes.Clone(d.Keys[0].Sealed)
	sealed[len(sealed)-1] ^= 1
	altered.Keys = []protocol.DeliveredKey{{ID: d.Keys[0].ID, Sealed: sealed}}
	_, err = w.ringA.Accept(ctxT(t), &altered)
	require.ErrorIs(t, err, ErrDeliveryRefused)
	// The carrier's wrapping swapped for B's record's (with B's id): not A's KEK's.
	swapped := *d
	swapped.CarrierID, swapped.KEK, swapped.Wrapped = w.recB.ID, w.recB.VMWrap.KEK, w.recB.VMWrap.Wrapped
	_, err = w.ringA.Accept(ctxT(t), &swapped)
	require.Error(t, err)

	// A VM without keys of its own gets no delivery: its agent holds the fleet KEK.
	none, _, err := w.control.Deliver(ctxT(t), "sqlvm-c", []string{mB.Encryption.KeyID})
	require.NoError(t, err)
	assert.Nil(t, none)
	// Only the fleet's ring delivers.
	_, _, err = w.ringA.Deliver(ctxT(t), "sqlvm-a", nil)
	require.ErrorContains(t, err, "needs the fleet KEK")
}

// An agent without a vault credential holds its VM's ring with no keyring behind it: every
// key comes delivered, and without a delivery it says so.
func TestAVMRingWithoutACredentialTakesItsKeysFromDeliveries(t *testing.T) {
	w := newVMWorld(t)
	mA, pA := w.backupOn(t, w.itemA, w.ringA)
	blind := NewVMRing(nil, "sqlvm-a", w.kekA)
	_, err := blind.Active(ctxT(t))
	require.ErrorIs(t, err, ErrNoDataKey)
	assert.Contains(t, err.Error(), "agent.vaultAccess: grant")
	_, err = blind.Key(ctxT(t), w.recA.ID)
	require.ErrorIs(t, err, ErrUnknownDataKey)

	d, _, err := w.control.Deliver(ctxT(t), "sqlvm-a", nil)
	require.NoError(t, err)
	assert.Empty(t, d.Keys, "a backup needs the VM's active key alone: the carrier")
	src, err := blind.Accept(ctxT(t), d)
	require.NoError(t, err)
	k, err := src.Active(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, w.recA.ID, k.ID())
	w.mustRestore(t, src, mA, pA)
}

func mustRecord(t *testing.T, w *vmWorld, id string) *vault.KeyRecord {
	t.Helper()
	rec, err := w.repo.KeyRecord(ctxT(t), id)
	require.NoError(t, err)
	return rec
}

// countingKEK counts unwraps (a Key Vault call each).
type countingKEK struct {
	KEK
	unwraps int
}

func (c *countingKEK) Unwrap(ctx context.Context, id string, w Wrapped) ([]byte, error) {
	c.unwraps++
	return c.KEK.Unwrap(ctx, id, w)
}

// A VM's agent asks its KEK for the carrier once per process, not once per step; the other
// delivered keys stay the step's.
func TestACarrierIsUnwrappedOncePerProcess(t *testing.T) {
	w := newVMWorld(t)
	mB, pB := w.backupOn(t, w.itemB, w.ringB)
	kek := &countingKEK{KEK: w.kekA}
	ring := NewVMRing(nil, "sqlvm-a", kek)
	for step := 0; step < 3; step++ {
		d, _, err := w.control.Deliver(ctxT(t), "sqlvm-a", []string{mB.Encryption.KeyID})
		require.NoError(t, err)
		src, err := ring.Accept(ctxT(t), d)
		require.NoError(t, err)
		w.mustRestore(t, src, mB, pB)
	}
	assert.Equal(t, 1, kek.unwraps)
	_, err := ring.Key(ctxT(t), w.recB.ID)
	require.ErrorIs(t, err, ErrUnknownDataKey, "B's key was the steps', not the ring's")
}
