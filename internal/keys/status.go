package keys

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/sqlvault/sqlvault/internal/vault"
)

// Where a data key comes from, in a Status.
const (
	SourceKeyring = "keyring"  // a record under vault.KeysPrefix
	SourceKeyFile = "key file" // a local key file, not in the keyring
	SourceMissing = "missing"  // points name it, and nothing here holds it
)

// KeyStatus is one data key as `sqlvault key status` shows it.
type KeyStatus struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	// State is the record's (active or retired); a key file outside the keyring is
	// "active" when it is the active key (no record is active), else "retired".
	State     string     `json:"state"`
	Origin    string     `json:"origin,omitempty"`
	Provider  string     `json:"provider,omitempty"`
	KEK       string     `json:"kek,omitempty"`
	Algorithm string     `json:"algorithm,omitempty"`
	Created   *time.Time `json:"created,omitempty"`
	Rewrapped *time.Time `json:"rewrapped,omitempty"`
	// Scope is "" for a fleet key, else the VM whose agent seals with it; VMKEK is the VM's
	// own KEK that wraps it too.
	Scope string `json:"scope,omitempty"`
	VMKEK string `json:"vmKek,omitempty"`
	// Points is how many recovery points are sealed with it.
	Points int `json:"points"`
	// Usable: this process unwrapped (or holds) it; Error says why not.
	Usable bool   `json:"usable"`
	Error  string `json:"error,omitempty"`
}

// Status is the keyring, its KEK and the points per key.
type Status struct {
	KEK Description `json:"kek"`
	// Active is the id of the data key new points are sealed with ("" if none) by agents
	// that hold the fleet KEK; VMActive, by VM, that of each VM with keys of its own.
	Active   string            `json:"active"`
	VMActive map[string]string `json:"vmActive,omitempty"`
	Keys     []KeyStatus       `json:"keys"`
	Items    int               `json:"items"`
	Points   int               `json:"points"`
}

// Status describes the KEK, every data key (the keyring's records, local key files, and any
// key a point names that neither holds) with the points sealed with each, and tries to
// unwrap each record, so it doubles as a check that this process can reach the KEK. Points
// are counted from one listing of each item's points folder (vault.ListPointKeys).
func (r *Ring) Status(ctx context.Context) (*Status, error) {
	st := &Status{KEK: r.kek.Describe(ctx)}
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return nil, err
	}
	counts, items, err := CountPoints(ctx, r.repo)
	if err != nil {
		return nil, err
	}
	st.Items = items
	for _, n := range counts {
		st.Points += n
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		ks := KeyStatus{ID: rec.ID, Source: SourceKeyring, State: rec.State, Origin: rec.Origin, Provider: rec.Provider, KEK: rec.KEK,
			Algorithm: rec.Algorithm, Points: counts[rec.ID], Rewrapped: rec.Rewrapped, Scope: rec.Scope}
		if rec.VMWrap != nil {
			ks.VMKEK = rec.VMWrap.KEK
		}
		if rec.Scope != "" && rec.State == vault.KeyActive {
			if a := vault.ActiveKeyRecordOf(recs, rec.Scope); a != nil {
				if st.VMActive == nil {
					st.VMActive = map[string]string{}
				}
				st.VMActive[rec.Scope] = a.ID
			}
		}
		if rec.Origin != OriginKeyFile {
			c := rec.Created
			ks.Created = &c
		}
		if _, err := r.open(ctx, rec); err != nil {
			ks.Error = err.Error()
		} else {
			ks.Usable = true
		}
		st.Keys = append(st.Keys, ks)
		seen[rec.ID] = true
	}
	trusted, _, terr := r.trusted(ctx, recs) // a planted record is never shown as active
	if terr != nil {
		trusted = nil
	}
	if a := vault.ActiveKeyRecord(trusted); a != nil {
		st.Active = a.ID
	} else if len(r.order) > 0 {
		st.Active = r.order[0].ID()
	}
	for _, k := range r.order {
		if seen[k.ID()] {
			continue
		}
		state := vault.KeyRetired
		if st.Active == k.ID() {
			state = vault.KeyActive
		}
		st.Keys = append(st.Keys, KeyStatus{ID: k.ID(), Source: SourceKeyFile, State: state, Points: counts[k.ID()], Usable: true})
		seen[k.ID()] = true
	}
	var missing []string
	for id := range counts {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	for _, id := range missing {
		st.Keys = append(st.Keys, KeyStatus{ID: id, Source: SourceMissing, Points: counts[id], Error: unknownKey(id).Error()})
	}
	return st, nil
}

// CountPoints counts every item's recovery points by the data key they are sealed with:
// one listing of the items, then one of each item's points folder.
func CountPoints(ctx context.Context, repo *vault.Repository) (map[string]int, int, error) {
	items, err := repo.ListItems(ctx)
	if err != nil {
		return nil, 0, err
	}
	counts := map[string]int{}
	for _, item := range items {
		keys, err := repo.ListPointKeys(ctx, item)
		if err != nil && !errors.Is(err, vault.ErrNotFound) {
			return nil, 0, err
		}
		for _, id := range keys {
			counts[id]++
		}
	}
	return counts, len(items), nil
}
