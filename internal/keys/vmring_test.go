package keys

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// vmWorld is a vault with a fleet KEK and two VMs with KEKs of their own, each VM with a
// data key of its own (key rotate --vm) and the fleet with one (key rotate).
type vmWorld struct {
	*world
	fleet            *FileKEK
	control          *Ring // the control side: the fleet KEK
	kekA, kekB       *FileKEK
	fleetRec         *vault.KeyRecord
	recA, recB       *vault.KeyRecord
	ringA, ringB     *Ring // the VMs' agents (key.scope: vm), fresh
	itemA, itemB, fl string
}

func newVMWorld(t *testing.T) *vmWorld {
	t.Helper()
	w := &vmWorld{world: newWorld()}
	w.fleet = openFileKEK(t, "fleet.key")
	w.control = NewRing(w.repo, w.fleet, w.fleet.DataKey())
	w.kekA, w.kekB = openFileKEK(t, "sqlvm-a.key"), openFileKEK(t, "sqlvm-b.key")
	var err error
	w.fleetRec, err = w.control.Rotate(ctxT(t))
	require.NoError(t, err)
	// VM names are matched as agent task queues are: case-insensitively.
	w.recA, err = w.control.RotateVM(ctxT(t), "SQLVM-A", w.kekA)
	require.NoError(t, err)
	w.recB, err = w.control.RotateVM(ctxT(t), "sqlvm-b", w.kekB)
	require.NoError(t, err)
	w.ringA, w.ringB = NewVMRing(w.repo, "sqlvm-a", w.kekA), NewVMRing(w.repo, "SQLVM-B", w.kekB)
	w.itemA, w.itemB, w.fl = vault.ItemID(`SQLVM-A\SQL2022`, "Sales"), vault.ItemID(`SQLVM-B\SQL2022`, "HR"), vault.ItemID(`SQLVM-C\SQL2022`, "Ops")
	return w
}

func (w *vmWorld) backupOn(t *testing.T, item string, src Source) (*vault.Manifest, []byte) {
	w.item = item
	return w.backup(t, src)
}

// Each VM's agent seals with its own VM's key and opens its own points; it cannot open
// another VM's key nor the fleet's, though it reads the whole keyring; the control side
// opens every point.
func TestAVMsRingOpensItsOwnVMsKeysOnly(t *testing.T) {
	w := newVMWorld(t)
	assert.Equal(t, "sqlvm-a", w.recA.Scope)
	assert.Equal(t, "sqlvm-b", w.recB.Scope)
	assert.Empty(t, w.fleetRec.Scope)

	mA, pA := w.backupOn(t, w.itemA, w.ringA)
	assert.Equal(t, w.recA.ID, mA.Encryption.KeyID, "a backup on VM A is sealed with A's key")
	mB, pB := w.backupOn(t, w.itemB, w.ringB)
	assert.Equal(t, w.recB.ID, mB.Encryption.KeyID)
	mF, pF := w.backupOn(t, w.fl, w.control)
	assert.Equal(t, w.fleetRec.ID, mF.Encryption.KeyID, "a VM's rotation does not change the fleet's active key")

	w.mustRestore(t, w.ringA, mA, pA)
	w.mustRestore(t, w.ringB, mB, pB)

	_, err := w.restore(t, w.ringA, mB)
	require.ErrorIs(t, err, ErrDataKeyOutOfScope)
	require.ErrorIs(t, err, ErrUnknownDataKey, "named as a data key this process does not have (DataKeyUnavailable)")
	assert.Contains(t, err.Error(), "belongs to VM sqlvm-b")
	assert.Contains(t, err.Error(), "VM sqlvm-a's own KEK")
	_, err = w.restore(t, w.ringA, mF)
	require.ErrorIs(t, err, ErrDataKeyOutOfScope)
	assert.Contains(t, err.Error(), "belongs to the fleet")
	_, err = w.ringB.Key(ctxT(t), w.recA.ID)
	require.ErrorIs(t, err, ErrDataKeyOutOfScope)
	// The key file of the fleet's KEK sealed points directly before the keyring: not A's either.
	_, err = w.ringA.Key(ctxT(t), w.fleet.DataKey().ID())
	require.ErrorIs(t, err, ErrUnknownDataKey)
	require.ErrorIs(t, err, ErrDataKeyOutOfScope)
	assert.Contains(t, err.Error(), "not in the keyring")

	// The control side (a fresh process: the fleet KEK only) opens every point.
	fresh := NewRing(w.repo, w.fleet, w.fleet.DataKey())
	w.mustRestore(t, fresh, mA, pA)
	w.mustRestore(t, fresh, mB, pB)
	w.mustRestore(t, fresh, mF, pF)

	// A's own KEK does not open B's record through any wrapping, even asked directly.
	recB, err := w.repo.KeyRecord(ctxT(t), w.recB.ID)
	require.NoError(t, err)
	_, _, err = unwrapChecked(ctxT(t), w.kekA, recB.ID, recB.VMWrap.Provider, Wrapped{KEK: recB.VMWrap.KEK, Algorithm: recB.VMWrap.Algorithm, Value: recB.VMWrap.Wrapped})
	require.ErrorIs(t, err, ErrKEKUnavailable)
	_, _, err = unwrapChecked(ctxT(t), w.kekA, recB.ID, recB.Provider, Wrapped{KEK: recB.KEK, Algorithm: recB.Algorithm, Value: recB.Wrapped})
	require.ErrorIs(t, err, ErrKEKUnavailable)

	st, err := fresh.Status(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, w.fleetRec.ID, st.Active)
	assert.Equal(t, map[string]string{"sqlvm-a": w.recA.ID, "sqlvm-b": w.recB.ID}, st.VMActive)
	for _, k := range st.Keys {
		switch k.ID {
		case w.recA.ID:
			assert.Equal(t, "sqlvm-a", k.Scope)
			assert.Equal(t, w.kekA.Ref(), k.VMKEK)
			assert.Equal(t, 1, k.Points)
			assert.True(t, k.Usable, "the control side opens a VM's key")
		case w.fleetRec.ID:
			assert.Empty(t, k.Scope)
			assert.Empty(t, k.VMKEK)
		}
	}
}

