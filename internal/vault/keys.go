package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// KeysPrefix holds the vault's keyring: one small record per data key, the key wrapped under
// a key-encryption key (package keys). Nothing here is usable without the KEK, so the records
// live beside the data they protect; the sweep never looks here (it walks ItemsPrefix).
const KeysPrefix = layoutPrefix + "keys/"

// KeyRecordSchema is the record format this build writes and reads.
const KeyRecordSchema = "sqlvault.datakey/v1"

// Data key states. Exactly one record is meant to be active: the newest active one is what
// new points are sealed with (ActiveKeyRecord), so two rotations racing cannot leave two.
const (
	KeyActive  = "active"
	KeyRetired = "retired"
)

// keyIDRe is blockcrypt's key id: 16 hex digits.
var keyIDRe = regexp.MustCompile(`^[0-9a-f]{16}$`)

// ErrInvalidKeyRecord: a keyring record that does not decode or breaks its rules.
var ErrInvalidKeyRecord = errors.New("vault: invalid data key record")

// KeyRecord is one data key of the keyring, wrapped. It holds no secret: Wrapped opens only
// with the KEK named by KEK.
type KeyRecord struct {
	Schema string `json:"schema"`
	// ID is the data key's blockcrypt key id, the one manifests and indexes record.
	ID string `json:"id"`
	// Provider and KEK name the key-encryption key that wrapped it: the provider ("file",
	// "azurekeyvault") and its stable reference (file:<kek id>, or a Key Vault key id with
	// its version).
	Provider string `json:"provider"`
	KEK      string `json:"kek"`
	// Algorithm is how it was wrapped (e.g. "A256GCM-SQVB", "RSA-OAEP-256", "A256KW").
	Algorithm string    `json:"algorithm"`
	Wrapped   []byte    `json:"wrapped"`
	Created   time.Time `json:"created"`
	// Rewrapped is when a KEK rotation last wrapped it again (nil: never).
	Rewrapped *time.Time `json:"rewrapped,omitempty"`
	State     string     `json:"state"`
	// Origin says where the key came from: "generated" by key rotate, or "keyfile" for a key
	// file that sealed points directly before the keyring existed, adopted into it.
	Origin string `json:"origin,omitempty"`
	// Scope is "" for a fleet key (any process with the fleet KEK opens it; the one every
	// record before per-VM keys has) or the VM name (lower-cased, as in its agent's task
	// queue) whose agent seals with it: `key rotate --vm`. The fields above wrap it under the
	// fleet KEK all the same, so the control side opens every key; VMWrap wraps it a second
	// time under that VM's own KEK, the only wrapping the VM's agent can open.
	Scope  string       `json:"scope,omitempty"`
	VMWrap *KeyWrapping `json:"vmWrap,omitempty"`

	// Signature is the KEK's signature (SignatureAlg, e.g. RS256 made by Key Vault's sign
	// operation with the key version SignedBy) over SignedContent. A KEK whose wrapping anyone
	// can make (an RSA key: its public key wraps) needs it: without it, whoever can write to
	// the storage account could plant a data key of their own choosing.
	Signature    []byte `json:"signature,omitempty"`
	SignatureAlg string `json:"signatureAlg,omitempty"`
	SignedBy     string `json:"signedBy,omitempty"`
}

// keyRecordSignLabel starts the signed content of a key record.
const keyRecordSignLabel = "sqlvault datakey record v1"

