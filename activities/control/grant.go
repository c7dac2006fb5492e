package control

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
)

// KeyDeliverer delivers data keys to a VM with keys of its own (keys.Ring.Deliver): nil when
// the VM has none, with the carrier key the step's grant is then sealed with.
type KeyDeliverer interface {
	Deliver(ctx context.Context, vm string, ids []string) (*protocol.DataKeyDelivery, *blockcrypt.Key, error)
	// KeyScope is the VM a data key belongs to ("" for a fleet key).
	KeyScope(ctx context.Context, id string) (string, error)
	// FleetRecords are the keyring records of keys ids and of the fleet's active key, as
	// stored, for a step on a VM without keys of its own (keys.Ring.FleetRecords).
	FleetRecords(ctx context.Context, ids []string) (*protocol.FleetKeyRecords, error)
}

// MintVaultGrant mints the storage grant of one agent step (package grant): for a backup,
// create/write/read on the point's own stripes of every attempt; for a restore, read on the
// points' manifests and stripes. For a step on a VM whose agent holds its own KEK (in.VM, with
// keys of its own in the keyring), the grant also carries the data keys the step needs,
// which only that VM's KEK opens (keys.Ring.Deliver: the points' keys for a restore, the
// VM's active key for a backup), and is sealed with the VM's key. It returns nil when this
// worker can neither mint (no key or no account key) nor deliver: the agent then uses its
// own credential and keys, or, holding none, refuses by name.
func (c *Control) MintVaultGrant(ctx context.Context, in protocol.MintGrantInput) (*protocol.VaultGrant, error) {
	deliver := in.VM != "" && c.KeyDelivery != nil
	if c.Grants == nil && !deliver {
		return nil, nil
	}
	if !vault.ValidItemID(in.ItemID) || len(in.PointIDs) == 0 {
		return nil, protocol.UserError(protocol.ErrInvalidInput, "vault grant: item %q with %d points is not a step's", in.ItemID, len(in.PointIDs))
	}
	for _, p := range in.PointIDs {
		if _, _, err := vault.ParsePointID(p); err != nil {
			return nil, protocol.UserError(protocol.ErrInvalidInput, "vault grant: %v", err)
		}
	}
	var blobs, keyIDs []string
	switch in.Op {
	case protocol.GrantBackup:
		if len(in.PointIDs) != 1 || in.Stripes < 1 || in.Attempts < 1 {
			return nil, protocol.UserError(protocol.ErrInvalidInput,
				"vault grant: a backup grant is for one point with at least one stripe and attempt (got %d points, %d stripes, %d attempts)",
				len(in.PointIDs), in.Stripes, in.Attempts)
		}
		blobs = grant.BackupBlobs(in.ItemID, in.PointIDs[0], in.Stripes, in.Attempts)
	case protocol.GrantRestore:
		for _, p := range in.PointIDs {
			m, err := c.Vault.Manifest(ctx, in.ItemID, p)
			if errors.Is(err, vault.ErrUnauthenticated) {
				// Never retried: no grant (nor key) is handed out on the word of a manifest
				// the vault key does not vouch for.
				return nil, protocol.UserError(protocol.ErrUnauthenticated, "vault grant: point %s of %s: %v", p, in.ItemID, err)
			}
			if err != nil {
				return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "vault grant: read point %s: %v", p, err)
			}
			blobs = append(blobs, grant.RestoreBlobs(m)...)
			keyIDs = append(keyIDs, m.Encryption.KeyID)
		}
	default:
		return nil, protocol.UserError(protocol.ErrInvalidInput, "vault grant: unknown operation %q", in.Op)
	}
	var delivery *protocol.DataKeyDelivery
	minter := c.Grants
	if deliver && c.RefuseCrossVMKeys && in.Op == protocol.GrantRestore {
		if err := c.refuseCrossVM(ctx, in, keyIDs); err != nil {
			return nil, err
		}
	}
	if deliver {
		d, carrier, err := c.KeyDelivery.Deliver(ctx, in.VM, keyIDs)
		if err != nil {
			return nil, controlKeyError(err, "deliver the data keys of "+in.Op+" of "+in.ItemID+" to VM "+in.VM)
		}
		if d != nil && minter != nil {
			// Sealed with the VM's own key, which the agent opens from the delivery.
			m := *minter
			m.Key = carrier
			minter = &m
		}
		delivery = d
	}
	if minter == nil {
		if delivery == nil {
			return nil, nil
		}
		return &protocol.VaultGrant{Keys: delivery}, nil
	}
	g, err := minter.Mint(in.Op, in.ItemID, in.PointIDs, blobs, in.Valid)
	if err != nil {
		return nil, protocol.UserError(protocol.ErrInvalidInput, "vault grant: %v", err)
	}
	g.Keys = delivery
	if deliver && delivery == nil {
		// A VM on the fleet's keys: an agent of it without a vault credential cannot read
		// the keyring, so the step's records come with its grant (the fleet's active key
		// for a backup, the points' keys for a restore).
		fr, err := c.KeyDelivery.FleetRecords(ctx, keyIDs)
		if err != nil {
			return nil, controlKeyError(err, "hand the keyring records of "+in.Op+" of "+in.ItemID+" to VM "+in.VM)
		}
		g.FleetKeys = fr
	}
	c.Log.Debug("minted vault grant", zap.String("op", in.Op), zap.String("item", in.ItemID), zap.Int("blobs", len(blobs)),
		zap.Bool("keysDelivered", delivery != nil))
	return g, nil
}

// controlKeyError names a failure to deliver data keys: the fleet KEK out of reach
// (KEKUnavailable, retried: access may come back), a key the keyring does not hold or a
// record that does not verify (DataKeyUnavailable: an operator must act), else the vault.
func controlKeyError(err error, what string) error {
	switch {
	case errors.Is(err, keys.ErrKEKUnavailable):
		return protocol.RetryableError(protocol.ErrKEKUnavailable, err, "%s: %v", what, err)
	case errors.Is(err, keys.ErrNoDataKey), errors.Is(err, keys.ErrUnknownDataKey), errors.Is(err, keys.ErrDataKeyMismatch):
		return protocol.UserError(protocol.ErrDataKeyUnavailable, "%s: %v", what, err)
	}
	return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "%s: %v", what, err)
}

// refuseCrossVM refuses a restore onto in.VM of a point sealed with another VM's data key
// (key.crossVMRestores: refuse): an agent that can start workflows could otherwise restore
// any VM's backup onto its own VM and be handed the key. Fleet keys are still delivered —
// they seal the points taken before the VMs had keys of their own, and every agent on the
// fleet KEK opens them anyway.
func (c *Control) refuseCrossVM(ctx context.Context, in protocol.MintGrantInput, keyIDs []string) error {
	target := vault.KeyScope(in.VM)
	for i, id := range keyIDs {
		scope, err := c.KeyDelivery.KeyScope(ctx, id)
		if err != nil {
			return controlKeyError(err, "read the scope of data key "+id)
		}
		if scope != "" && scope != target {
			return protocol.UserError(protocol.ErrCrossVMRestoreRefused,
				"restore of point %s of %s onto VM %s: the point is sealed with VM %s's data key %s, and this control worker refuses to hand a VM's keys to another (key.crossVMRestores: refuse); "+
					"restore it onto VM %s, or set key.crossVMRestores: allow on the control worker for the restore",
				in.PointIDs[min(i, len(in.PointIDs)-1)], in.ItemID, target, scope, id, scope)
		}
	}
	return nil
}
