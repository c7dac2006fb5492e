package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
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
	repo *vault.Repository
	kek  KEK
	// scope is "" for the fleet's ring (kek is the fleet KEK: every record opens through its
	// first wrapping) or a VM's KeyScope for that VM's agent (kek is the VM's own KEK: only
	// the records scoped to the VM open, through their VM wrapping). NewVMRing.
	scope string
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

// NewVMRing is the keyring as the agent of VM vm sees it with its own KEK (key.scope: vm;
// repo nil for an agent without a vault credential, whose keys all come delivered: Accept):
// it opens the data keys scoped to vm (`sqlvault key rotate --vm`), through their VM
// wrapping, and nothing else — not another VM's keys, not the fleet's, not a key file — so
// the agent reads its own VM's points and no other's even with read access to the whole
// vault. Its active key is its VM's newest active one.
func NewVMRing(repo *vault.Repository, vm string, kek KEK) *Ring {
	r := NewRing(repo, kek)
	r.scope = vault.KeyScope(vm)
	return r
}

// KEK is the ring's KEK provider.
func (r *Ring) KEK() KEK { return r.kek }

// Scope is the VM whose keys alone the ring opens ("": the fleet's ring, which opens all).
func (r *Ring) Scope() string { return r.scope }

// ErrDataKeyOutOfScope: a VM's ring (key.scope: vm) was asked for a data key of another VM
// or of the fleet. Errors matching it also match ErrUnknownDataKey (DataKeyUnavailable).
var ErrDataKeyOutOfScope = errors.New("keys: data key outside this VM's scope")

// outsideKeyring is the owner outOfScope names for a key the keyring does not hold.
const outsideKeyring = "\x00none"

// outOfScope names whose key id is and what to do.
func (r *Ring) outOfScope(id, scope string) error {
	owner := "the fleet (a point sealed before this VM had keys of its own, or on a VM without them)"
	switch scope {
	case "":
	case outsideKeyring:
		owner = "the fleet: it is not in the keyring (a key file that sealed points before the keyring, or another vault's)"
	default:
		owner = "VM " + scope
	}
	return fmt.Errorf("%w: %w: data key %s belongs to %s, and this agent holds VM %s's own KEK (key.scope: vm), which opens VM %s's data keys only; "+
		"restore it through a Restore workflow, whose control worker delivers the keys each step needs to this VM alone (one from before per-VM keys delivers none: upgrade it), or on an agent that holds the fleet KEK", ErrUnknownDataKey, ErrDataKeyOutOfScope, id, owner, r.scope, r.scope)
}

// errNoKeyring: a VM's ring without a vault credential reads no keyring record; its keys
// come with each step's grant (Accept).
func (r *Ring) errNoKeyring(sentinel error, what string) error {
	if r.scope == "" {
		return fmt.Errorf("%w: %s: this agent holds no vault credential (agent.vaultAccess: grant), so the keyring's records come with each step's grant from the control side, and this step brought none of this key: "+
			"start it again from its workflow, and check that the control worker is up to date", sentinel, what)
	}
	return fmt.Errorf("%w: %s: this agent holds no vault credential (agent.vaultAccess: grant), so VM %s's data keys come with each step's grant from the control side, and this step brought none: "+
		"start it again from its workflow, and check that the control worker is up to date", sentinel, what, r.scope)
}

