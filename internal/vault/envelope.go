package vault

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// EnvelopeSchema is the format of an authenticated manifest blob: the manifest's JSON bytes,
// unchanged, inside an envelope that adds the id of the key that authenticates them and
// their MAC:
//
//	{"schema": "sqlvault.authenticated-manifest/v1", "keyId": "…", "mac": "<hex>",
//	 "manifest": {…the manifest, byte for byte as MACed…}}
//
// The MAC (manifestMACLabel) is over the blob's name, the key id and the exact bytes of the
// "manifest" value as stored: a reader verifies the bytes it read, never a re-encoding, and
// only then decodes them. Binding the name means a manifest copied over another point's
// fails too. A manifest blob that is a bare manifest (schema v1 or v2) is legacy: written
// before manifests were authenticated (ErrLegacyManifest).
const EnvelopeSchema = "sqlvault.authenticated-manifest/v1"

// manifestMACLabel and summaryMACLabel start the MACs of a manifest and of its summary.
const (
	manifestMACLabel = "sqlvault manifest v1"
	summaryMACLabel  = "sqlvault summary v1"
)

// SummaryAuthMetadataKey is the manifest blob's metadata name that holds its summary's MAC:
// "v1:" + key id + ":" + hex MAC (summaryMAC), so a listing authenticates the summaries
// it plans from without reading a manifest.
const SummaryAuthMetadataKey = "sqlvaultauth"

// ErrManifestUnauthenticated: a manifest envelope whose MAC does not verify: the manifest was
// changed, moved from another point, or not written by sqlvault. It also matches
// ErrUnauthenticated.
var ErrManifestUnauthenticated error = &alsoErr{msg: "vault: manifest failed authentication (changed by someone without the vault key, or copied from another point)", also: ErrUnauthenticated}

// ErrSummaryUnauthenticated: a listing summary whose MAC is missing or does not verify. It
// also matches ErrUnauthenticated.
var ErrSummaryUnauthenticated error = &alsoErr{msg: "vault: recovery point summary failed authentication", also: ErrUnauthenticated}

type manifestEnvelope struct {
	Schema   string          `json:"schema"`
	KeyID    string          `json:"keyId"`
	MAC      string          `json:"mac"`
	Manifest json.RawMessage `json:"manifest"`
}

func manifestMAC(key *blockcrypt.Key, blob string, manifest []byte) []byte {
	return key.MAC(manifestMACLabel, manifestMACMessage(blob, key.ID(), manifest))
}

// sealManifest wraps manifest (JSON bytes) in an authenticated envelope for blob.
func sealManifest(key *blockcrypt.Key, blob string, manifest []byte) []byte {
	manifest = bytes.TrimSpace(manifest)
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"schema\": %q,\n  \"keyId\": %q,\n  \"mac\": %q,\n  \"manifest\": ",
		EnvelopeSchema, key.ID(), hex.EncodeToString(manifestMAC(key, blob, manifest)))
	b.Write(manifest)
	b.WriteString("\n}\n")
	return b.Bytes()
}

// isEnvelope reports whether stored manifest bytes are an envelope (by their schema); an
// error for bytes that are not JSON with a schema.
func isEnvelope(data []byte) (bool, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return false, fmt.Errorf("%w: not JSON: %v", ErrInvalidManifest, err)
	}
	return head.Schema == EnvelopeSchema, nil
}

// openEnvelope decodes an envelope strictly; it authenticates nothing.
func openEnvelope(data []byte) (*manifestEnvelope, error) {
	var env manifestEnvelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrInvalidManifest, err)
	}
	if env.KeyID == "" || len(env.Manifest) == 0 {
		return nil, fmt.Errorf("%w: envelope without keyId or manifest", ErrInvalidManifest)
	}
	return &env, nil
}

// manifestAuth is how a manifest read was authenticated.
type manifestAuth int

const (
	authVerified manifestAuth = iota + 1 // its envelope's MAC verified
	authLegacy                           // a bare manifest: no MAC to verify
	authFailed                           // its MAC did not verify (only readUnverified returns it)
)

// readManifest reads and, with the repository's keys, authenticates the manifest of a
// point: verified (an envelope whose MAC verifies under the key it names), legacy (a bare
// manifest, refused unless allowLegacy), or an error — ErrManifestUnauthenticated, with the
// blob's name and what to do, for a MAC that fails.
func (r *Repository) readManifest(ctx context.Context, itemID, pointID string, allowLegacy bool) (*Manifest, manifestAuth, error) {
	name := ManifestBlob(itemID, pointID)
	data, err := r.store.Get(ctx, name)
	if err != nil {
		return nil, 0, fmt.Errorf("vault: point %s/%s: %w", itemID, pointID, err)
	}
	m, auth, err := r.authenticateManifest(ctx, name, data)
	if err != nil {
		return nil, 0, err
	}
	if auth == authLegacy && !allowLegacy {
		return nil, 0, fmt.Errorf("%w: %s: authenticate it with `sqlvault vault upgrade` (which checks its blocks first), or restore it knowingly with --allow-unauthenticated", ErrLegacyManifest, name)
	}
	if m.ItemID != itemID || m.PointID != pointID {
		return nil, 0, fmt.Errorf("%w: %s holds point %s/%s", ErrInvalidManifest, name, m.ItemID, m.PointID)
	}
	return m, auth, nil
}

