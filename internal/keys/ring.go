package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Origins of a data key record.
const (
	OriginGenerated = "generated"
	OriginKeyFile   = "keyfile"
)

// Ring is the vault's keyring as one process sees it: the wrapped data keys in the vault,
// the KEK that unwraps them, and local keys (a key file that sealed points before the
// keyring existed). Unwrapped keys stay in memory for the life of the process: a data key
// never changes, only its wrapping does. Safe for concurrent use.
type Ring struct {
	repo  *vault.Repository
	kek   KEK
	local map[string]*blockcrypt.Key
	order []*blockcrypt.Key // local keys as given: the first is the fallback active key
	files []string          // the key files behind them, when known (FromConfig)
	now   func() time.Time

	records  vault.KeyRecordCache
	mu       sync.Mutex
	keys     map[string]*blockcrypt.Key // unwrapped, by id
	verified map[string]bool            // record signatures checked (signed.go)
}

// NewRing is the keyring of repo, unwrapping with kek. local are key files that sealed points
// directly (today's key file): each serves the points of its id, and while the keyring holds
// no active data key the first is the active key, so a vault from before the keyring works
// unchanged until its first `key rotate`.
func NewRing(repo *vault.Repository, kek KEK, local ...*blockcrypt.Key) *Ring {
	r := &Ring{repo: repo, kek: kek, local: map[string]*blockcrypt.Key{}, now: time.Now, keys: map[string]*blockcrypt.Key{},
		verified: map[string]bool{}}
	for _, k := range local {
		if k != nil && r.local[k.ID()] == nil {
			r.local[k.ID()] = k
			r.order = append(r.order, k)
		}
	}
	return r
}

// KEK is the ring's KEK provider.
func (r *Ring) KEK() KEK { return r.kek }

// Active is the data key new points are sealed with: the keyring's newest active record,
// else the first local key. One listing of the keyring per call (records already read are
// not read again), so a rotation reaches every agent at its next backup.
func (r *Ring) Active(ctx context.Context) (*blockcrypt.Key, error) {
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return nil, err
	}
	// Only records the KEK vouches for compete: a planted record (signed.go) is never
	// active, however new it claims to be.
	trusted, refused, err := r.trusted(ctx, recs)
	if err != nil {
		return nil, err
	}
	if rec := vault.ActiveKeyRecord(trusted); rec != nil {
		return r.open(ctx, rec)
	}
	if refused != nil && vault.ActiveKeyRecord(recs) != nil {
		// The keyring's active record is not vouched for: never fall back silently to
		// another key while the vault says this one is in force.
		return nil, refused
	}
	if len(r.order) > 0 {
		return r.order[0], nil
	}
	if len(recs) > 0 {
		return nil, fmt.Errorf("%w: every data key in the keyring is retired: run `sqlvault key rotate` to make a new one", ErrNoDataKey)
	}
	return nil, fmt.Errorf("%w: the keyring is empty and no key file is configured: run `sqlvault key rotate` once (with the KEK configured) to create the first data key", ErrNoDataKey)
}

// Key is the data key of id: from memory, a local key file, or the keyring's record of it,
// unwrapped through the KEK.
func (r *Ring) Key(ctx context.Context, id string) (*blockcrypt.Key, error) {
	r.mu.Lock()
	k := r.keys[id]
	r.mu.Unlock()
	if k != nil {
		return k, nil
	}
	if k := r.local[id]; k != nil {
		return k, nil
	}
	rec, err := r.repo.KeyRecord(ctx, id)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, unknownKey(id)
	}
	if err != nil {
		return nil, err
	}
	return r.open(ctx, rec)
}

// open unwraps a record (once per process) and checks the key is the record's; a record
// that needs the KEK's signature is checked first (checkRecord).
func (r *Ring) open(ctx context.Context, rec *vault.KeyRecord) (*blockcrypt.Key, error) {
	r.mu.Lock()
	k := r.keys[rec.ID]
	r.mu.Unlock()
	if k != nil {
		return k, nil // the id is the key's: a key unwrapped from a trusted record
	}
	if err := r.checkRecord(ctx, rec); err != nil {
		return nil, err
	}
	k, err := r.unwrap(ctx, r.kek, rec)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.keys[rec.ID] = k
	r.mu.Unlock()
	return k, nil
}

func (r *Ring) unwrap(ctx context.Context, kek KEK, rec *vault.KeyRecord) (*blockcrypt.Key, error) {
	raw, k, err := r.unwrapRaw(ctx, kek, rec)
	clear(raw)
	return k, err
}