// SignedContent is the canonical encoding of the record that its Signature covers: a label,
// then named fields, each name and value length-prefixed (canon), in this order: schema, id,
// provider, kek, algorithm, wrapped, created (RFC 3339, UTC, nanoseconds), state, origin.
// A field added later (a key's scope, a second wrapping) is appended after these by name,
// and only when it is set, so the signatures of records without it stay valid; a record
// that has it is signed over it. Rewrapped (a time, for people) is not covered.
func (k *KeyRecord) SignedContent() []byte {
	var c canon
	c.str(keyRecordSignLabel)
	field := func(name string, value []byte) { c.str(name).bytes(value) }
	field("schema", []byte(k.Schema))
	field("id", []byte(k.ID))
	field("provider", []byte(k.Provider))
	field("kek", []byte(k.KEK))
	field("algorithm", []byte(k.Algorithm))
	field("wrapped", k.Wrapped)
	field("created", []byte(k.Created.UTC().Format(time.RFC3339Nano)))
	field("state", []byte(k.State))
	field("origin", []byte(k.Origin))
	// Fields added later, by name and only when set (so older records' signatures hold):
	// a VM-scoped key's scope and its second wrapping (not that wrapping's own signature,
	// which covers VMSignedContent).
	if k.Scope != "" {
		field("scope", []byte(k.Scope))
	}
	k.VMWrap.signedFields(field)
	return c
}

// keyRecordVMSignLabel starts the content a VM wrapping's own signature covers.
const keyRecordVMSignLabel = "sqlvault datakey vm wrapping v1"

// VMSignedContent is what the VM's KEK signs of a VM-scoped record when that KEK is one whose
// wrapping anyone can make (an RSA key): the id, the scope and the VM wrapping — what the
// VM's agent opens and trusts. Not the state or times: the fleet re-signs those (a
// retirement, a fleet KEK rotation) without the VM's KEK, and a VM ring chooses among its
// own VM's keys only, so the worst an edit of them can do is pick another of them.
func (k *KeyRecord) VMSignedContent() []byte {
	var c canon
	c.str(keyRecordVMSignLabel)
	field := func(name string, value []byte) { c.str(name).bytes(value) }
	field("id", []byte(k.ID))
	field("scope", []byte(k.Scope))
	k.VMWrap.signedFields(field)
	return c
}

// signedFields gives the wrapping's fields (not its signature) to both signed contents of its
// record, by name; nothing for a record without one.
func (w *KeyWrapping) signedFields(field func(name string, value []byte)) {
	if w == nil {
		return
	}
	field("vmWrap.provider", []byte(w.Provider))
	field("vmWrap.kek", []byte(w.KEK))
	field("vmWrap.algorithm", []byte(w.Algorithm))
	field("vmWrap.wrapped", w.Wrapped)
}

// KeyWrapping is a data key wrapped under one KEK: a VM-scoped record's second wrapping.
type KeyWrapping struct {
	Provider  string `json:"provider"`
	KEK       string `json:"kek"`
	Algorithm string `json:"algorithm"`
	Wrapped   []byte `json:"wrapped"`
	// Signature is the VM KEK's signature over the record's VMSignedContent, when that KEK
	// is one whose wrapping anyone can make (an RSA Key Vault key), as for the fleet's.
	Signature    []byte `json:"signature,omitempty"`
	SignatureAlg string `json:"signatureAlg,omitempty"`
	SignedBy     string `json:"signedBy,omitempty"`
}

// keyScopeRe is a VM name as a key scope: a lower-cased host name (the agent's task queue
// suffix), NetBIOS and DNS names alike.
var keyScopeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// KeyScope is the scope of the data keys of VM vm: its name lower-cased, as agent task
// queues are (Windows host names are case-insensitive).
func KeyScope(vm string) string { return strings.ToLower(strings.TrimSpace(vm)) }

// ValidKeyScope reports whether s is a VM key scope (KeyScope of a valid VM name).
func ValidKeyScope(s string) bool { return keyScopeRe.MatchString(s) }

// ValidKeyID reports whether s has the form of a blockcrypt key id.
func ValidKeyID(s string) bool { return keyIDRe.MatchString(s) }

// KeyRecordBlob names the record of data key id.
func KeyRecordBlob(id string) string { return KeysPrefix + id + ".json" }

