package control

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// What changes an item's recovery points (a commit, retention's decide-then-delete, stopping
// protection) runs holding the item's lease in the vault (vault.ItemLease), so they happen
// one at a time: retention never deletes from a listing that a commit made stale, and a
// commit never lands after StopProtection decided the item's fate (issue 11, item 7).
//
// Why a lease in the vault rather than one per-item workflow that every change goes
// through: the vault is the source of truth and outlives Temporal's database; the lease
// needs no new long-lived workflow per item (2,000 of them, each continuing-as-new), and no
// change to the released Backup workflow's history: the commit activity takes it itself.

const (
	// defaultLeaseWait is how long an activity waits for a busy item before failing
	// retryably (ItemBusy); Temporal's retry then waits longer between attempts.
	defaultLeaseWait = 30 * time.Second
	// leaseMargin is added to the holder's deadline: clocks of control workers may differ
	// by this much.
	leaseMargin = time.Minute
	// leaseNoDeadline is the lease's length for a caller without a deadline (tests, tools).
	leaseNoDeadline = 15 * time.Minute
)

// acquireItemLease takes the item's lease for as long as ctx may run (plus a margin), waiting
// up to LeaseWait while another holds it.
func (c *Control) acquireItemLease(ctx context.Context, itemID, holder string) (*vault.ItemLease, error) {
	wait := c.LeaseWait
	if wait <= 0 {
		wait = defaultLeaseWait
	}
	ttl := leaseNoDeadline
	if d, ok := ctx.Deadline(); ok {
		ttl = time.Until(d) + leaseMargin
	}
	give := time.Now().Add(wait)
	poll := min(wait/10+time.Millisecond, time.Second)
	for {
		l, err := c.Vault.AcquireItemLease(ctx, itemID, holder, c.now(), ttl)
		switch {
		case err == nil:
			return l, nil
		case errors.Is(err, vault.ErrInvalidManifest):
			return nil, protocol.UserError(protocol.ErrUnreadableRecord, "the lease of item %s cannot be read: %v", itemID, err)
		case !errors.Is(err, vault.ErrItemBusy):
			return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "take the lease of item %s: %v", itemID, err)
		case time.Now().After(give):
			return nil, protocol.RetryableError(protocol.ErrItemBusy, err,
				"item %s is busy (another commit, retention or stop holds it): %v; retrying", itemID, err)
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, "waiting for the item's lease")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// releaseItemLease gives the lease back even when ctx has ended (the lease would otherwise
// only free itself at expiry).
func (c *Control) releaseItemLease(ctx context.Context, l *vault.ItemLease) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := l.Release(rctx); err != nil && c.Log != nil {
		c.Log.Warn("could not release an item lease; it frees itself when it expires", zap.Error(err),
			zap.Time("expires", l.ExpiresAt()))
	}
}

// withItemLease runs fn holding the item's lease.
func (c *Control) withItemLease(ctx context.Context, itemID, holder string, fn func(*vault.ItemLease) error) error {
	l, err := c.acquireItemLease(ctx, itemID, holder)
	if err != nil {
		return err
	}
	defer c.releaseItemLease(ctx, l)
	return fn(l)
}

// unreadableRecord reports an error of a vault record that exists and cannot be read or
// decoded: retrying cannot fix it, a person must look.
func unreadableRecord(err error) bool {
	return errors.Is(err, vault.ErrInvalidManifest) || errors.Is(err, vault.ErrUnknownSchema) || errors.Is(err, vault.ErrInvalidSummary)
}

// recordRefusal names the refusal of an item record or policy that could not be
// authenticated (vault.ErrUnauthenticated: legacy, or its MAC fails), or whose key could not
// be had (the KEK out of reach is retried; a data key the keyring lacks is not), with what
// it refused, "why" (e.g. "retention deletes nothing of item X"); nil for any other error,
// which the caller names as before.
func recordRefusal(err error, why string) error {
	switch {
	case errors.Is(err, keys.ErrKEKUnavailable): // first: it is also "not authenticated", for now
		return protocol.RetryableError(protocol.ErrKEKUnavailable, err, "%s: %v", why, err)
	case errors.Is(err, vault.ErrUnauthenticated):
		return protocol.UserError(protocol.ErrUnauthenticated, "%s: %v", why, err)
	case errors.Is(err, vault.ErrNoKey), errors.Is(err, keys.ErrNoDataKey), errors.Is(err, keys.ErrUnknownDataKey), errors.Is(err, keys.ErrDataKeyMismatch):
		return protocol.UserError(protocol.ErrDataKeyUnavailable, "%s: %v", why, err)
	}
	return nil
}
