package control

import (
	"context"
	"errors"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// admitCommit is the commit's side of the item lease: it takes the item's lease and refuses
// a commit to an item whose protection was stopped (checkItemAcceptsCommits). The caller
// writes the manifest, then calls release. Under the lease, StopProtection's change of state
// and retention's deletions happen either wholly before the commit (which then sees the
// stopped item and writes nothing) or wholly after it (and see its point).
func (c *Control) admitCommit(ctx context.Context, in protocol.CommitInput) (release func(), err error) {
	l, err := c.acquireItemLease(ctx, in.ItemID, "commit "+in.PointID)
	if err != nil {
		return nil, err
	}
	if err := c.checkItemAcceptsCommits(ctx, in); err != nil {
		c.releaseItemLease(ctx, l)
		return nil, err
	}
	return func() { c.releaseItemLease(ctx, l) }, nil
}

// checkItemAcceptsCommits refuses a commit to a stopped item (ItemStopped). A database with
// no item record was never protected (an on-demand backup): it accepts commits. An item
// stopped with delete keeps its record (as a tombstone) until no backup started before the
// stop can still commit, so a late commit is refused rather than left without a record.
func (c *Control) checkItemAcceptsCommits(ctx context.Context, in protocol.CommitInput) error {
	// Unverified: a commit only adds a point, and this check can only refuse it. A record
	// that is not authenticated is taken at its word here (a legacy vault keeps backing up
	// until `vault upgrade`); what deletes, restores over or changes protection verifies.
	it, err := c.Vault.ItemUnverified(ctx, in.ItemID)
	switch {
	case errors.Is(err, vault.ErrItemNotFound):
		return nil
	case err != nil && unreadableRecord(err):
		return protocol.UserError(protocol.ErrUnreadableRecord,
			"the item record of %s cannot be read, so this commit cannot know whether protection was stopped: %v", in.Database, err)
	case err != nil:
		return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read item %s: %v", in.ItemID, err)
	case it.State != vault.ItemProtected:
		return protocol.UserError(protocol.ErrItemStopped,
			"protection of %s on %s was stopped (%s) while this backup ran, so no recovery point was recorded (its data is swept later); resume or configure protection before backing it up again",
			in.Database, in.Instance, it.State)
	}
	return nil
}
