package keys

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/sqlvault/sqlvault/internal/vault"
)

// Signed keyring records. With the file KEK (AES-GCM bound to the data key's id) and a
// Managed HSM oct-HSM key (A256KW), only a holder of the KEK can produce a wrapping that
// unwraps. An RSA Key Vault key is different: its PUBLIC key wraps (RSA-OAEP-256), so
// anyone who can read it, and write to the storage account, could plant a record of a data
// key of their own choosing under v1/keys/; the newest active record would then seal new
// backups with a key they know, and authenticate catalog objects they forged. So a record
// wrapped with RSA-OAEP-256 is trusted only with the KEK's own signature over its
// canonical content (vault.KeyRecord.SignedContent): RS256 made by Key Vault's sign
// operation, which only an identity allowed to sign with the key can ask for, verified with
// the key version's public key (read with get; no new permission for the agents). A record
// without a valid signature is never active and never opened (ErrRecordNotSigned).

// ErrRecordNotSigned: a keyring record that needs the KEK's signature has none, or one that
// does not verify. It also matches ErrDataKeyMismatch (a record whose key is never used),
// so every reader names it DataKeyUnavailable.
var ErrRecordNotSigned error = &notSignedErr{}

type notSignedErr struct{}

func (*notSignedErr) Error() string {
	return "keys: data key record not signed by the KEK: re-run `sqlvault key rotate` (or `key rotate --kek`, which signs the records it keeps) from a trusted machine"
}
func (*notSignedErr) Is(target error) bool { return target == ErrDataKeyMismatch }

// RecordSigner is a KEK that signs keyring records: one whose wrapping alone does not prove
// the KEK made it (AzureKEK with an RSA key).
type RecordSigner interface {
	// SignRecord signs digest (SHA-256 of a record's SignedContent) with the key version kek
	// (the record's KEK): the signature, its algorithm and the key id, with version, that
	// made it.
	SignRecord(ctx context.Context, kek string, digest []byte) (sig []byte, alg, signedBy string, err error)
	// VerifyRecord checks a signature made by signedBy, which must be a version of the KEK
	// that wrapped the record (kek).
	VerifyRecord(ctx context.Context, kek, signedBy, alg string, digest, sig []byte) error
}

// needsSignature reports whether a record is trusted only with a KEK signature: a wrapping
// anyone with the public key can make.
func needsSignature(rec *vault.KeyRecord) bool { return rec.Algorithm == AlgRSAOAEP256 }

func recordDigest(rec *vault.KeyRecord) []byte {
	d := sha256.Sum256(rec.SignedContent())
	return d[:]
}

// signRecord signs rec (normalized as PutKeyRecord stores it) when its wrapping needs it;
// other records are left unsigned (their signature fields cleared: a stale signature over
// other content would only mislead). vmKEK, given when the VM's KEK is at hand (`key rotate
// --vm`, `key rotate --kek --vm`), signs a VM-scoped record's VM wrapping the same way; without
// it the VM wrapping's signature is kept (it covers VMSignedContent, which a fleet-side
// re-signing — a retirement, a fleet KEK rotation — does not change).
func (r *Ring) signRecord(ctx context.Context, rec *vault.KeyRecord, vmKEK ...KEK) error {
	rec.Schema, rec.Created = vault.KeyRecordSchema, rec.Created.UTC()
	if len(vmKEK) > 0 && vmKEK[0] != nil && rec.VMWrap != nil {
		w := *rec.VMWrap
		w.Signature, w.SignatureAlg, w.SignedBy = nil, "", ""
		if w.Algorithm == AlgRSAOAEP256 {
			s, ok := vmKEK[0].(RecordSigner)
			if !ok {
				return fmt.Errorf("%w: data key %s's VM wrapping is %s, which VM %s's KEK provider cannot sign", ErrRecordNotSigned, rec.ID, w.Algorithm, rec.Scope)
			}
			d := sha256.Sum256(rec.VMSignedContent())
			sig, alg, by, err := s.SignRecord(ctx, w.KEK, d[:])
			if err != nil {
				return err
			}
			w.Signature, w.SignatureAlg, w.SignedBy = sig, alg, by
		}
		rec.VMWrap = &w
	}
	rec.Signature, rec.SignatureAlg, rec.SignedBy = nil, "", ""
	if !needsSignature(rec) {
		return nil
	}
	s, ok := r.kek.(RecordSigner)
	if !ok {
		return fmt.Errorf("%w: data key %s is wrapped with %s, which this KEK provider cannot sign", ErrRecordNotSigned, rec.ID, rec.Algorithm)
	}
	sig, alg, by, err := s.SignRecord(ctx, rec.KEK, recordDigest(rec))
	if err != nil {
		return err
	}
	rec.Signature, rec.SignatureAlg, rec.SignedBy = sig, alg, by
	return nil
}

