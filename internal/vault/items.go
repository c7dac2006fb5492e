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
	"sync/atomic"
	"time"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// The vault keeps the protection configuration beside the data, so a new control plane can
// rebuild everything (schedules included) from the container and the key alone:
//
//	v1/items/<item>/item.json     the protected item (which database, which policy, its state)
//	v1/policies/<name>.json       a backup policy (its document is internal/control/policy's)
const (
	ItemSchema     = "sqlvault.item/v1"
	PoliciesPrefix = layoutPrefix + "policies/"
)

// Protection states of an item.
const (
	ItemProtected     = protocol.ItemProtected
	ItemStoppedRetain = protocol.ItemStoppedRetain // schedules removed, recovery points kept forever
	ItemStoppedDelete = protocol.ItemStoppedDelete // schedules removed, recovery points to be deleted by retention
)

// ProtectedItem is one protected database.
type ProtectedItem struct {
	Schema   string `json:"schema"`
	ItemID   string `json:"itemId"`
	VM       string `json:"vm"`
	Instance string `json:"instance"`
	Database string `json:"database"`
	Policy   string `json:"policy"`
	State    string `json:"state"`
	// BackupTypes the database allows (read-only: full and copy-only; SIMPLE: no log).
	BackupTypes []string `json:"backupTypes,omitempty"`
	// AutoProtected: protected because its instance is auto-protected.
	AutoProtected bool      `json:"autoProtected,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`

	// Unauthenticated says why the record as read is not authenticated (legacy, a MAC that
	// fails, a key this process lacks); empty when it is. Never stored. Only the readers
	// that act on nothing get such a record (ItemUnverified, Items): Item refuses it.
	Unauthenticated string `json:"-"`
	authErr         error
}

// Wire is the item as activities hand it to workflows: the record less its schema stamp.
func (it *ProtectedItem) Wire() protocol.ProtectedItem {
	return protocol.ProtectedItem{ItemID: it.ItemID, VM: it.VM, Instance: it.Instance, Database: it.Database,
		Policy: it.Policy, State: it.State, BackupTypes: it.BackupTypes, AutoProtected: it.AutoProtected,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

// AllowsKind reports whether the item's database takes backups of kind (full,
// differential, log); an item recorded before the allowed types were, with none listed,
// takes every kind.
func (it *ProtectedItem) AllowsKind(kind string) bool {
	if len(it.BackupTypes) == 0 {
		return true
	}
	for _, t := range it.BackupTypes {
		if protocol.BackupType(t).Kind() == kind {
			return true
		}
	}
	return false
}

// ErrItemNotFound means the database is not protected (no item record).
var ErrItemNotFound = errors.New("vault: no protected item")

// PutItem writes an item record (creating or replacing it), authenticated: sealed in a
// record envelope under the keyring's active data key (RecordEnvelopeSchema), bound to the
// item's blob name. A repository without keys cannot write one (ErrNoKey).
func (r *Repository) PutItem(ctx context.Context, it *ProtectedItem) error {
	if it.Schema == "" {
		it.Schema = ItemSchema
	}
	if !ValidItemID(it.ItemID) || it.Instance == "" || it.Database == "" {
		return fmt.Errorf("%w: item record needs a valid itemId, instance and database", ErrInvalidManifest)
	}
	data, err := json.MarshalIndent(it, "", "  ")
	if err != nil {
		return err
	}
	return r.putRecord(ctx, ItemBlob(it.ItemID), data, PutOptions{})
}

// Item reads an item record and authenticates it: what drives a deletion (retention), a
// protection change (StopProtection, ResumeProtection), an overwrite permission or the
// schedules reads it here. A record that is not authenticated is refused with an error
// that matches ErrUnauthenticated (ErrLegacyRecord, ErrRecordUnauthenticated, or the key
// error when the key it names cannot be had), naming the blob and what to do.
func (r *Repository) Item(ctx context.Context, itemID string) (*ProtectedItem, error) {
	it, err := r.ItemUnverified(ctx, itemID)
	if err != nil {
		return nil, err
	}
	if it.Unauthenticated != "" {
		return nil, it.authErr
	}
	return it, nil
}

// ItemUnverified reads an item record for a reader that acts on nothing (status, the RPO
// watchdog, a commit's check that protection was not stopped, which can only refuse): a
// record that is not authenticated is returned with Unauthenticated saying why, not as an
// error. Errors are for a record that is missing (ErrItemNotFound), unreadable or malformed.
func (r *Repository) ItemUnverified(ctx context.Context, itemID string) (*ProtectedItem, error) {
	name := ItemBlob(itemID)
	data, err := r.store.Get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w %s", ErrItemNotFound, itemID)
	}
	if err != nil {
		return nil, err
	}
	record, auth, err := r.openRecord(ctx, name, data)
	if err != nil {
		return nil, err
	}
	var it ProtectedItem
	if err := json.Unmarshal(record, &it); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidManifest, name, err)
	}
	if it.Schema != ItemSchema {
		return nil, fmt.Errorf("%w: item %s has schema %q, this build reads %q", ErrUnknownSchema, itemID, it.Schema, ItemSchema)
	}
	if auth == nil && it.ItemID != itemID {
		// Authenticated at this name, so written by a holder of the key: a bug, not tamper.
		return nil, fmt.Errorf("%w: %s holds item %s", ErrInvalidManifest, name, it.ItemID)
	}
	if auth != nil {
		if errors.Is(auth, ErrLegacyRecord) {
			auth = fmt.Errorf("%w: authenticate it with `sqlvault vault upgrade`; until then retention deletes nothing of this database and overwrite restores of it are refused", auth)
		}
		it.Unauthenticated, it.authErr = auth.Error(), auth
	}
	return &it, nil
}

