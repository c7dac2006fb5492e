package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// An item lease serializes what changes an item's recovery points: the commit of a new
// point, retention's decide-then-delete, and stopping protection. Without it, retention
// decided from one listing and then deleted while a commit landed in between, and a commit
// could write a point after StopProtection had deleted the item (issue 11, item 7).
//
// The lease lives in the vault, beside the item, so every control worker (however many run)
// sees it, and it needs nothing of a store but a create-if-absent write (Azure's
// If-None-Match: *), which every store has. Leases are numbered:
//
//	v1/items/<item>/lease/<seq, 20 digits>.json
//
// The lease is the one with the highest number. To take it, a holder lists the lease blobs,
// and if the newest is released or expired, creates the next number with IfNoneMatch: only
// one of two contenders can create a given number. It then lists again and owns the lease
// only if its number is still the newest (a contender that listed before an older number was
// cleaned up may create that old number again, and finds itself behind). Older numbers are
// deleted after taking the lease. Releasing rewrites the holder's own blob as released.
//
// Expiry frees a lease whose holder died. A holder must stop writing when its lease expires:
// callers give a TTL at least as long as their context's deadline (the activity's
// StartToCloseTimeout), so the context ends first. Expiry is judged by the control workers'
// clocks, which are assumed to agree within a minute (the margin callers add).
const leaseFolder = "lease/"

// LeaseSchema is the lease record's schema.
const LeaseSchema = "sqlvault.lease/v1"

// ErrItemBusy: another operation holds the item's lease.
var ErrItemBusy = errors.New("vault: the item is leased by another operation")

// LeaseRecord is one lease blob.
type LeaseRecord struct {
	Schema     string    `json:"schema"`
	ItemID     string    `json:"itemId"`
	Holder     string    `json:"holder"`
	AcquiredAt time.Time `json:"acquiredAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	Released   bool      `json:"released,omitempty"`
}

// ItemLease is a held lease.
type ItemLease struct {
	r    *Repository
	blob string
	rec  LeaseRecord
}

func leasePrefix(itemID string) string { return ItemPrefix(itemID) + leaseFolder }

func leaseBlob(itemID string, seq uint64) string {
	return fmt.Sprintf("%s%020d.json", leasePrefix(itemID), seq)
}

// leases lists the item's lease numbers, ascending.
func (r *Repository) leases(ctx context.Context, itemID string) ([]uint64, error) {
	var out []uint64
	err := r.store.List(ctx, leasePrefix(itemID), func(b BlobInfo) error {
		name := strings.TrimSuffix(strings.TrimPrefix(b.Name, leasePrefix(itemID)), ".json")
		if n, err := strconv.ParseUint(name, 10, 64); err == nil && len(name) == 20 {
			out = append(out, n) // fixed width: name order is number order
		}
		return nil
	})
	return out, err
}

// AcquireItemLease takes the item's lease for holder until now+ttl, or returns ErrItemBusy
// (wrapped, naming the holder) when another holds it.
func (r *Repository) AcquireItemLease(ctx context.Context, itemID, holder string, now time.Time, ttl time.Duration) (*ItemLease, error) {
	if !ValidItemID(itemID) {
		return nil, fmt.Errorf("%w: item id %q", ErrInvalidManifest, itemID)
	}
	seqs, err := r.leases(ctx, itemID)
	if err != nil {
		return nil, fmt.Errorf("vault: list leases of %s: %w", itemID, err)
	}
	var next uint64 = 1
	if len(seqs) > 0 {
		last := seqs[len(seqs)-1]
		next = last + 1
		data, err := r.store.Get(ctx, leaseBlob(itemID, last))
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("%w: its lease changed while being read", ErrItemBusy)
		case err != nil:
			return nil, fmt.Errorf("vault: read lease of %s: %w", itemID, err)
		}
		var cur LeaseRecord
		if err := json.Unmarshal(data, &cur); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidManifest, leaseBlob(itemID, last), err)
		}
		if !cur.Released && now.Before(cur.ExpiresAt) {
			return nil, fmt.Errorf("%w (%s, until %s)", ErrItemBusy, cur.Holder, cur.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	l := &ItemLease{r: r, blob: leaseBlob(itemID, next), rec: LeaseRecord{Schema: LeaseSchema, ItemID: itemID, Holder: holder,
		AcquiredAt: now.UTC(), ExpiresAt: now.Add(ttl).UTC()}}
	data, err := json.Marshal(l.rec)
	if err != nil {
		return nil, err
	}
	if err := r.store.Put(ctx, l.blob, data, PutOptions{IfNoneMatch: true}); err != nil {
		if errors.Is(err, ErrExists) {
			return nil, fmt.Errorf("%w: another operation took it first", ErrItemBusy)
		}
		return nil, fmt.Errorf("vault: take lease of %s: %w", itemID, err)
	}
	after, err := r.leases(ctx, itemID)
	if err != nil || len(after) == 0 || after[len(after)-1] != next {
		_ = l.Release(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("vault: list leases of %s: %w", itemID, err)
		}
		return nil, fmt.Errorf("%w: another operation took a newer lease", ErrItemBusy)
	}
	for _, s := range after[:len(after)-1] {
		_ = r.store.Delete(ctx, leaseBlob(itemID, s)) // housekeeping; a failure only leaves a blob
	}
	return l, nil
}

// ExpiresAt is when the lease ends unless released first.
func (l *ItemLease) ExpiresAt() time.Time { return l.rec.ExpiresAt }

// Release gives the lease up (safe to call twice).
func (l *ItemLease) Release(ctx context.Context) error {
	if l.rec.Released {
		return nil
	}
	rec := l.rec
	rec.Released = true
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := l.r.store.Put(ctx, l.blob, data, PutOptions{}); err != nil {
		return fmt.Errorf("vault: release lease of %s: %w", rec.ItemID, err)
	}
	l.rec = rec
	return nil
}

// DeleteItem removes the item record and every lease blob of the item, this one included
// (which then counts as released): what is left of an item stopped with delete once its
// points are gone. The record goes first, so a crash in between leaves only lease blobs.
func (l *ItemLease) DeleteItem(ctx context.Context) error {
	if err := l.r.DeleteItem(ctx, l.rec.ItemID); err != nil {
		return err
	}
	seqs, err := l.r.leases(ctx, l.rec.ItemID)
	if err != nil {
		return err
	}
	for _, s := range seqs {
		if err := l.r.store.Delete(ctx, leaseBlob(l.rec.ItemID, s)); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	l.rec.Released = true
	return nil
}

// IsLeaseBlob reports whether name is an item lease blob: catalog state that is neither a
// point's data nor garbage (the newest one of an item stays, released, to carry the number).
func IsLeaseBlob(name string) bool {
	bn := parseBlobName(name)
	if bn.itemID == "" || bn.kind != "" {
		return false
	}
	rest := strings.TrimPrefix(name, leasePrefix(bn.itemID))
	return rest != name && len(rest) == 25 && strings.HasSuffix(rest, ".json")
}
