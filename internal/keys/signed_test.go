package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/testworld/fakekeyvault"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// plant writes a keyring record as someone who knows only the KEK's PUBLIC key (and can
// write to the storage account) can: a data key of their choosing wrapped with RSA-OAEP-256,
// claiming to be the newest active key. It returns the planted key.
func plant(t *testing.T, w *world, kv *fakekeyvault.Server, kekName string, sign func(*vault.KeyRecord)) *blockcrypt.Key {
	t.Helper()
	raw := make([]byte, blockcrypt.KeySize)
	_, err := rand.Read(raw)
	require.NoError(t, err)
	k, err := blockcrypt.NewKey(raw)
	require.NoError(t, err)
	kid, pub := kv.PublicKey(kekName)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, raw, nil)
	require.NoError(t, err)
	rec := &vault.KeyRecord{Schema: vault.KeyRecordSchema, ID: k.ID(), Provider: ProviderAzureKeyVault, KEK: kid, Algorithm: AlgRSAOAEP256,
		Wrapped: wrapped, Created: time.Now().UTC().AddDate(1, 0, 0), State: vault.KeyActive, Origin: OriginGenerated}
	if sign != nil {
		sign(rec)
	}
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	require.NoError(t, w.store.Put(ctxT(t), vault.KeyRecordBlob(rec.ID), data, vault.PutOptions{}))
	return k
}

// Issue 16: with an RSA Key Vault KEK, a record planted with the public key alone — unsigned,
// with a made-up signature, or with a signature copied from a real record — is refused by
// the ring: never active (the real key stays the one new points are sealed with) and never
// unwrapped or used to open anything, by name.
func TestARecordPlantedWithThePublicKeyIsRefused(t *testing.T) {
	kv := fakekeyvault.Start()
	defer kv.Close()
	kv.CreateRSAKey("kek")
	kek, _ := azureKEK(t, kv, "kek")
	w := newWorld()
	real, err := NewRing(w.repo, kek).Rotate(ctxT(t))
	require.NoError(t, err)
	assert.NotEmpty(t, real.Signature, "key rotate signs the record with the KEK")
	assert.Equal(t, AlgRS256, real.SignatureAlg)
	assert.Equal(t, real.KEK, real.SignedBy)
	assert.Equal(t, 1, kv.Calls("sign"))

	for name, sign := range map[string]func(*vault.KeyRecord){
		"unsigned":          nil,
		"made-up signature": func(r *vault.KeyRecord) { r.Signature, r.SignatureAlg, r.SignedBy = make([]byte, 256), AlgRS256, r.KEK },
		"copied signature":  func(r *vault.KeyRecord) { r.Signature, r.SignatureAlg, r.SignedBy = real.Signature, AlgRS256, r.KEK },
		"signed by other key": func(r *vault.KeyRecord) {
			r.Signature, r.SignatureAlg, r.SignedBy = real.Signature, AlgRS256, real.KEK+"x"
		},
	} {
		t.Run(name, func(t *testing.T) {
			evil := plant(t, w, kv, "kek", sign)
			defer func() { require.NoError(t, w.store.Delete(ctxT(t), vault.KeyRecordBlob(evil.ID()))) }()
			unwraps := kv.Calls("unwrapkey")
			ring := NewRing(w.repo, kek) // a new process: nothing in memory
			active, err := ring.Active(ctxT(t))
			require.NoError(t, err)
			assert.Equal(t, real.ID, active.ID(), "the planted record, newest and active, is not the active key")
			_, err = ring.Key(ctxT(t), evil.ID())
			require.ErrorIs(t, err, ErrRecordNotSigned)
			assert.ErrorIs(t, err, ErrDataKeyMismatch, "named DataKeyUnavailable by every reader")
			assert.Contains(t, err.Error(), "not signed by the KEK: re-run `sqlvault key rotate`")
			assert.Equal(t, unwraps+1, kv.Calls("unwrapkey"), "only the real key was unwrapped")

			// Points sealed by the real key still restore; one sealed with the planted key
			// (which authenticates nothing) does not open.
			m, p := w.backup(t, ring)
			assert.Equal(t, real.ID, m.Encryption.KeyID)
			w.mustRestore(t, NewRing(w.repo, kek), m, p)
			forged, _ := w.backup(t, Static(evil))
			_, err = w.restore(t, NewRing(w.repo, kek), forged)
			require.ErrorIs(t, err, ErrRecordNotSigned)
		})
	}

	// When the planted record is the only active one, the ring refuses rather than fall back.
	retired := *real
	retired.State = vault.KeyRetired
	ring := NewRing(w.repo, kek)
	require.NoError(t, ring.signRecord(ctxT(t), &retired))
	require.NoError(t, w.repo.PutKeyRecord(ctxT(t), &retired, false))
	plant(t, w, kv, "kek", nil)
	_, err = NewRing(w.repo, kek).Active(ctxT(t))
	require.ErrorIs(t, err, ErrRecordNotSigned)
}

