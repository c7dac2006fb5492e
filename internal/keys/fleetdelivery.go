package keys

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Fleet records for agents that cannot read the keyring. An agent without a vault credential
// (agent.vaultAccess: grant) holding the fleet KEK (the key file, or the Key Vault key) would
// otherwise know only the key file's key: after `key rotate` it would go on sealing new points
// with the retired key, and could not restore points sealed with the new one. The control side
// hands each of its steps the keyring records the step needs, exactly as stored — wrapped under
// the fleet KEK, signed where the KEK needs it — which the agent opens with its own KEK and
// checks like records it read (signature, id). They carry nothing an agent with the fleet KEK
// could not read from the keyring itself.

// FleetRecords are the fleet keyring records of the data keys ids and of the fleet's active
// key, for a step on a VM without keys of its own. Keys the keyring does not hold (a key file
// from before the keyring) and VM-scoped keys are left out. Only the fleet's ring hands them.
func (r *Ring) FleetRecords(ctx context.Context, ids []string) (*protocol.FleetKeyRecords, error) {
	if err := r.needFleet("handing out keyring records"); err != nil {
		return nil, err
	}
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return nil, err
	}
	recs = slices.DeleteFunc(slices.Clone(recs), func(rec *vault.KeyRecord) bool { return rec.Scope != "" })
	trusted, _, err := r.trusted(ctx, recs)
	if err != nil {
		return nil, err
	}
	out := &protocol.FleetKeyRecords{}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	if a := vault.ActiveKeyRecordOf(trusted, ""); a != nil {
		out.Active = a.ID
		want[a.ID] = true
	}
	for _, rec := range trusted {
		if !want[rec.ID] {
			continue
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("keys: data key record %s: %w", rec.ID, err)
		}
		out.Records = append(out.Records, data)
	}
	if out.Active == "" && len(out.Records) == 0 {
		return nil, nil
	}
	return out, nil
}

// AcceptRecords opens fleet keyring records handed to a step (FleetRecords) through the
// ring's own KEK, with the checks of records read from the keyring: a valid record of its
// id, fleet-scoped, signed where the KEK needs it, unwrapping to the key of its id. The
// result serves those keys, then the ring's own; its active key is the delivery's active
// key, else the ring's.
func (r *Ring) AcceptRecords(ctx context.Context, d *protocol.FleetKeyRecords) (Source, error) {
	if r.scope != "" {
		return nil, fmt.Errorf("%w: fleet keyring records handed to VM %s's own ring (key.scope: vm)", ErrDeliveryRefused, r.scope)
	}
	s := &delivered{ring: r, byID: map[string]*blockcrypt.Key{}}
	for _, raw := range d.Records {
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("%w: %w: a handed keyring record does not decode: %v", ErrDataKeyMismatch, ErrDeliveryRefused, err)
		}
		rec, err := vault.DecodeKeyRecord(head.ID, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w: %v", ErrDataKeyMismatch, ErrDeliveryRefused, err)
		}
		if rec.Scope != "" {
			return nil, fmt.Errorf("%w: %w: handed record %s is VM %s's, not the fleet's", ErrDataKeyMismatch, ErrDeliveryRefused, rec.ID, rec.Scope)
		}
		k, err := r.open(ctx, rec) // signature, unwrap, id check; kept like any fleet key
		if err != nil {
			return nil, err
		}
		s.byID[k.ID()] = k
	}
	if d.Active != "" {
		s.active = s.byID[d.Active]
		if s.active == nil {
			return nil, fmt.Errorf("%w: %w: the handed active key %s came without its record", ErrDataKeyMismatch, ErrDeliveryRefused, d.Active)
		}
		return s, nil
	}
	a, err := r.Active(ctx)
	if err != nil {
		return nil, err
	}
	s.active = a
	return s, nil
}