// Active is the data key new points are sealed with: the keyring's newest active record,
// else the first local key. One listing of the keyring per call (records already read are
// not read again), so a rotation reaches every agent at its next backup.
func (r *Ring) Active(ctx context.Context) (*blockcrypt.Key, error) {
	if r.repo == nil {
		if r.scope == "" && len(r.order) > 0 {
			// A fleet agent without a vault credential: its key file, unless a step
			// hands it the keyring's active record (AcceptRecords).
			return r.order[0], nil
		}
		return nil, r.errNoKeyring(ErrNoDataKey, "the active data key")
	}
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return nil, err
	}
	// Only records the KEK vouches for compete: a planted record (signed.go) is never
	// active, however new it claims to be. A VM's ring judges its own VM's records only.
	if r.scope != "" {
		recs = slices.DeleteFunc(slices.Clone(recs), func(rec *vault.KeyRecord) bool { return rec.Scope != r.scope })
	}
	trusted, refused, err := r.trusted(ctx, recs)
	if err != nil {
		return nil, err
	}
	if rec := vault.ActiveKeyRecordOf(trusted, r.scope); rec != nil {
		return r.open(ctx, rec)
	}
	if refused != nil && vault.ActiveKeyRecordOf(recs, r.scope) != nil {
		// The keyring's active record is not vouched for: never fall back silently to
		// another key while the vault says this one is in force.
		return nil, refused
	}
	if r.scope != "" {
		return nil, fmt.Errorf("%w: VM %s has no active data key of its own: run `sqlvault key rotate --vm %s` where key.vms.%s (this VM's KEK) is configured",
			ErrNoDataKey, r.scope, r.scope, r.scope)
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
	if r.repo == nil {
		return nil, r.errNoKeyring(ErrUnknownDataKey, "data key "+id)
	}
	rec, err := r.repo.KeyRecord(ctx, id)
	if errors.Is(err, vault.ErrNotFound) {
		if r.scope != "" {
			return nil, r.outOfScope(id, outsideKeyring)
		}
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
	var err error
	switch {
	case r.scope == "":
		k, err = r.unwrap(ctx, r.kek, rec)
	case rec.Scope != r.scope:
		return nil, r.outOfScope(rec.ID, rec.Scope)
	default:
		// validate guarantees a scoped record's VM wrapping.
		raw, vk, verr := unwrapChecked(ctx, r.kek, rec.ID, rec.VMWrap.Provider, Wrapped{KEK: rec.VMWrap.KEK, Algorithm: rec.VMWrap.Algorithm, Value: rec.VMWrap.Wrapped})
		clear(raw)
		k, err = vk, verr
	}
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

// unwrapRaw unwraps rec's fleet wrapping with kek and checks the key is the record's. The
// caller clears raw.
func (r *Ring) unwrapRaw(ctx context.Context, kek KEK, rec *vault.KeyRecord) ([]byte, *blockcrypt.Key, error) {
	return unwrapChecked(ctx, kek, rec.ID, rec.Provider, Wrapped{KEK: rec.KEK, Algorithm: rec.Algorithm, Value: rec.Wrapped})
}

// unwrapChecked unwraps one wrapping of data key id (made by provider) with kek and checks
// the key is id: a wrapping moved from another record, or altered, is refused by that check
// where the algorithm does not bind the id itself (RSA). The caller clears raw.
func unwrapChecked(ctx context.Context, kek KEK, id, provider string, w Wrapped) ([]byte, *blockcrypt.Key, error) {
	if provider != kek.Provider() {
		return nil, nil, &KEKError{Provider: kek.Provider(), KEK: w.KEK, Op: "unwrap data key " + id,
			Err:  fmt.Errorf("it is wrapped by the %s provider, and this process is configured for %s", provider, kek.Provider()),
			Todo: "set key.provider (and its settings) to the KEK that wrapped the keyring, or re-wrap the keyring with `sqlvault key rotate --kek` where both are configured"}
	}
	raw, err := kek.Unwrap(ctx, id, w)
	if err != nil {
		return nil, nil, err
	}
	k, err := blockcrypt.NewKey(raw)
	if err != nil {
		clear(raw)
		return nil, nil, fmt.Errorf("%w: data key %s: %v", ErrDataKeyMismatch, id, err)
	}
	if k.ID() != id {
		clear(raw)
		return nil, nil, fmt.Errorf("%w: record %s unwrapped to key %s", ErrDataKeyMismatch, id, k.ID())
	}
	return raw, k, nil
}

// Rotate makes a new data key, wraps it under the KEK's current version and records it as
// the active key; the keys active before are marked retired (they keep serving their
// points). The key files named by adopt (key files that sealed points before the keyring)
// are first recorded in the keyring, wrapped under the KEK, so that after a move to Key
// Vault no agent needs them any more; the file provider's own KEK file is never adopted
// (wrapped under itself it would protect nothing) and a key already recorded is skipped.
// VM-scoped keys are not touched: each VM's active key is its own (RotateVM).
func (r *Ring) Rotate(ctx context.Context, adopt ...string) (*vault.KeyRecord, error) {
	if err := r.needFleet("key rotate"); err != nil {
		return nil, err
	}
	cur, err := r.kek.Current(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := r.adopt(ctx, cur, adopt, false); err != nil {
		return nil, err
	}
	return r.rotate(ctx, "", nil)
}

// RotateVM makes a new data key for VM vm's agent: wrapped under the fleet KEK (so the
// control side opens it, as every key) and under vmKEK, the VM's own KEK (so the VM's agent,
// configured with key.scope: vm, opens it and nothing else), recorded as the VM's active key;
// the VM's keys active before are marked retired. The fleet's and other VMs' keys are not
// touched. The fleet's ring alone can: a VM's ring holds no fleet KEK.
func (r *Ring) RotateVM(ctx context.Context, vm string, vmKEK KEK) (*vault.KeyRecord, error) {
	if err := r.needFleet("key rotate --vm"); err != nil {
		return nil, err
	}
	scope := vault.KeyScope(vm)
	if !vault.ValidKeyScope(scope) {
		return nil, fmt.Errorf("keys: %q is not a VM name (use the agent's agent.vm)", vm)
	}
	if vmKEK == nil {
		return nil, fmt.Errorf("keys: VM %s has no KEK of its own configured: set key.vms.%s (its key file, or its Key Vault key)", scope, scope)
	}
	return r.rotate(ctx, scope, vmKEK)
}

// needFleet refuses a keyring change on a VM's ring.
func (r *Ring) needFleet(what string) error {
	if r.scope == "" {
		return nil
	}
	return fmt.Errorf("keys: %s needs the fleet KEK, and this process holds VM %s's own (key.scope: vm): run it where the control side's key is configured", what, r.scope)
}

// rotate records a new active data key of scope ("" the fleet; else vmKEK wraps it a second
// time) and retires the scope's keys active before.
func (r *Ring) rotate(ctx context.Context, scope string, vmKEK KEK) (*vault.KeyRecord, error) {
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
		Created: r.now().UTC(), State: vault.KeyActive, Origin: OriginGenerated, Scope: scope}
	if vmKEK != nil {
		vw, err := vmKEK.Wrap(ctx, k.ID(), raw)
		if err != nil {
			return nil, err
		}
		rec.VMWrap = &vault.KeyWrapping{Provider: vmKEK.Provider(), KEK: vw.KEK, Algorithm: vw.Algorithm, Wrapped: vw.Value}
	}
	if err := r.signRecord(ctx, rec, vmKEK); err != nil {
		return nil, err
	}
	if err := r.repo.PutKeyRecord(ctx, rec, true); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.keys[k.ID()] = k
	r.mu.Unlock()
	// The new record is the newest active one of its scope, so it is in force already;
	// retiring the others keeps the records saying so.
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return rec, fmt.Errorf("keys: new data key %s is active, but the older ones could not be listed to mark them retired: %w", rec.ID, err)
	}
	for _, old := range recs {
		if old.State == vault.KeyActive && old.ID != rec.ID && old.Scope == scope {
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
	if err := r.needFleet("key rotate --kek"); err != nil {
		return nil, err
	}
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
		if err := r.rewrite(ctx, &n, k); err != nil {
			return out, err
		}
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

// RotateVMKEK wraps VM vm's data keys again under the current version of vmKEK, the VM's
// own KEK: after a new version of its Key Vault key, or with a new key file for the VM
// (install it on the VM's agent afterwards: the old one no longer opens the VM's keys once
// every record is rewritten). The data keys are taken through the fleet wrapping, so the
// VM's previous KEK is not needed. Backup data and the fleet wrapping are not touched.
// Running it again changes nothing.
func (r *Ring) RotateVMKEK(ctx context.Context, vm string, vmKEK KEK) ([]RewrapEntry, error) {
	if err := r.needFleet("key rotate --kek --vm"); err != nil {
		return nil, err
	}
	scope := vault.KeyScope(vm)
	if vmKEK == nil {
		return nil, fmt.Errorf("keys: VM %s has no KEK of its own configured: set key.vms.%s (its key file, or its Key Vault key)", scope, scope)
	}
	cur, err := vmKEK.Current(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return nil, err
	}
	var out []RewrapEntry
	for _, rec := range recs {
		if rec.Scope != scope {
			continue
		}
		if rec.VMWrap.KEK == cur && rec.VMWrap.Provider == vmKEK.Provider() {
			out = append(out, RewrapEntry{ID: rec.ID, From: rec.VMWrap.KEK, To: cur, Action: "already current"})
			continue
		}
		raw, k, err := r.unwrapRaw(ctx, r.kek, rec)
		if err != nil {
			return out, err
		}
		w, err := vmKEK.Wrap(ctx, rec.ID, raw)
		clear(raw)
		if err != nil {
			return out, err
		}
		n := *rec
		now := r.now().UTC()
		n.VMWrap = &vault.KeyWrapping{Provider: vmKEK.Provider(), KEK: w.KEK, Algorithm: w.Algorithm, Wrapped: w.Value}
		n.Rewrapped = &now
		if err := r.rewrite(ctx, &n, k, vmKEK); err != nil {
			return out, err
		}
		out = append(out, RewrapEntry{ID: rec.ID, From: rec.VMWrap.KEK, To: w.KEK, Action: "rewrapped"})
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
	if err := r.rewrite(ctx, &n, k); err != nil {
		return false, err
	}
	return true, nil
}

// rewrite stores a changed record of an existing data key (re-wrapped, or signed): signed
// as its KEK needs (and its VM wrapping by vmKEK when given), written over the old one, and
// its key k, unwrapped from it, kept like any key this ring opened.
func (r *Ring) rewrite(ctx context.Context, n *vault.KeyRecord, k *blockcrypt.Key, vmKEK ...KEK) error {
	if err := r.signRecord(ctx, n, vmKEK...); err != nil {
		return err
	}
	if err := r.repo.PutKeyRecord(ctx, n, false); err != nil {
		return err
	}
	r.mu.Lock()
	r.keys[n.ID] = k
	r.mu.Unlock()
	return nil
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