// A record written before records were signed (or whose signature was stripped) is refused
// until `key rotate --kek` signs it — after unwrapping it and checking the key is its id;
// a second run signs nothing.
func TestKeyRotateKEKSignsUnsignedRecords(t *testing.T) {
	kv := fakekeyvault.Start()
	defer kv.Close()
	kv.CreateRSAKey("kek")
	kek, _ := azureKEK(t, kv, "kek")
	w := newWorld()
	rec, err := NewRing(w.repo, kek).Rotate(ctxT(t))
	require.NoError(t, err)
	m, p := w.backup(t, NewRing(w.repo, kek))
	legacy := *rec
	legacy.Signature, legacy.SignatureAlg, legacy.SignedBy = nil, "", ""
	require.NoError(t, w.repo.PutKeyRecord(ctxT(t), &legacy, false))

	_, err = NewRing(w.repo, kek).Active(ctxT(t))
	require.ErrorIs(t, err, ErrRecordNotSigned)
	_, err = w.restore(t, NewRing(w.repo, kek), m)
	require.ErrorIs(t, err, ErrRecordNotSigned)

	out, err := NewRing(w.repo, kek).RotateKEK(ctxT(t), nil, "")
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.Equal(t, "signed", out[0].Action)
	w.mustRestore(t, NewRing(w.repo, kek), m, p)
	active, err := NewRing(w.repo, kek).Active(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, rec.ID, active.ID())

	keyringETags := func() map[string]string {
		out := map[string]string{}
		require.NoError(t, w.store.List(ctxT(t), vault.KeysPrefix, func(b vault.BlobInfo) error { out[b.Name] = b.ETag; return nil }))
		return out
	}
	before := keyringETags()
	out, err = NewRing(w.repo, kek).RotateKEK(ctxT(t), nil, "")
	require.NoError(t, err)
	assert.Equal(t, "already current", out[0].Action)
	assert.Equal(t, before, keyringETags(), "a second run writes nothing")

	// A new KEK version: the record is rewrapped under it and signed by it.
	kv.NewVersion("kek")
	out, err = NewRing(w.repo, kek).RotateKEK(ctxT(t), nil, "")
	require.NoError(t, err)
	assert.Equal(t, "rewrapped", out[0].Action)
	got, err := w.repo.KeyRecord(ctxT(t), rec.ID)
	require.NoError(t, err)
	assert.Equal(t, got.KEK, got.SignedBy)
	assert.NotEqual(t, rec.KEK, got.KEK)
	w.mustRestore(t, NewRing(w.repo, kek), m, p)
}

// The file KEK and A256KW need no signature: only a holder of the KEK can wrap.
func TestRecordsOfKEKsOnlyTheirHolderCanWrapAreNotSigned(t *testing.T) {
	kv := fakekeyvault.Start()
	defer kv.Close()
	kv.CreateOctKey("hsm")
	kek, _ := azureKEK(t, kv, "hsm")
	w := newWorld()
	rec, err := NewRing(w.repo, kek).Rotate(ctxT(t))
	require.NoError(t, err)
	assert.Empty(t, rec.Signature)
	assert.Zero(t, kv.Calls("sign"))
	m, p := w.backup(t, NewRing(w.repo, kek))
	w.mustRestore(t, NewRing(w.repo, kek), m, p)
}

