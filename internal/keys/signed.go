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
// other content would only mislead).
func (r *Ring) signRecord(ctx context.Context, rec *vault.KeyRecord) error {
	rec.Schema, rec.Created = vault.KeyRecordSchema, rec.Created.UTC()
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
	if !needsSignature(rec) {
		return nil
	}
	if len(rec.Signature) == 0 {
		return fmt.Errorf("%w: %s has no signature", ErrRecordNotSigned, vault.KeyRecordBlob(rec.ID))
	}
	digest := recordDigest(rec)
	memo := string(digest) + string(rec.Signature)
	r.mu.Lock()
	ok := r.verified[memo]
	r.mu.Unlock()
	if ok {
		return nil
	}
	s, isSigner := r.kek.(RecordSigner)
	if !isSigner || rec.Provider != r.kek.Provider() {
		return fmt.Errorf("%w: %s is wrapped by %s, and this process's KEK (%s) cannot check its signature", ErrRecordNotSigned, vault.KeyRecordBlob(rec.ID), rec.Provider, r.kek.Provider())
	}
	if err := s.VerifyRecord(ctx, rec.KEK, rec.SignedBy, rec.SignatureAlg, digest, rec.Signature); err != nil {
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