// checkRecord refuses a record that needs the KEK's signature and has no valid one. A
// verified record is remembered (by its signed content and signature) for the life of the
// process. A KEK that cannot be asked (Key Vault out of reach) is its own error.
func (r *Ring) checkRecord(ctx context.Context, rec *vault.KeyRecord) error {
	if r.scope != "" {
		return r.checkVMWrapping(ctx, rec)
	}
	if !needsSignature(rec) {
		return nil
	}
	return r.verify(ctx, rec, rec.Provider, rec.KEK, rec.SignedBy, rec.SignatureAlg, recordDigest(rec), rec.Signature)
}

// checkVMWrapping is checkRecord for a VM's ring, which opens the VM wrapping alone: a VM
// KEK whose wrapping anyone can make (RSA) is trusted only with that KEK's signature over
// VMSignedContent.
func (r *Ring) checkVMWrapping(ctx context.Context, rec *vault.KeyRecord) error {
	w := rec.VMWrap
	if w == nil || w.Algorithm != AlgRSAOAEP256 {
		return nil // no VM wrapping: open refuses it; others authenticate themselves
	}
	d := sha256.Sum256(rec.VMSignedContent())
	return r.verify(ctx, rec, w.Provider, w.KEK, w.SignedBy, w.SignatureAlg, d[:], w.Signature)
}

// verify checks a signature over digest made by the KEK version kek of provider, with this
// ring's KEK.
func (r *Ring) verify(ctx context.Context, rec *vault.KeyRecord, provider, kek, signedBy, alg string, digest, sig []byte) error {
	if len(sig) == 0 {
		return fmt.Errorf("%w: %s has no signature", ErrRecordNotSigned, vault.KeyRecordBlob(rec.ID))
	}
	memo := string(digest) + string(sig)
	r.mu.Lock()
	ok := r.verified[memo]
	r.mu.Unlock()
	if ok {
		return nil
	}
	s, isSigner := r.kek.(RecordSigner)
	if !isSigner || provider != r.kek.Provider() {
		return fmt.Errorf("%w: %s is wrapped by %s, and this process's KEK (%s) cannot check its signature", ErrRecordNotSigned, vault.KeyRecordBlob(rec.ID), provider, r.kek.Provider())
	}
	if err := s.VerifyRecord(ctx, kek, signedBy, alg, digest, sig); err != nil {
		if errors.Is(err, ErrKEKUnavailable) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", ErrRecordNotSigned, vault.KeyRecordBlob(rec.ID), err)
	}
	r.mu.Lock()
	r.verified[memo] = true
	r.mu.Unlock()
	return nil
}

// trusted keeps the records whose signature checks (all of them, for KEKs that need none);
// refused are the first refusal's error (nil if none).
func (r *Ring) trusted(ctx context.Context, recs []*vault.KeyRecord) (out []*vault.KeyRecord, refused error, err error) {
	for _, rec := range recs {
		cerr := r.checkRecord(ctx, rec)
		switch {
		case cerr == nil:
			out = append(out, rec)
		case errors.Is(cerr, ErrRecordNotSigned):
			if refused == nil {
				refused = cerr
			}
		default:
			return nil, nil, cerr
		}
	}
	return out, refused, nil
}
