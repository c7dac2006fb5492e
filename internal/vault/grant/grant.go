// Package grant is the agent's least-privilege access to the vault: the control side, which
// holds the storage account key, mints per agent step a set of blob-scoped SAS tokens (sr=b)
// for exactly the blobs that step touches — create and write on the backup point's own new
// blobs, read on the blobs a restore reads; never delete, never a listing — with an expiry of
// the step's bound plus a margin. The grant is sealed with the vault key, bound to the
// operation, item and points, so workflow history holds ciphertext only and a grant cannot
// be replayed for another point. The agent opens it and builds a store that reaches those
// blobs only (azstore.Config.BlobSAS).
package grant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// aadPrefix versions the associated data a grant is sealed with.
const aadPrefix = "sqlvault grant v1\x00"

// Skew is how far before now a token's start time is set: an agent VM whose clock runs
// behind the control worker's would otherwise be refused a token "not yet valid".
const Skew = 5 * time.Minute

// Grant is an opened grant: the container and, per blob name, its SAS query string.
type Grant struct {
	ContainerURL string            `json:"containerUrl"`
	Blobs        map[string]string `json:"blobs"`
	Expiry       time.Time         `json:"expiry"`
}

// String redacts the tokens (a Grant is never logged whole).
func (g Grant) String() string {
	return fmt.Sprintf("grant.Grant{%s, %d blobs, expires %s, tokens redacted}", g.ContainerURL, len(g.Blobs), g.Expiry.UTC().Format(time.RFC3339))
}

// GoString redacts the tokens.
func (g Grant) GoString() string { return g.String() }

// AAD binds a sealed grant to its operation, item and points.
func AAD(op, itemID string, pointIDs []string) []byte {
	return []byte(aadPrefix + op + "\x00" + itemID + "\x00" + strings.Join(pointIDs, "\x00"))
}

// Errors of Open.
var (
	// ErrWrongKey: the grant was sealed with another vault key than the agent's.
	ErrWrongKey = errors.New("grant: sealed with another vault key than this agent's (give the agent and the control worker the same key.file)")
	// ErrMismatch: the grant does not open for this operation, item and points: it was
	// minted for another step, or altered.
	ErrMismatch = errors.New("grant: does not open for this operation and point (minted for another step, or altered)")
	// ErrExpired: the grant's expiry has passed.
	ErrExpired = errors.New("grant: expired")
)

// Seal encrypts g under key for op, itemID and pointIDs.
func Seal(key *blockcrypt.Key, g Grant, op, itemID string, pointIDs []string) (*protocol.VaultGrant, error) {
	plain, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	sealed, err := key.Seal(nil, plain, AAD(op, itemID, pointIDs), false)
	if err != nil {
		return nil, fmt.Errorf("grant: seal: %w", err)
	}
	return &protocol.VaultGrant{Sealed: sealed, KeyID: key.ID()}, nil
}

// Open decrypts a grant sealed for op, itemID and pointIDs and checks it has not expired
// at now.
func Open(key *blockcrypt.Key, v *protocol.VaultGrant, op, itemID string, pointIDs []string, now time.Time) (Grant, error) {
	if v.KeyID != key.ID() {
		return Grant{}, fmt.Errorf("%w: sealed with key %s, this agent has %s", ErrWrongKey, v.KeyID, key.ID())
	}
	plain, err := key.Open(nil, v.Sealed, AAD(op, itemID, pointIDs))
	if err != nil {
		return Grant{}, fmt.Errorf("%w: %s of %s", ErrMismatch, op, itemID)
	}
	var g Grant
	if err := json.Unmarshal(plain, &g); err != nil {
		return Grant{}, fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	if !now.Before(g.Expiry) {
		return Grant{}, fmt.Errorf("%w at %s (%s of %s): start the step again, which mints a new grant; if it recurs, check that the agent VM's and the control worker's clocks agree",
			ErrExpired, g.Expiry.UTC().Format(time.RFC3339), op, itemID)
	}
	return g, nil
}

// Store opens a vault store that reaches the grant's blobs only.
func (g Grant) Store(ctx context.Context) (*azstore.Store, error) {
	i := strings.LastIndex(strings.TrimSuffix(g.ContainerURL, "/"), "/")
	if i < 0 {
		return nil, fmt.Errorf("grant: container URL %q has no container", g.ContainerURL)
	}
	return azstore.New(ctx, azstore.Config{AccountURL: g.ContainerURL[:i], Container: g.ContainerURL[i+1:],
		BlobSAS: g.Blobs, GrantExpiry: g.Expiry})
}

// Signer signs blob-scoped SAS tokens: *azstore.Store opened with the account key.
type Signer interface {
	SignBlob(name string, perms sas.BlobPermissions, start, expiry time.Time) (string, error)
	ContainerURL() string
}

// Minter mints grants on the control side.
type Minter struct {
	Signer Signer
	Key    *blockcrypt.Key
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Backup permissions: create and write the point's new blobs, read them back (a retry
// adopts an earlier attempt's committed stripes). No delete, no add (append blobs), no tags.
var (
	backupPerms  = sas.BlobPermissions{Read: true, Create: true, Write: true}
	restorePerms = sas.BlobPermissions{Read: true}
)

// BackupBlobs are the blobs a stream of stripes stripes may write in up to attempts attempts.
func BackupBlobs(itemID, pointID string, stripes, attempts int) []string {
	out := make([]string, 0, 2*stripes*attempts)
	for a := 1; a <= attempts; a++ {
		for s := 1; s <= stripes; s++ {
			data := vault.DataBlob(itemID, pointID, a, s)
			out = append(out, data, vault.IndexBlob(data))
		}
	}
	return out
}

// RestoreBlobs are the blobs a restore of m reads: its manifest and its stripes.
func RestoreBlobs(m *vault.Manifest) []string {
	out := []string{vault.ManifestBlob(m.ItemID, m.PointID)}
	for _, s := range m.Stripes {
		out = append(out, s.Blob, s.Index)
	}
	return out
}

// MaxBlobs bounds one grant: a stream of 64 stripes over 8 attempts is 1,024 blobs, and
// a grant of a few hundred bytes per blob stays well inside Temporal's payload limit.
const MaxBlobs = 4096

// Mint signs the blobs for op with its permissions, valid for valid from now, and seals the
// grant for op, itemID and pointIDs.
func (m *Minter) Mint(op, itemID string, pointIDs, blobs []string, valid time.Duration) (*protocol.VaultGrant, error) {
	var perms sas.BlobPermissions
	switch op {
	case protocol.GrantBackup:
		perms = backupPerms
	case protocol.GrantRestore:
		perms = restorePerms
	default:
		return nil, fmt.Errorf("grant: unknown operation %q (want %s or %s)", op, protocol.GrantBackup, protocol.GrantRestore)
	}
	if len(blobs) == 0 || len(blobs) > MaxBlobs {
		return nil, fmt.Errorf("grant: %d blobs for %s of %s (want 1 to %d)", len(blobs), op, itemID, MaxBlobs)
	}
	if valid <= 0 {
		return nil, fmt.Errorf("grant: lifetime %s for %s of %s is not positive", valid, op, itemID)
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	t := now().UTC()
	g := Grant{ContainerURL: m.Signer.ContainerURL(), Blobs: make(map[string]string, len(blobs)), Expiry: t.Add(valid)}
	for _, b := range blobs {
		tok, err := m.Signer.SignBlob(b, perms, t.Add(-Skew), g.Expiry)
		if err != nil {
			return nil, err
		}
		g.Blobs[b] = tok
	}
	return Seal(m.Key, g, op, itemID, pointIDs)
}
