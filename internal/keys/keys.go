// Package keys is the vault's key hierarchy: a key-encryption key (KEK) from a provider — a
// local key file (FileKEK) or an Azure Key Vault key (AzureKEK) — wraps data keys, and data
// keys seal the blocks. Data keys live wrapped in the vault (vault.KeyRecord, under
// vault.KeysPrefix); a Ring unwraps them through the KEK and keeps them in memory for the
// life of the process. New points are sealed with the ring's active data key; a reader asks
// the ring for the key of the id its manifest records.
//
// Compatibility: before the keyring, the key file sealed points directly and manifests
// record its id. A Ring is given that file's key as a local key: it serves points of that id
// as before, and while the keyring holds no data key it is also the active key, so an
// existing vault and `make run`'s generated key file work unchanged until `key rotate`.
// With the file provider the same file is the KEK.
package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// Provider names.
const (
	ProviderFile          = "file"
	ProviderAzureKeyVault = "azurekeyvault"
)

// Errors. Every error that losing the KEK causes matches ErrKEKUnavailable and is a
// *KEKError naming the provider, the KEK reference and what to do; none carries key material.
var (
	// ErrKEKUnavailable: the KEK cannot be used — the key file is missing, unreadable or
	// another one; Key Vault refused (401/403, key disabled), does not have the key (404) or
	// cannot be reached.
	ErrKEKUnavailable = errors.New("keys: the key-encryption key (KEK) is unavailable")
	// ErrNoDataKey: the keyring has no active data key and no key file serves as one.
	ErrNoDataKey = errors.New("keys: the vault has no active data key")
	// ErrUnknownDataKey: a point names a data key that neither the keyring nor a local key
	// file holds.
	ErrUnknownDataKey = errors.New("keys: data key not in the vault's keyring")
	// ErrDataKeyMismatch: a record unwrapped to a key whose id is not the record's: the
	// record was altered (or wrapped for another id), and its key is never used.
	ErrDataKeyMismatch = errors.New("keys: unwrapped data key does not match its record")
)

// Wrapped is a data key wrapped under a KEK, as a vault.KeyRecord stores it.
type Wrapped struct {
	// KEK is the stable reference of the KEK (and version) that wrapped it.
	KEK       string
	Algorithm string
	Value     []byte
}

// KEK is a key-encryption key provider. Wrap and Unwrap bind the wrapping to the data key's
// id where the algorithm allows it; Ring checks the unwrapped key's id in every case.
type KEK interface {
	// Provider is ProviderFile or ProviderAzureKeyVault.
	Provider() string
	// Current is the reference Wrap records now: "file:<kek id>", or the Key Vault key id
	// with the version Wrap uses (the key's latest unless one is pinned).
	Current(ctx context.Context) (string, error)
	// Wrap wraps a data key (raw is not retained).
	Wrap(ctx context.Context, dataKeyID string, raw []byte) (Wrapped, error)
	// Unwrap returns the raw data key. The caller clears it.
	Unwrap(ctx context.Context, dataKeyID string, w Wrapped) ([]byte, error)
	// Describe says what the KEK is, for `sqlvault key status`; its Error is set when the
	// provider cannot be reached or refuses.
	Describe(ctx context.Context) Description
}

// Description is a KEK as `key status` shows it.
type Description struct {
	Provider string `json:"provider"`
	// KEK is the reference Wrap records now ("" when it could not be resolved).
	KEK string `json:"kek"`
	// Detail is the provider's own words: the key file's path, or the Key Vault key's type
	// and state.
	Detail string `json:"detail,omitempty"`
	// Error says why the KEK cannot be used now ("" when it can).
	Error string `json:"error,omitempty"`
}

// KEKError is an error caused by the KEK: which provider and KEK, what was being done, and
// what to do about it. It matches ErrKEKUnavailable and its cause under errors.Is.
type KEKError struct {
	Provider string
	KEK      string // the reference, path or key URL: never key material
	Op       string // e.g. "unwrap data key 0123456789abcdef"
	Todo     string // what the operator does about it
	Err      error
}

func (e *KEKError) Error() string {
	msg := fmt.Sprintf("%v (provider %s, %s): %s", ErrKEKUnavailable, e.Provider, e.KEK, e.Op)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Todo != "" {
		msg += ". What to do: " + e.Todo
	}
	return msg
}

// Unwrap gives errors.Is both ErrKEKUnavailable and the cause.
func (e *KEKError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrKEKUnavailable}
	}
	return []error{ErrKEKUnavailable, e.Err}
}

// Source gives data keys: the one new points are sealed with and the one of a given id.
// The agent and the CLI hold one; Ring is the real one, Static serves fixed keys.
type Source interface {
	// Active is the data key new points are sealed with.
	Active(ctx context.Context) (*blockcrypt.Key, error)
	// Key is the data key of id (a manifest's or index's key id).
	Key(ctx context.Context, id string) (*blockcrypt.Key, error)
}

// Static is a Source of fixed keys, the first one active: the benchmarks and tests that
// have no keyring use it.
func Static(active *blockcrypt.Key, others ...*blockcrypt.Key) Source {
	s := staticSource{active: active, byID: map[string]*blockcrypt.Key{active.ID(): active}}
	for _, k := range others {
		s.byID[k.ID()] = k
	}
	return s
}

type staticSource struct {
	active *blockcrypt.Key
	byID   map[string]*blockcrypt.Key
}

func (s staticSource) Active(context.Context) (*blockcrypt.Key, error) { return s.active, nil }

func (s staticSource) Key(_ context.Context, id string) (*blockcrypt.Key, error) {
	if k := s.byID[id]; k != nil {
		return k, nil
	}
	return nil, unknownKey(id)
}

func unknownKey(id string) error {
	return fmt.Errorf("%w: %s; the point was sealed with a key this process does not have: if it is a key file from before the keyring, "+
		"configure it as key.file (or run `sqlvault key rotate` where it is configured, which adopts it into the keyring)", ErrUnknownDataKey, id)
}