// Rotations are per scope: the fleet's rotation leaves the VMs' active keys in force and a
// VM's leaves the fleet's and the other VMs'.
func TestRotationsArePerScope(t *testing.T) {
	w := newVMWorld(t)
	fleet2, err := w.control.Rotate(ctxT(t))
	require.NoError(t, err)
	a2, err := w.control.RotateVM(ctxT(t), "sqlvm-a", w.kekA)
	require.NoError(t, err)

	state := func(id string) string {
		rec, err := w.repo.KeyRecord(ctxT(t), id)
		require.NoError(t, err)
		return rec.State
	}
	assert.Equal(t, vault.KeyRetired, state(w.fleetRec.ID))
	assert.Equal(t, vault.KeyActive, state(fleet2.ID))
	assert.Equal(t, vault.KeyRetired, state(w.recA.ID))
	assert.Equal(t, vault.KeyActive, state(a2.ID))
	assert.Equal(t, vault.KeyActive, state(w.recB.ID), "another VM's rotation leaves B's key active")

	for ring, want := range map[*Ring]string{w.ringA: a2.ID, w.ringB: w.recB.ID, NewRing(w.repo, w.fleet): fleet2.ID} {
		k, err := ring.Active(ctxT(t))
		require.NoError(t, err)
		assert.Equal(t, want, k.ID(), "active key of scope %q", ring.Scope())
	}
	// A's retired key still opens on A (its old points).
	_, err = NewVMRing(w.repo, "sqlvm-a", w.kekA).Key(ctxT(t), w.recA.ID)
	require.NoError(t, err)
}

// A VM without a key of its own has nothing to seal with, and is told what to run; a VM's
// ring cannot change the keyring (it holds no fleet KEK).
func TestAVMWithoutItsOwnKeyIsTold(t *testing.T) {
	w := newVMWorld(t)
	kekC := openFileKEK(t, "sqlvm-c.key")
	ringC := NewVMRing(w.repo, "sqlvm-c", kekC)
	_, err := ringC.Active(ctxT(t))
	require.ErrorIs(t, err, ErrNoDataKey)
	assert.Contains(t, err.Error(), "sqlvault key rotate --vm sqlvm-c")

	_, err = w.ringA.Rotate(ctxT(t))
	require.ErrorContains(t, err, "needs the fleet KEK")
	_, err = w.ringA.RotateVM(ctxT(t), "sqlvm-a", w.kekA)
	require.ErrorContains(t, err, "needs the fleet KEK")
	_, err = w.ringA.RotateKEK(ctxT(t), nil, "")
	require.ErrorContains(t, err, "needs the fleet KEK")
	_, err = w.control.RotateVM(ctxT(t), "sqlvm-c", nil)
	require.ErrorContains(t, err, "key.vms.sqlvm-c")
	_, err = w.control.RotateVM(ctxT(t), `bad\name`, kekC)
	require.ErrorContains(t, err, "not a VM name")
}