// authenticateManifest decodes the stored bytes of blob: an envelope is verified before its
// manifest is decoded; a bare manifest is returned as legacy.
func (r *Repository) authenticateManifest(ctx context.Context, name string, data []byte) (*Manifest, manifestAuth, error) {
	env, err := isEnvelope(data)
	if err != nil {
		return nil, 0, fmt.Errorf("vault: %s: %w", name, err)
	}
	if !env {
		m, err := DecodeManifest(data)
		if err != nil {
			return nil, 0, fmt.Errorf("vault: %s: %w", name, err)
		}
		return m, authLegacy, nil
	}
	e, err := openEnvelope(data)
	if err != nil {
		return nil, 0, fmt.Errorf("vault: %s: %w", name, err)
	}
	key, err := r.key(ctx, e.KeyID)
	if err != nil {
		return nil, 0, fmt.Errorf("vault: %s: cannot authenticate it: %w", name, err)
	}
	tag, err := hex.DecodeString(e.MAC)
	if err != nil || !key.VerifyMAC(manifestMACLabel, manifestMACMessage(name, e.KeyID, e.Manifest), tag) {
		return nil, 0, fmt.Errorf("%w: %s: do not restore from it or delete on its word; look at who can write to the storage account, and compare it with your records of the point", ErrManifestUnauthenticated, name)
	}
	m, err := DecodeManifest(e.Manifest)
	if err != nil {
		return nil, 0, fmt.Errorf("vault: %s: %w", name, err)
	}
	if m.Encryption.KeyID != e.KeyID {
		// Authenticated, so written by a holder of the key: a bug, not tamper.
		return nil, 0, fmt.Errorf("%w: %s: authenticated under key %s but its stripes name key %s", ErrInvalidManifest, name, e.KeyID, m.Encryption.KeyID)
	}
	return m, authVerified, nil
}

func manifestMACMessage(blob, keyID string, manifest []byte) []byte {
	var c canon
	c.str(blob).str(keyID).bytes(manifest)
	return c
}

// readUnverified decodes a manifest blob without a key: an envelope's manifest is returned
// unauthenticated. Only for reports that act on nothing (a listing without a key), and for
// the summary of a manifest whose MAC failed (flagged AuthFailed).
func readUnverified(name string, data []byte) (*Manifest, error) {
	env, err := isEnvelope(data)
	if err != nil {
		return nil, fmt.Errorf("vault: %s: %w", name, err)
	}
	if env {
		e, err := openEnvelope(data)
		if err != nil {
			return nil, fmt.Errorf("vault: %s: %w", name, err)
		}
		data = e.Manifest
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("vault: %s: %w", name, err)
	}
	return m, nil
}

// summaryAuth is the metadata value that authenticates a summary value (SummaryMetadataKey)
// of the manifest blob name.
func summaryAuth(key *blockcrypt.Key, name, summary string) string {
	return "v1:" + key.ID() + ":" + hex.EncodeToString(key.MAC(summaryMACLabel, summaryMACMessage(name, key.ID(), summary)))
}

func summaryMACMessage(name, keyID, summary string) []byte {
	var c canon
	c.str(name).str(keyID).str(summary)
	return c
}

// checkSummaryAuth authenticates the summary metadata of the manifest blob name: nil when
// it verifies, ErrSummaryUnauthenticated (legacy true when there is no MAC at all).
func (r *Repository) checkSummaryAuth(ctx context.Context, name string, md map[string]string) (legacy bool, err error) {
	auth, ok := md[SummaryAuthMetadataKey]
	if !ok {
		return true, fmt.Errorf("%w: %s: no MAC (written before summaries were authenticated: run `sqlvault vault upgrade`)", ErrSummaryUnauthenticated, name)
	}
	version, rest, _ := strings.Cut(auth, ":")
	keyID, mac, _ := strings.Cut(rest, ":")
	if version != "v1" || keyID == "" {
		return false, fmt.Errorf("%w: %s: malformed %s", ErrSummaryUnauthenticated, name, SummaryAuthMetadataKey)
	}
	key, err := r.key(ctx, keyID)
	if err != nil {
		return false, fmt.Errorf("vault: %s: cannot authenticate its summary: %w", name, err)
	}
	tag, err := hex.DecodeString(mac)
	if err != nil || !key.VerifyMAC(summaryMACLabel, summaryMACMessage(name, keyID, md[SummaryMetadataKey]), tag) {
		return false, fmt.Errorf("%w: %s: its MAC does not verify (changed by someone without the vault key, or copied from another point)", ErrSummaryUnauthenticated, name)
	}
	return false, nil
}

// errIsNoKey tells "cannot check: no key" apart from "checked: it fails".
func errIsNoKey(err error) bool { return errors.Is(err, ErrNoKey) }