func (k *KeyRecord) validate() error {
	switch {
	case k.Schema != KeyRecordSchema:
		return fmt.Errorf("schema %q, want %q", k.Schema, KeyRecordSchema)
	case !ValidKeyID(k.ID):
		return fmt.Errorf("id %q is not a key id", k.ID)
	case k.Provider == "" || k.KEK == "" || k.Algorithm == "":
		return errors.New("provider, kek and algorithm are required")
	case len(k.Wrapped) == 0:
		return errors.New("no wrapped key")
	case k.State != KeyActive && k.State != KeyRetired:
		return fmt.Errorf("state %q, want %s or %s", k.State, KeyActive, KeyRetired)
	case k.Created.IsZero():
		return errors.New("created is required")
	case k.Scope == "" && k.VMWrap != nil:
		return errors.New("a fleet key (no scope) has no VM wrapping")
	case k.Scope != "" && !ValidKeyScope(k.Scope):
		return fmt.Errorf("scope %q is not a lower-case VM name", k.Scope)
	case k.Scope != "" && (k.VMWrap == nil || k.VMWrap.Provider == "" || k.VMWrap.KEK == "" || k.VMWrap.Algorithm == "" || len(k.VMWrap.Wrapped) == 0):
		return fmt.Errorf("a key scoped to VM %s needs its VM wrapping (provider, kek, algorithm and wrapped key)", k.Scope)
	}
	return nil
}

// PutKeyRecord writes a data key record. create makes it fail with ErrExists if the key is
// already recorded (a new key must never replace a record: the old wrapping may be the only
// one); without it the record is replaced (a state change or a KEK rotation).
func (r *Repository) PutKeyRecord(ctx context.Context, rec *KeyRecord, create bool) error {
	rec.Schema = KeyRecordSchema
	rec.Created = rec.Created.UTC() // as SignedContent encodes it: sign after a Put, or set both
	if err := rec.validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKeyRecord, err)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := r.store.Put(ctx, KeyRecordBlob(rec.ID), data, PutOptions{IfNoneMatch: create}); err != nil {
		return fmt.Errorf("vault: write data key record %s: %w", rec.ID, err)
	}
	return nil
}

// KeyRecord reads the record of data key id; ErrNotFound if the keyring has none.
func (r *Repository) KeyRecord(ctx context.Context, id string) (*KeyRecord, error) {
	if !ValidKeyID(id) {
		return nil, fmt.Errorf("%w: %q is not a key id", ErrInvalidKeyRecord, id)
	}
	data, err := r.store.Get(ctx, KeyRecordBlob(id))
	if err != nil {
		return nil, fmt.Errorf("vault: data key record %s: %w", id, err)
	}
	return decodeKeyRecord(id, data)
}

// DecodeKeyRecord decodes and checks a data key record as stored (a record delivered in a
// step's grant: keys.Ring.AcceptRecords), which must be the record of key id.
func DecodeKeyRecord(id string, data []byte) (*KeyRecord, error) { return decodeKeyRecord(id, data) }

func decodeKeyRecord(id string, data []byte) (*KeyRecord, error) {
	var rec KeyRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKeyRecord, KeyRecordBlob(id), err)
	}
	if err := rec.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKeyRecord, KeyRecordBlob(id), err)
	}
	if rec.ID != id {
		return nil, fmt.Errorf("%w: %s holds key %s", ErrInvalidKeyRecord, KeyRecordBlob(id), rec.ID)
	}
	return &rec, nil
}

// KeyRecordCache lists the keyring and reads only the records written since its last
// listing (by ETag), so a process that asks for the active key before every backup costs
// one small listing. Safe for concurrent use.
type KeyRecordCache struct {
	mu   sync.Mutex
	seen map[string]cachedRecord // by blob name
}

type cachedRecord struct {
	etag string
	rec  *KeyRecord
}