// unwrapRaw unwraps rec with kek and checks the key is the record's. The caller clears raw.
func (r *Ring) unwrapRaw(ctx context.Context, kek KEK, rec *vault.KeyRecord) ([]byte, *blockcrypt.Key, error) {
	if rec.Provider != kek.Provider() {
		return nil, nil, &KEKError{Provider: kek.Provider(), KEK: rec.KEK, Op: "unwrap data key " + rec.ID,
			Err:  fmt.Errorf("it is wrapped by the %s provider, and this process is configured for %s", rec.Provider, kek.Provider()),
			Todo: "set key.provider (and its settings) to the KEK that wrapped the keyring, or re-wrap the keyring with `sqlvault key rotate --kek` where both are configured"}
	}
	raw, err := kek.Unwrap(ctx, rec.ID, Wrapped{KEK: rec.KEK, Algorithm: rec.Algorithm, Value: rec.Wrapped})
	if err != nil {
		return nil, nil, err
	}
	k, err := blockcrypt.NewKey(raw)
	if err != nil {
		clear(raw)
		return nil, nil, fmt.Errorf("%w: data key %s: %v", ErrDataKeyMismatch, rec.ID, err)
	}
	if k.ID() != rec.ID {
		clear(raw)
		return nil, nil, fmt.Errorf("%w: record %s unwrapped to key %s", ErrDataKeyMismatch, rec.ID, k.ID())
	}
	return raw, k, nil
}

// Rotate makes a new data key, wraps it under the KEK's current version and records it as
// the active key; the keys active before are marked retired (they keep serving their
// points). The key files named by adopt (key files that sealed points before the keyring)
// are first recorded in the keyring, wrapped under the KEK, so that after a move to Key
// Vault no agent needs them any more; the file provider's own KEK file is never adopted
// (wrapped under itself it would protect nothing) and a key already recorded is skipped.
func (r *Ring) Rotate(ctx context.Context, adopt ...string) (*vault.KeyRecord, error) {
	cur, err := r.kek.Current(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := r.adopt(ctx, cur, adopt, false); err != nil {
		return nil, err
	}
	raw := make([]byte, blockcrypt.KeySize)
	defer clear(raw)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("keys: random data key: %w", err)
	}
	k, err := blockcrypt.NewKey(raw)
	if err != nil {
		return nil, err
	}
	w, err := r.kek.Wrap(ctx, k.ID(), raw)
	if err != nil {
		return nil, err
	}
	rec := &vault.KeyRecord{ID: k.ID(), Provider: r.kek.Provider(), KEK: w.KEK, Algorithm: w.Algorithm, Wrapped: w.Value,
		Created: r.now().UTC(), State: vault.KeyActive, Origin: OriginGenerated}
	if err := r.signRecord(ctx, rec); err != nil {
		return nil, err
	}
	if err := r.repo.PutKeyRecord(ctx, rec, true); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.keys[k.ID()] = k
	r.mu.Unlock()
	// The new record is the newest active one, so it is in force already; retiring the
	// others keeps the records saying so.
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return rec, fmt.Errorf("keys: new data key %s is active, but the older ones could not be listed to mark them retired: %w", rec.ID, err)
	}
	for _, old := range recs {
		if old.State == vault.KeyActive && old.ID != rec.ID {
			o := *old
			o.State = vault.KeyRetired
			err := r.signRecord(ctx, &o)
			if err == nil {
				err = r.repo.PutKeyRecord(ctx, &o, false)
			}
			if err != nil {
				return rec, fmt.Errorf("keys: new data key %s is active, but marking %s retired failed: %w", rec.ID, o.ID, err)
			}
		}
	}
	return rec, nil
}

// adopt records each key file of paths whose key is not yet in the keyring, wrapped under
// the KEK (whose current reference is cur), leaving out the file provider's KEK itself.
// activeIfNone makes the first adopted key active when the keyring has no active key: it
// was the vault's active key until now (the fallback of Active).
func (r *Ring) adopt(ctx context.Context, cur string, paths []string, activeIfNone bool) ([]*vault.KeyRecord, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, rec := range recs {
		have[rec.ID] = true
	}
	active := vault.ActiveKeyRecord(recs) != nil
	var out []*vault.KeyRecord
	for _, path := range paths {
		raw, k, err := readKeyFile(path)
		if err != nil {
			return out, fmt.Errorf("keys: adopt key file %s into the keyring: %w", path, err)
		}
		if have[k.ID()] || cur == "file:"+k.ID() {
			clear(raw)
			continue
		}
		w, err := r.kek.Wrap(ctx, k.ID(), raw)
		clear(raw)
		if err != nil {
			return out, err
		}
		state := vault.KeyRetired
		if activeIfNone && !active {
			state, active = vault.KeyActive, true
		}
		rec := &vault.KeyRecord{ID: k.ID(), Provider: r.kek.Provider(), KEK: w.KEK, Algorithm: w.Algorithm, Wrapped: w.Value,
			Created: adoptedCreated, State: state, Origin: OriginKeyFile}
		if err := r.signRecord(ctx, rec); err != nil {
			return out, err
		}
		if err := r.repo.PutKeyRecord(ctx, rec, true); err != nil && !errors.Is(err, vault.ErrExists) {
			return out, err
		}
		have[k.ID()] = true
		out = append(out, rec)
	}
	return out, nil
}

// RewrapEntry is one data key in a KEK rotation's report.
type RewrapEntry struct {
	ID     string `json:"id"`
	From   string `json:"from,omitempty"` // the KEK it was wrapped under ("" for an adopted key file)
	To     string `json:"to"`
	Action string `json:"action"` // "rewrapped", "already current", "adopted"
}

