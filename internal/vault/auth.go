package vault

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// Authentication of the catalog. The storage account is not trusted: whoever can write to
// it, without the vault key, must not be able to change what a restore restores or what
// retention deletes. So every catalog object carries a MAC (blockcrypt.Key.MAC: HMAC-SHA256
// under a subkey derived from the key the point was sealed with):
//
//   - a stripe index (v2) over its place, key id, block count, totals and ordered block ids
//     and sizes (indexMAC);
//   - a manifest over its exact stored JSON bytes and the blob name it lives at
//     (manifestMAC, in the manifest envelope);
//   - a point summary (listing metadata) over its encoding and the blob name (summaryMAC).
//
// Readers that act on an object verify it first and refuse it by name (ErrUnauthenticated)
// when it fails; see doc.go for who checks what.

// ErrUnauthenticated: a catalog object (manifest, summary, stripe index) failed
// authentication, or has none (a legacy object written before authentication, which
// `sqlvault vault upgrade` authenticates). Errors wrap it with the object's name and what
// to do; every more specific error below also matches it under errors.Is.
var ErrUnauthenticated = errors.New("vault: not authenticated by the vault key")

// ErrLegacyManifest: a manifest written before manifests were authenticated (no MAC at
// all), as opposed to one whose MAC fails. Restore accepts it only when asked explicitly
// (--allow-unauthenticated); retention never deletes on its word. `sqlvault vault upgrade`
// authenticates the ones whose blocks verify. It also matches ErrUnauthenticated.
var ErrLegacyManifest error = &alsoErr{msg: "vault: manifest written before manifests were authenticated (run `sqlvault vault upgrade`)", also: ErrUnauthenticated}

// ErrNoKey: the process holds no key of the id an object names (sealed with another key, or
// the process was given no key), so the object can be neither opened nor authenticated.
var ErrNoKey = errors.New("vault: no vault key with this id is configured here")

// alsoErr is an error that also matches another under errors.Is.
type alsoErr struct {
	msg  string
	also error
}

func (e *alsoErr) Error() string        { return e.msg }
func (e *alsoErr) Is(target error) bool { return target == e.also }

// Keyring finds a vault key by its id (blockcrypt.Key.ID, which manifests and indexes
// record). A process with one key file has a Keys of one; a keyring of several keys (key
// rotation) plugs in here, so readers always pick the key a point names.
type Keyring interface {
	Key(ctx context.Context, id string) (*blockcrypt.Key, error)
}

// Keys is a Keyring of keys held in memory.
type Keys []*blockcrypt.Key

// Key returns the key with this id, or ErrNoKey.
func (ks Keys) Key(_ context.Context, id string) (*blockcrypt.Key, error) {
	for _, k := range ks {
		if k != nil && k.ID() == id {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: key id %s (configure the key this vault's points were sealed with)", ErrNoKey, id)
}

// WithKeys returns a repository on the same store that authenticates with keys: commits
// MAC their manifests and summaries, reads verify them. Without keys, a repository writes no
// manifest and reads none as authenticated (ErrNoKey).
func (r *Repository) WithKeys(keys Keyring) *Repository {
	c := *r
	c.keys = keys
	return &c
}

// HasKeys reports whether the repository was given keys (WithKeys).
func (r *Repository) HasKeys() bool { return r.keys != nil }

// key returns the key of id from the repository's keyring.
func (r *Repository) key(ctx context.Context, id string) (*blockcrypt.Key, error) {
	if r.keys == nil {
		return nil, fmt.Errorf("%w: key id %s: this process was given no vault key (key.file)", ErrNoKey, id)
	}
	return r.keys.Key(ctx, id)
}

// canon is the explicit encoding MACs are computed over: every string length-prefixed,
// every number 8 bytes big-endian, in a fixed order. Unlike a JSON re-marshalling, nothing
// outside this file can change what it produces.
type canon []byte

func (c *canon) str(s string) *canon {
	*c = binary.BigEndian.AppendUint64(*c, uint64(len(s)))
	*c = append(*c, s...)
	return c
}

func (c *canon) u64(n uint64) *canon {
	*c = binary.BigEndian.AppendUint64(*c, n)
	return c
}

func (c *canon) i64(n int64) *canon { return c.u64(uint64(n)) }

func (c *canon) bytes(b []byte) *canon {
	*c = binary.BigEndian.AppendUint64(*c, uint64(len(b)))
	*c = append(*c, b...)
	return c
}