// ItemIDs returns the ids of the items that have an item record, in any state (protected or
// stopped), sorted: what the vault's database limit counts. It reads no record: it is one
// listing of ItemsPrefix with recordDelimiter, which returns at most three folders per item
// (one request per ~1,600 items) however many recovery points the items hold. A record that
// exists but cannot be read is counted here; Items fails on it.
func (r *Repository) ItemIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := r.store.ListPrefixes(ctx, ItemsPrefix, recordDelimiter, func(folder string) error {
		if id, ok := itemOfRecordFolder(folder); ok {
			ids = append(ids, id) // folders come in name order and ids have one length: sorted
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: list item records: %w", err)
	}
	return ids, nil
}

// Items lists every item record, by instance then database: the records ItemIDs finds, read
// up to manifestReaders at a time. Like ItemUnverified, it returns records that are not
// authenticated flagged (Unauthenticated), for the readers that list: a caller that acts on
// a record must check the flag, or read it again with Item. A record that cannot be read or decoded fails the whole
// call (the error of the first such item in id order), so no item is ever silently left out;
// a record deleted since the listing (retention removing a stopped item) is skipped.
func (r *Repository) Items(ctx context.Context) ([]*ProtectedItem, error) {
	ids, err := r.ItemIDs(ctx)
	if err != nil {
		return nil, err
	}
	recs := make([]*ProtectedItem, len(ids))
	errs := make([]error, len(ids))
	var failed atomic.Bool
	sem := make(chan struct{}, manifestReaders)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		if failed.Load() {
			// Every item before i has been read or is being read, so the first failure in id
			// order is among them: reading the rest would not change the answer.
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			recs[i], errs[i] = r.ItemUnverified(ctx, id)
			if errs[i] != nil && !errors.Is(errs[i], ErrItemNotFound) {
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	var out []*ProtectedItem
	for i := range ids {
		if errors.Is(errs[i], ErrItemNotFound) {
			continue // deleted since the listing, or a blob beside the record named like it
		}
		if errs[i] != nil {
			return nil, errs[i]
		}
		if recs[i] != nil {
			out = append(out, recs[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !strings.EqualFold(out[i].Instance, out[j].Instance) {
			return strings.ToUpper(out[i].Instance) < strings.ToUpper(out[j].Instance)
		}
		return out[i].Database < out[j].Database
	})
	return out, nil
}

var policyNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// PolicyBlob names a policy document.
func PolicyBlob(name string) string { return PoliciesPrefix + name + ".json" }

// ErrPolicyNotFound means no policy has that name.
var ErrPolicyNotFound = errors.New("vault: no such policy")

// CheckPolicyName refuses a name that cannot name a policy blob.
func CheckPolicyName(name string) error {
	if !policyNameRe.MatchString(name) {
		return fmt.Errorf("policy name %q: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// PutPolicy stores a policy document (validated by the caller) under its name,
// authenticated like an item record (PutItem): retention deletes by it.
func (r *Repository) PutPolicy(ctx context.Context, name string, doc []byte) error {
	if err := CheckPolicyName(name); err != nil {
		return err
	}
	return r.putRecord(ctx, PolicyBlob(name), doc, PutOptions{})
}

// Policy reads a policy document and authenticates it: one that is not authenticated is
// refused with an error that matches ErrUnauthenticated (see Item). Retention, the
// schedules, the drill planner and vault harden read policies here.
func (r *Repository) Policy(ctx context.Context, name string) ([]byte, error) {
	doc, auth, err := r.PolicyUnverified(ctx, name)
	if err != nil {
		return nil, err
	}
	if auth != nil {
		return nil, auth
	}
	return doc, nil
}

// PolicyUnverified reads a policy document for a reader that acts on nothing (status):
// auth says why it is not authenticated (nil when it is).
func (r *Repository) PolicyUnverified(ctx context.Context, name string) (doc []byte, auth, err error) {
	if !policyNameRe.MatchString(name) {
		return nil, nil, fmt.Errorf("%w %q", ErrPolicyNotFound, name)
	}
	blob := PolicyBlob(name)
	data, err := r.store.Get(ctx, blob)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, fmt.Errorf("%w %q", ErrPolicyNotFound, name)
	}
	if err != nil {
		return nil, nil, err
	}
	doc, auth, err = r.openRecord(ctx, blob, data)
	if errors.Is(auth, ErrLegacyRecord) {
		auth = fmt.Errorf("%w: authenticate it with `sqlvault vault upgrade`; until then retention deletes nothing by it", auth)
	}
	return doc, auth, err
}

// Policies lists the policy names.
func (r *Repository) Policies(ctx context.Context) ([]string, error) {
	var out []string
	err := r.store.List(ctx, PoliciesPrefix, func(b BlobInfo) error {
		name := strings.TrimSuffix(strings.TrimPrefix(b.Name, PoliciesPrefix), ".json")
		if policyNameRe.MatchString(name) {
			out = append(out, name)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// DeleteItem removes an item record (after its recovery points are gone).
func (r *Repository) DeleteItem(ctx context.Context, itemID string) error {
	err := r.store.Delete(ctx, ItemBlob(itemID))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// DeletePoint deletes a recovery point: its manifest first, so the point stops existing at
// once (a crash afterwards leaves only unreferenced data, which the sweep removes), then its
// stripes. Only retention calls it.
func (r *Repository) DeletePoint(ctx context.Context, m *Manifest) error {
	if err := r.store.Delete(ctx, ManifestBlob(m.ItemID, m.PointID)); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, s := range m.Stripes {
		for _, b := range []string{s.Blob, s.Index} {
			if err := r.store.Delete(ctx, b); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// InstancesPrefix holds auto-protected instance records.
const InstancesPrefix = layoutPrefix + "instances/"

// InstanceRecord marks an instance as auto-protected: databases created on it later are
// protected with Policy at the next discovery.
type InstanceRecord struct {
	Schema      string    `json:"schema"`
	VM          string    `json:"vm"`
	Instance    string    `json:"instance"`
	Policy      string    `json:"policy"`
	AutoProtect bool      `json:"autoProtect"`
	UpdatedAt   time.Time `json:"updatedAt"`

	// Unauthenticated says why the record as read is not authenticated ("" when it is).
	// Never stored.
	Unauthenticated string `json:"-"`
}

// InstanceBlob names an instance record (IDs are derived like item IDs, without a database).
func InstanceBlob(instance string) string { return InstancesPrefix + ItemID(instance, "") + ".json" }

// PutInstance writes an instance record, authenticated like an item record (PutItem):
// discovery protects the instance's new databases on its word.
func (r *Repository) PutInstance(ctx context.Context, rec *InstanceRecord) error {
	rec.Schema = "sqlvault.instance/v1"
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return r.putRecord(ctx, InstanceBlob(rec.Instance), data, PutOptions{})
}

// Instances lists the instance records. One that is not authenticated is returned with
// Unauthenticated saying why (a caller that acts on it must check); one that cannot be
// decoded fails the call.
func (r *Repository) Instances(ctx context.Context) ([]*InstanceRecord, error) {
	var names []string
	if err := r.store.List(ctx, InstancesPrefix, func(b BlobInfo) error {
		names = append(names, b.Name)
		return nil
	}); err != nil {
		return nil, err
	}
	var out []*InstanceRecord
	for _, n := range names {
		data, err := r.store.Get(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since listed
		}
		if err != nil {
			return nil, err
		}
		record, auth, err := r.openRecord(ctx, n, data)
		if err != nil {
			return nil, err
		}
		var rec InstanceRecord
		if err := json.Unmarshal(record, &rec); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidManifest, n, err)
		}
		if auth == nil && InstanceBlob(rec.Instance) != n {
			return nil, fmt.Errorf("%w: %s holds instance %s", ErrInvalidManifest, n, rec.Instance)
		}
		if auth != nil {
			rec.Unauthenticated = auth.Error()
		}
		out = append(out, &rec)
	}
	return out, nil
}