// unboundKEK is a KEK whose wrapping does not bind the data key's id (as RSA-OAEP in Key
// Vault does not): the ring's own id check is then what refuses a moved wrapping.
type unboundKEK struct{ *FileKEK }

func (u unboundKEK) Wrap(ctx context.Context, _ string, raw []byte) (Wrapped, error) {
	return u.FileKEK.Wrap(ctx, "", raw)
}

func (u unboundKEK) Unwrap(ctx context.Context, _ string, w Wrapped) ([]byte, error) {
	return u.FileKEK.Unwrap(ctx, "", w)
}

// Someone with write access to the storage account alters A's records: a VM wrapping moved
// from another of A's keys, or changed, or B's record re-labelled as A's. A's agent refuses
// each and never uses a key other than the record's.
func TestAVMRingRefusesAnAlteredVMWrapping(t *testing.T) {
	for name, kekA := range map[string]KEK{"id-bound wrapping": openFileKEK(t, "a.key"), "unbound wrapping": unboundKEK{openFileKEK(t, "a.key")}} {
		t.Run(name, func(t *testing.T) {
			w := newWorld()
			fleet := openFileKEK(t, "fleet.key")
			control := NewRing(w.repo, fleet)
			a1, err := control.RotateVM(ctxT(t), "sqlvm-a", kekA)
			require.NoError(t, err)
			a2, err := control.RotateVM(ctxT(t), "sqlvm-a", kekA)
			require.NoError(t, err)

			// a2's VM wrapping copied into a1's record: under an unbound wrapping it
			// unwraps, to a2's key, and the id check refuses it.
			moved := *a1
			moved.VMWrap = a2.VMWrap
			require.NoError(t, w.repo.PutKeyRecord(ctxT(t), &moved, false))
			_, err = NewVMRing(w.repo, "sqlvm-a", kekA).Key(ctxT(t), a1.ID)
			require.ErrorIs(t, err, ErrDataKeyMismatch)

			// A changed byte.
			altered := *a1
			vw := *a1.VMWrap
			vw.Wrapped = append([]byte(nil), vw.Wrapped...)
			vw.Wrapped[len(vw.Wrapped)-1] ^= 1
			altered.VMWrap = &vw
			require.NoError(t, w.repo.PutKeyRecord(ctxT(t), &altered, false))
			_, err = NewVMRing(w.repo, "sqlvm-a", kekA).Key(ctxT(t), a1.ID)
			require.ErrorIs(t, err, ErrDataKeyMismatch)

			// B's record re-labelled as A's keeps B's wrapping, which A's KEK does not open.
			kekB := openFileKEK(t, "b.key")
			b, err := control.RotateVM(ctxT(t), "sqlvm-b", kekB)
			require.NoError(t, err)
			relabelled := *b
			relabelled.Scope = "sqlvm-a"
			require.NoError(t, w.repo.PutKeyRecord(ctxT(t), &relabelled, false))
			_, err = NewVMRing(w.repo, "sqlvm-a", kekA).Key(ctxT(t), b.ID)
			require.ErrorIs(t, err, ErrKEKUnavailable)

			// The untouched record still opens on A, and the control side opens all three
			// through the fleet wrapping, which nobody altered.
			_, err = NewVMRing(w.repo, "sqlvm-a", kekA).Key(ctxT(t), a2.ID)
			require.NoError(t, err)
			for _, id := range []string{a1.ID, a2.ID, b.ID} {
				_, err = NewRing(w.repo, fleet).Key(ctxT(t), id)
				require.NoError(t, err, id)
			}
		})
	}
}