// ListKeyRecords returns every data key record, oldest first (by Created, then id). c may be
// nil (every record is read).
func (r *Repository) ListKeyRecords(ctx context.Context, c *KeyRecordCache) ([]*KeyRecord, error) {
	var infos []BlobInfo
	err := r.store.List(ctx, KeysPrefix, func(b BlobInfo) error {
		infos = append(infos, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: list data keys: %w", err)
	}
	var out []*KeyRecord
	for _, b := range infos {
		id, ok := strings.CutSuffix(strings.TrimPrefix(b.Name, KeysPrefix), ".json")
		if !ok || !ValidKeyID(id) {
			continue // not a record of this layout; never guess at it
		}
		if c != nil {
			c.mu.Lock()
			hit, found := c.seen[b.Name]
			c.mu.Unlock()
			if found && hit.etag == b.ETag && b.ETag != "" {
				out = append(out, hit.rec)
				continue
			}
		}
		rec, err := r.KeyRecord(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since listed
		}
		if err != nil {
			return nil, err
		}
		if c != nil {
			c.mu.Lock()
			if c.seen == nil {
				c.seen = map[string]cachedRecord{}
			}
			c.seen[b.Name] = cachedRecord{etag: b.ETag, rec: rec}
			c.mu.Unlock()
		}
		out = append(out, rec)
	}
	sortKeyRecords(out)
	return out, nil
}

func sortKeyRecords(recs []*KeyRecord) {
	sort.SliceStable(recs, func(i, j int) bool { return keyRecordLess(recs[i], recs[j]) })
}

func keyRecordLess(a, b *KeyRecord) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	return a.ID < b.ID
}

// ActiveKeyRecord is the record new points are sealed with by processes that hold the fleet
// KEK: the newest active fleet record (nil if none is active). Taking the newest makes a
// rotation effective the moment its record is written, before the older records are marked
// retired, and settles two racing rotations. VM-scoped records are not candidates: they
// are their VM's (ActiveKeyRecordOf).
func ActiveKeyRecord(recs []*KeyRecord) *KeyRecord { return ActiveKeyRecordOf(recs, "") }

// ActiveKeyRecordOf is the newest active record of scope ("" the fleet, or a VM's KeyScope),
// nil if none is active.
func ActiveKeyRecordOf(recs []*KeyRecord, scope string) *KeyRecord {
	var active *KeyRecord
	for _, r := range recs {
		if r.State == KeyActive && r.Scope == scope && (active == nil || keyRecordLess(active, r)) {
			active = r
		}
	}
	return active
}

// KeyIDMetadataKey is the manifest blob's metadata entry naming the data key its point was
// sealed with (SummaryMetadata writes it beside the summary), so counting points per key
// takes one listing per item.
const KeyIDMetadataKey = "sqlvaultkeyid"

// ListPointKeys returns the data key id of each of an item's points, by point id, from one
// listing of its points folder; a manifest written before the key id was listed (no
// KeyIDMetadataKey) is read.
func (r *Repository) ListPointKeys(ctx context.Context, itemID string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	err := r.store.List(ctx, PointsPrefix(itemID), func(b BlobInfo) error {
		bn := parseBlobName(b.Name)
		if bn.kind != "manifest" {
			return nil
		}
		if id := b.Metadata[KeyIDMetadataKey]; ValidKeyID(id) {
			out[bn.pointID] = id
		} else {
			missing = append(missing, bn.pointID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: list points of %s: %w", itemID, err)
	}
	for _, p := range missing {
		m, _, err := r.ReadManifest(ctx, itemID, p) // a report: legacy and unchecked manifests count too
		if errors.Is(err, ErrNotFound) {
			continue // deleted since listed (retention)
		}
		if err != nil {
			return nil, err
		}
		out[p] = m.Encryption.KeyID
	}
	return out, nil
}

// StripeKeyID is the id of the key a committed stripe was sealed with, as its index
// records it: a backup that adopts an earlier attempt's stripes reports their key, which a
// rotation since may have made other than the active one.
func (r *Repository) StripeKeyID(ctx context.Context, dataBlob string) (string, error) {
	data, err := r.store.Get(ctx, IndexBlob(dataBlob))
	if err != nil {
		return "", stripeErr(dataBlob, ErrIndexMissing, "%s: %v", IndexBlob(dataBlob), err)
	}
	var idx struct {
		KeyID string `json:"keyId"`
	}
	if err := json.Unmarshal(data, &idx); err != nil || idx.KeyID == "" {
		return "", stripeErr(dataBlob, ErrIndexInvalid, "%s: no key id", IndexBlob(dataBlob))
	}
	return idx.KeyID, nil
}
