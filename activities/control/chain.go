package control

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/domain"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// BackupChainState computes the chain state a scheduled log or differential backup of the
// database must continue, from the item's point summaries (one listing) and its policy, so
// the agent's check before the backup (PrepareBackup with AutoFull) reads nothing from the
// vault. The item is the one the schedule named (in.ItemID: for a database in an
// availability group, the group's item), else the one the workflow's instance and database
// name. An item with no record (a database backed up on demand only) gets the state of its
// points, without a bound on the full's age.
func (c *Control) BackupChainState(ctx context.Context, in protocol.ChainStateInput) (*protocol.ChainState, error) {
	item := vault.ItemID(in.Instance, in.Database)
	if in.ItemID != "" {
		if !vault.ValidItemID(in.ItemID) {
			return nil, protocol.UserError(protocol.ErrInvalidInput, "itemId %q is not an item ID (i followed by 24 hex digits): leave it out, the schedules set it", in.ItemID)
		}
		item = in.ItemID
	}
	it, err := c.Vault.Item(ctx, item)
	var maxAge time.Duration
	switch {
	case errors.Is(err, vault.ErrItemNotFound):
		// Not protected (on-demand backups only): the points still say what a
		// differential can be based on, and no policy bounds the full's age.
	case recordRefusal(err, "") != nil:
		// The record only bounds the full's age: without it, as for an unprotected
		// database, no bound (the agent's own check takes a full when it must).
		it, err = nil, nil
		if c.Log != nil {
			c.Log.Warn("chain state: the item record is not authenticated; no bound on the full's age", zap.String("item", item))
		}
	case err != nil && unreadableRecord(err):
		return nil, protocol.UserError(protocol.ErrUnreadableRecord, "the item record of %s cannot be read (look at it in the vault): %v", item, err)
	case err != nil:
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read item: %v", err)
	}
	sums, err := c.Vault.ListPointSummaries(ctx, item)
	if err != nil {
		if unreadableRecord(err) {
			return nil, protocol.UserError(protocol.ErrUnreadableRecord, "a recovery point of %s cannot be read (look at it in the vault): %v", item, err)
		}
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list the recovery points of %s: %v", in.Database, err)
	}
	// Only authenticated summaries: a point planted or edited by someone without the key
	// must not decide what a differential or log backup continues. An unauthenticated
	// full left out at worst makes the backup a full.
	sums, skipped := authenticatedOnly(sums, false)
	if len(skipped) > 0 && c.Log != nil {
		c.Log.Warn("chain state left out unauthenticated recovery points", zap.String("item", item), zap.Strings("skipped", skipped))
	}
	points := make([]domain.Point, len(sums))
	for i := range sums {
		points[i] = sums[i].Point()
	}
	if it != nil {
		maxAge = c.fullMaxAge(ctx, it.Policy)
	}
	return protocol.NewChainState(item, domain.ChainStateOf(points), maxAge), nil
}

// fullMaxAge is the policy's bound on the newest full's age; 0 (no bound) when the policy
// cannot be read, as the agent's check always had it: a missing bound takes no full, and
// the policy's own errors surface where it is applied.
func (c *Control) fullMaxAge(ctx context.Context, name string) time.Duration {
	doc, err := c.Vault.Policy(ctx, name)
	if err != nil {
		return 0
	}
	var p policy.Policy
	if json.Unmarshal(doc, &p) != nil {
		return 0
	}
	return p.FullMaxAge()
}