// RotateKEK wraps every data key of the keyring again under the KEK's current version (for
// Key Vault: the key's latest version, after a new one was made in Key Vault; for the file
// provider: the key file configured now). Backup data is not touched: only the records
// under vault.KeysPrefix are rewritten. A record wrapped under previous (the key file
// configured before, for a file KEK rotation) is unwrapped with it; previous's own key,
// which sealed points as the file KEK of a vault from before the keyring, is adopted into
// the keyring so those points stay readable (active if the keyring had no active key).
// Running it again changes nothing.
func (r *Ring) RotateKEK(ctx context.Context, previous KEK, adoptPrevious string) ([]RewrapEntry, error) {
	cur, err := r.kek.Current(ctx)
	if err != nil {
		return nil, err
	}
	var prevRef string
	if previous != nil {
		if prevRef, err = previous.Current(ctx); err != nil {
			return nil, err
		}
	}
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return nil, err
	}
	var out []RewrapEntry
	for _, rec := range recs {
		if rec.KEK == cur && rec.Provider == r.kek.Provider() {
			signed, err := r.signIfUnsigned(ctx, rec)
			if err != nil {
				return out, err
			}
			action := "already current"
			if signed {
				action = "signed"
			}
			out = append(out, RewrapEntry{ID: rec.ID, From: rec.KEK, To: cur, Action: action})
			continue
		}
		src := r.kek
		if previous != nil && rec.KEK == prevRef && rec.Provider == previous.Provider() {
			src = previous
		}
		action := "rewrapped"
		if needsSignature(rec) && rec.Provider == r.kek.Provider() {
			if cerr := r.checkRecord(ctx, rec); errors.Is(cerr, ErrRecordNotSigned) {
				action = "rewrapped and signed" // unsigned before: see signIfUnsigned
			}
		}
		raw, k, err := r.unwrapRaw(ctx, src, rec)
		if err != nil {
			return out, err
		}
		w, err := r.kek.Wrap(ctx, rec.ID, raw)
		clear(raw)
		if err != nil {
			return out, err
		}
		n := *rec
		now := r.now().UTC()
		n.Provider, n.KEK, n.Algorithm, n.Wrapped, n.Rewrapped = r.kek.Provider(), w.KEK, w.Algorithm, w.Value, &now
		if err := r.signRecord(ctx, &n); err != nil {
			return out, err
		}
		if err := r.repo.PutKeyRecord(ctx, &n, false); err != nil {
			return out, err
		}
		r.mu.Lock()
		r.keys[rec.ID] = k
		r.mu.Unlock()
		out = append(out, RewrapEntry{ID: rec.ID, From: rec.KEK, To: w.KEK, Action: action})
	}
	if adoptPrevious != "" {
		adopted, err := r.adopt(ctx, cur, []string{adoptPrevious}, true)
		for _, a := range adopted {
			out = append(out, RewrapEntry{ID: a.ID, To: a.KEK, Action: "adopted"})
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// signIfUnsigned signs a record that needs the KEK's signature and has no valid one (a
// record written before records were signed): after unwrapping it through the KEK and
// checking the key is the record's id. That check cannot tell a record the operator's
// rotation wrote from one planted with the public key (both unwrap): which is why this runs
// only in `key rotate --kek`, an operator's deliberate act, which lists each record it
// signs ("signed") to compare with the data keys the vault's points use (`key status`).
func (r *Ring) signIfUnsigned(ctx context.Context, rec *vault.KeyRecord) (bool, error) {
	err := r.checkRecord(ctx, rec)
	if err == nil || !errors.Is(err, ErrRecordNotSigned) {
		return false, err
	}
	raw, k, err := r.unwrapRaw(ctx, r.kek, rec)
	clear(raw)
	if err != nil {
		return false, err
	}
	n := *rec
	if err := r.signRecord(ctx, &n); err != nil {
		return false, err
	}
	if err := r.repo.PutKeyRecord(ctx, &n, false); err != nil {
		return false, err
	}
	r.mu.Lock()
	r.keys[rec.ID] = k
	r.mu.Unlock()
	return true, nil
}

// adoptedCreated is the creation time recorded for an adopted key file: its real age is
// unknown, and it must sort before every generated key.
var adoptedCreated = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// readKeyFile loads a key file with blockcrypt's checks (format, size, permissions) and
// returns its bytes too, which blockcrypt never hands out: adopting a key file into the
// keyring means wrapping those bytes. The caller clears raw.
func readKeyFile(path string) (raw []byte, k *blockcrypt.Key, err error) {
	k, err = blockcrypt.LoadKeyFile(path)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: read key file %s: %w", path, err)
	}
	defer clear(data)
	text := bytes.TrimSpace(data)
	raw = make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(raw, text)
	if err != nil {
		clear(raw)
		return nil, nil, fmt.Errorf("keys: key file %s changed while it was read", path)
	}
	raw = raw[:n]
	if again, err := blockcrypt.NewKey(raw); err != nil || again.ID() != k.ID() {
		clear(raw)
		return nil, nil, fmt.Errorf("keys: key file %s changed while it was read", path)
	}
	return raw, k, nil
}
