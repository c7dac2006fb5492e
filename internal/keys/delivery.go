package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Delivery of data keys to a VM's agent. An agent with its own VM's KEK (key.scope: vm)
// opens only its VM's keys from the keyring, and an agent without a vault credential cannot
// read the keyring at all; yet a restore onto that VM may need another VM's or the fleet's
// key, and a grant-only agent needs its own. The control side, which opens every key through
// the fleet KEK, hands the step the keys it needs inside its grant, for that VM alone:
//
//   - the carrier: the VM's active data key exactly as the keyring wraps it under the VM's
//     own KEK (copied from the record's VM wrapping, so the control side needs no access to
//     the VM's KEK at all);
//   - every other key, sealed with the carrier key, its associated data binding it to the VM,
//     the carrier and its own id.
//
// Only the VM's KEK opens the carrier, so workflow history holds ciphertext that only that
// VM's agent opens; the agent checks every key's id (unwrapChecked, and again after opening).

// deliveryAAD binds a delivered key to its VM, carrier and id.
func deliveryAAD(vm, carrierID, id string) []byte {
	return []byte("sqlvault delivered data key v1\x00" + vm + "\x00" + carrierID + "\x00" + id)
}

// ErrDeliveryRefused: a delivery of data keys does not open here: made for another VM, or
// altered. It also matches ErrDataKeyMismatch (DataKeyUnavailable).
var ErrDeliveryRefused = errors.New("keys: delivered data keys refused")

// Deliver is the delivery of the data keys ids (duplicates and the carrier itself left out)
// for the agent of VM vm, and the carrier key, which the control side seals the step's grant
// with (the agent opens it first). It is nil, with no error, when vm has no data key of its
// own: its agent holds the fleet KEK and opens every key itself. Only the fleet's ring
// delivers.
func (r *Ring) Deliver(ctx context.Context, vm string, ids []string) (*protocol.DataKeyDelivery, *blockcrypt.Key, error) {
	if err := r.needFleet("delivering data keys"); err != nil {
		return nil, nil, err
	}
	scope := vault.KeyScope(vm)
	if scope == "" {
		return nil, nil, nil
	}
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return nil, nil, err
	}
	c := vault.ActiveKeyRecordOf(recs, scope)
	if c == nil {
		return nil, nil, nil
	}
	carrier, err := r.open(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	d := &protocol.DataKeyDelivery{VM: scope, CarrierID: c.ID, Provider: c.VMWrap.Provider, KEK: c.VMWrap.KEK,
		Algorithm: c.VMWrap.Algorithm, Wrapped: slices.Clone(c.VMWrap.Wrapped)}
	byID := map[string]*vault.KeyRecord{}
	for _, rec := range recs {
		byID[rec.ID] = rec
	}
	seen := map[string]bool{c.ID: true}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		raw, err := r.rawKey(ctx, id, byID[id])
		if err != nil {
			return nil, nil, err
		}
		sealed, err := carrier.Seal(nil, raw, deliveryAAD(scope, c.ID, id), false)
		clear(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("keys: seal data key %s for VM %s: %w", id, scope, err)
		}
		d.Keys = append(d.Keys, protocol.DeliveredKey{ID: id, Sealed: sealed})
	}
	return d, carrier, nil
}

// rawKey is the raw data key id: rec's fleet wrapping unwrapped, or a key file the ring
// serves (a point sealed before the keyring). The caller clears it.
func (r *Ring) rawKey(ctx context.Context, id string, rec *vault.KeyRecord) ([]byte, error) {
	if rec != nil {
		raw, _, err := r.unwrapRaw(ctx, r.kek, rec)
		return raw, err
	}
	if r.local[id] != nil {
		for _, path := range r.files {
			raw, k, err := readKeyFile(path)
			if err != nil {
				return nil, err
			}
			if k.ID() == id {
				return raw, nil
			}
			clear(raw)
		}
	}
	return nil, unknownKey(id)
}

// Accept opens a delivery made for this VM's ring (NewVMRing): the carrier through the VM's
// own KEK, then each key with the carrier, checking every id. The result serves the
// delivered keys, then the ring's own; its active key is the carrier, the VM's active key
// when the control side made the delivery.
func (r *Ring) Accept(ctx context.Context, d *protocol.DataKeyDelivery) (Source, error) {
	if r.scope == "" || d.VM != r.scope {
		return nil, fmt.Errorf("%w: %w: the keys were delivered for VM %q, and this agent is VM %q with its own KEK", ErrDataKeyMismatch, ErrDeliveryRefused, d.VM, r.scope)
	}
	// The carrier is one of this VM's own keys: once opened (from the keyring or an earlier
	// delivery) it is kept like any of them, so a Key Vault KEK is asked once per process,
	// not once per step. The other keys are the step's alone and are never kept.
	r.mu.Lock()
	carrier := r.keys[d.CarrierID]
	r.mu.Unlock()
	if carrier == nil {
		raw, k, err := unwrapChecked(ctx, r.kek, d.CarrierID, d.Provider, Wrapped{KEK: d.KEK, Algorithm: d.Algorithm, Value: d.Wrapped})
		clear(raw)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.keys[k.ID()] = k
		r.mu.Unlock()
		carrier = k
	}
	s := &delivered{ring: r, active: carrier, byID: map[string]*blockcrypt.Key{carrier.ID(): carrier}}
	for _, dk := range d.Keys {
		raw, err := carrier.Open(nil, dk.Sealed, deliveryAAD(d.VM, d.CarrierID, dk.ID))
		if err != nil {
			return nil, fmt.Errorf("%w: %w: data key %s does not open with VM %s's key %s (made for another step or VM, or altered)", ErrDataKeyMismatch, ErrDeliveryRefused, dk.ID, d.VM, d.CarrierID)
		}
		k, err := blockcrypt.NewKey(raw)
		clear(raw)
		if err != nil || k.ID() != dk.ID {
			return nil, fmt.Errorf("%w: %w: delivered data key %s is not the key of that id", ErrDataKeyMismatch, ErrDeliveryRefused, dk.ID)
		}
		s.byID[k.ID()] = k
	}
	return s, nil
}

// delivered is a step's key source on a VM's agent: the delivered keys, then the ring's.
type delivered struct {
	ring   *Ring
	active *blockcrypt.Key
	byID   map[string]*blockcrypt.Key
}

func (s *delivered) Active(context.Context) (*blockcrypt.Key, error) { return s.active, nil }

func (s *delivered) Key(ctx context.Context, id string) (*blockcrypt.Key, error) {
	if k := s.byID[id]; k != nil {
		return k, nil
	}
	return s.ring.Key(ctx, id)
}

// KeyScope is the scope of data key id as its keyring record says: a VM's name, or "" for a
// fleet key (and for a local key file, which the keyring may not hold). The control side
// asks it before it delivers a key across VMs (key.crossVMRestores: refuse).
func (r *Ring) KeyScope(ctx context.Context, id string) (string, error) {
	recs, err := r.repo.ListKeyRecords(ctx, &r.records)
	if err != nil {
		return "", err
	}
	for _, rec := range recs {
		if rec.ID == id {
			return rec.Scope, nil
		}
	}
	return "", nil
}
