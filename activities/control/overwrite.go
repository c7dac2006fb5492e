package control

import (
	"context"
	"errors"
	"strings"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// CheckOverwrite lets an overwrite restore go ahead only when the target database is not
// under active protection, or the request names its item's current protection tag
// (protocol.ProtectionTag): whoever can start a workflow can ask for an overwrite, but
// replacing a protected database also takes having read its state from the vault. The
// message never holds the current tag.
//
// The target's item is found by its id and, failing that, by instance and database name
// regardless of case: on a case-insensitive server "salesdb" is SalesDB, and a request
// must not get past the check by spelling the name differently.
func (c *Control) CheckOverwrite(ctx context.Context, in protocol.CheckOverwriteInput) error {
	items, err := c.overwriteTargets(ctx, in.TargetInstance, in.TargetDatabase)
	if err != nil {
		return err
	}
	var active []*vault.ProtectedItem
	for _, it := range items {
		if it.State == vault.ItemProtected {
			active = append(active, it)
		}
	}
	if len(active) == 0 {
		return nil // no protected item, or protection is stopped: nothing to confirm
	}
	for _, it := range active {
		if in.ProtectionTag != "" && in.ProtectionTag == protocol.ProtectionTag(it.ItemID, it.State, it.UpdatedAt) {
			return nil
		}
	}
	it := active[0]
	why := "the request names no protection tag"
	if in.ProtectionTag != "" {
		why = "the protection tag the request names (" + protocol.SafeForComment(in.ProtectionTag) + ") is not the item's current one: its protection changed since it was read, or it was never this item's"
	}
	return protocol.UserError(protocol.ErrProtectedOverwrite,
		"%s on %s is under active protection (item %s, policy %s) and %s: an overwrite restore of a protected database must name the item's current protection tag, which only someone who can read the vault sees: `sqlvault restore --overwrite` reads and sends it itself; with the Temporal CLI put the \"protectionTag\" that `sqlvault status --json` shows for the database into the input. Or restore under another name (targetDatabase), or stop protection first",
		it.Database, it.Instance, it.ItemID, it.Policy, why)
}

// overwriteTargets are the item records of database db on instance (see CheckOverwrite).
func (c *Control) overwriteTargets(ctx context.Context, instance, db string) ([]*vault.ProtectedItem, error) {
	it, err := c.Vault.Item(ctx, protocol.ItemID(instance, db))
	switch {
	case err == nil:
		return []*vault.ProtectedItem{it}, nil
	case errors.Is(err, vault.ErrItemNotFound):
	case recordRefusal(err, "") != nil:
		return nil, recordRefusal(err, "the overwrite of "+db+" on "+instance+" is refused: its item record is not authenticated")
	case unreadableRecord(err):
		return nil, protocol.UserError(protocol.ErrUnreadableRecord, "the item record of %s on %s cannot be read, so the overwrite is refused (look at it in the vault): %v", db, instance, err)
	default:
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read item: %v", err)
	}
	all, err := c.Vault.Items(ctx)
	if err != nil {
		if unreadableRecord(err) {
			return nil, protocol.UserError(protocol.ErrUnreadableRecord, "an item record cannot be read, so the overwrite of %s on %s is refused (look at it in the vault): %v", db, instance, err)
		}
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list items: %v", err)
	}
	var out []*vault.ProtectedItem
	for _, it := range all {
		if strings.EqualFold(it.Instance, instance) && strings.EqualFold(it.Database, db) {
			if it.Unauthenticated != "" {
				return nil, protocol.UserError(protocol.ErrUnauthenticated,
					"the overwrite of %s on %s is refused: the item record of %s (%s) is not authenticated: %s", db, instance, it.ItemID, it.Database, it.Unauthenticated)
			}
			out = append(out, it)
		}
	}
	return out, nil
}