// A VM whose own KEK is an RSA Key Vault key: its ring opens the VM wrapping alone, which
// anyone with that key's public key could make. `key rotate --vm` has the VM's KEK sign the
// VM wrapping; the VM's ring refuses a VM-scoped record planted with the public key (never
// active, never opened), and a later rotation, which retires the first key from the fleet
// side without the VM's KEK, leaves the first key's VM signature valid.
func TestAVMRecordPlantedWithTheVMsPublicKeyIsRefused(t *testing.T) {
	kv := fakekeyvault.Start()
	defer kv.Close()
	kv.CreateRSAKey("sqlvm1")
	vmKEK, _ := azureKEK(t, kv, "sqlvm1")
	w := newWorld()
	fleet := openFileKEK(t, "fleet.key")
	control := NewRing(w.repo, fleet, fleet.DataKey())
	real, err := control.RotateVM(ctxT(t), "sqlvm1", vmKEK)
	require.NoError(t, err)
	require.NotNil(t, real.VMWrap)
	assert.Empty(t, real.Signature, "the fleet's file KEK needs no signature")
	assert.NotEmpty(t, real.VMWrap.Signature, "the VM's RSA KEK signs its wrapping")
	assert.Equal(t, real.VMWrap.KEK, real.VMWrap.SignedBy)

	// Planted: a VM-scoped record, newer and active, its VM wrapping made with the VM key's
	// public key (its fleet wrapping is noise: the VM's ring never reads it).
	raw := make([]byte, blockcrypt.KeySize)
	_, err = rand.Read(raw)
	require.NoError(t, err)
	evil, err := blockcrypt.NewKey(raw)
	require.NoError(t, err)
	kid, pub := kv.PublicKey("sqlvm1")
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, raw, nil)
	require.NoError(t, err)
	for name, sig := range map[string][]byte{"unsigned": nil, "copied signature": real.VMWrap.Signature} {
		t.Run(name, func(t *testing.T) {
			rec := &vault.KeyRecord{Schema: vault.KeyRecordSchema, ID: evil.ID(), Provider: real.Provider, KEK: real.KEK, Algorithm: real.Algorithm,
				Wrapped: real.Wrapped, Created: time.Now().UTC().AddDate(1, 0, 0), State: vault.KeyActive, Origin: OriginGenerated, Scope: "sqlvm1",
				VMWrap: &vault.KeyWrapping{Provider: ProviderAzureKeyVault, KEK: kid, Algorithm: AlgRSAOAEP256, Wrapped: wrapped,
					Signature: sig, SignatureAlg: AlgRS256, SignedBy: kid}}
			data, err := json.Marshal(rec)
			require.NoError(t, err)
			require.NoError(t, w.store.Put(ctxT(t), vault.KeyRecordBlob(rec.ID), data, vault.PutOptions{}))
			defer func() { require.NoError(t, w.store.Delete(ctxT(t), vault.KeyRecordBlob(rec.ID))) }()

			ring := NewVMRing(w.repo, "sqlvm1", vmKEK)
			active, err := ring.Active(ctxT(t))
			require.NoError(t, err)
			assert.Equal(t, real.ID, active.ID(), "the planted record is not the VM's active key")
			_, err = ring.Key(ctxT(t), evil.ID())
			require.ErrorIs(t, err, ErrRecordNotSigned)
		})
	}

	next, err := control.RotateVM(ctxT(t), "sqlvm1", vmKEK)
	require.NoError(t, err)
	ring := NewVMRing(w.repo, "sqlvm1", vmKEK)
	active, err := ring.Active(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, next.ID, active.ID())
	old, err := ring.Key(ctxT(t), real.ID)
	require.NoError(t, err, "the retired key's VM signature still holds: a retirement does not change what it covers")
	assert.Equal(t, real.ID, old.ID())
}