// A record that claims a scope has the VM wrapping to go with it, and a fleet record none.
func TestAScopedRecordNeedsItsVMWrapping(t *testing.T) {
	w := newVMWorld(t)
	noWrap := *w.recA
	noWrap.VMWrap = nil
	require.ErrorIs(t, w.repo.PutKeyRecord(ctxT(t), &noWrap, false), vault.ErrInvalidKeyRecord)
	fleetWithWrap := *w.fleetRec
	fleetWithWrap.VMWrap = w.recA.VMWrap
	require.ErrorIs(t, w.repo.PutKeyRecord(ctxT(t), &fleetWithWrap, false), vault.ErrInvalidKeyRecord)
	badScope := *w.recA
	badScope.Scope = "SQLVM-A"
	require.ErrorIs(t, w.repo.PutKeyRecord(ctxT(t), &badScope, false), vault.ErrInvalidKeyRecord)
}

// Re-wrapping a VM's keys under a new KEK of the VM's touches no backup data and needs not
// the VM's old KEK (the fleet wrapping gives the keys): the new KEK opens them, the old no
// longer does.
func TestRotateVMKEKRewrapsTheVMsKeysOnly(t *testing.T) {
	w := newVMWorld(t)
	mA, pA := w.backupOn(t, w.itemA, w.ringA)
	before := w.etags(t)
	kekA2 := openFileKEK(t, "sqlvm-a-2.key")
	report, err := w.control.RotateVMKEK(ctxT(t), "sqlvm-a", kekA2)
	require.NoError(t, err)
	assert.Equal(t, []RewrapEntry{{ID: w.recA.ID, From: w.kekA.Ref(), To: kekA2.Ref(), Action: "rewrapped"}}, report, "B's and the fleet's keys are not touched")
	assert.Equal(t, before, w.etags(t))
	w.mustRestore(t, NewVMRing(w.repo, "sqlvm-a", kekA2), mA, pA)
	_, err = w.restore(t, NewVMRing(w.repo, "sqlvm-a", w.kekA), mA)
	require.ErrorIs(t, err, ErrKEKUnavailable)
	again, err := w.control.RotateVMKEK(ctxT(t), "sqlvm-a", kekA2)
	require.NoError(t, err)
	assert.Equal(t, "already current", again[0].Action)
	// B still opens with its own KEK.
	_, err = NewVMRing(w.repo, "sqlvm-b", w.kekB).Key(ctxT(t), w.recB.ID)
	require.NoError(t, err)
}

// From the configuration: an agent with key.scope vm gets its VM's ring (its key file is its
// KEK, not a data key), one without the fleet's; key.vms gives the CLI each VM's KEK.
func TestForAgentAndVMKEKsFromConfig(t *testing.T) {
	w := newWorld()
	fleet := openFileKEK(t, "fleet.key")
	aPath, _ := keyFile(t, "a-own.key")
	ring, err := ForAgent(config.Key{File: aPath, Scope: config.KeyScopeVM}, "SQLVM-A", w.repo)
	require.NoError(t, err)
	assert.Equal(t, "sqlvm-a", ring.Scope())
	assert.Empty(t, ring.LocalFiles(), "a VM's key file is its KEK only")
	_, err = ring.Active(ctxT(t))
	require.ErrorIs(t, err, ErrNoDataKey, "no key of A's was wrapped under this file yet")

	_, err = FromConfig(config.Key{File: aPath, Scope: config.KeyScopeVM}, w.repo)
	require.ErrorContains(t, err, "need the fleet's KEK", "a VM's key file is never taken for the fleet's")

	fleetPath, _ := keyFile(t, "fleet2.key")
	fleetRing, err := ForAgent(config.Key{File: fleetPath}, "sqlvm-a", w.repo)
	require.NoError(t, err)
	assert.Empty(t, fleetRing.Scope())

	k := config.Key{File: fleetPath, VMs: map[string]config.VMKey{"sqlvm-a": {File: aPath}}}
	kek, err := OpenVMKEK(k, "SQLVM-A")
	require.NoError(t, err)
	rec, err := NewRing(w.repo, fleet).RotateVM(ctxT(t), "sqlvm-a", kek)
	require.NoError(t, err)
	active, err := ring.Active(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, rec.ID, active.ID(), "rotate --vm writes a record A's agent opens")
	_, err = OpenVMKEK(k, "sqlvm-z")
	require.ErrorContains(t, err, "add key.vms.sqlvm-z")
	assert.Equal(t, []string{"sqlvm-a"}, VMs(k))
}
