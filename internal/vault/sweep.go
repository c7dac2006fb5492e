package vault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
)

// SweepReport is what Sweep did (or, in a dry run, would do). Every data and index blob it
// saw is in exactly one of Deleted and Kept, with the reason.
type SweepReport struct {
	DryRun       bool
	Deleted      []SweepEntry // deleted, or to be deleted when DryRun
	Kept         []SweepEntry
	DeletedBytes int64
	// Orphaned names points ("item/point") that have a manifest although Sweep deleted
	// some of their blobs: the check after deleting found a commit that raced the sweep.
	// With conditional deletes and commits that touch their stripes it stays empty; if not,
	// Sweep also returns ErrOrphanedPoint, so an operator learns of it at once.
	Orphaned []string
}

// ErrOrphanedPoint: Sweep deleted a blob of a point whose manifest exists.
var ErrOrphanedPoint = errors.New("vault: sweep deleted data of a recovery point that exists")

// ErrNegativeGrace: Sweep was given a negative grace period, which would delete the stripes
// of backups in flight.
var ErrNegativeGrace = errors.New("vault: sweep grace period is negative")

// SweepEntry is one blob and why it was deleted or kept.
type SweepEntry struct {
	Name         string
	Size         int64
	LastModified time.Time
	Reason       string
}

// Reasons in a SweepReport.
const (
	ReasonReferenced         = "referenced by the point's manifest"
	ReasonYoung              = "younger than the grace period (backup may be in flight)"
	ReasonUnreadableManifest = "the item has a manifest this build cannot read"
	ReasonUnknownName        = "name outside the vault layout"
	ReasonNoManifest         = "orphan: the point has no manifest"
	ReasonUnreferenced       = "orphan: the point's manifest does not reference it"
	ReasonChanged            = "written since it was listed (a commit is adopting it)"
	// ReasonUnauthenticated: the point's manifest is legacy or fails authentication, so
	// what it references is not known for sure; nothing of the point is deleted on its word.
	ReasonUnauthenticated = "the point's manifest is not authenticated (legacy or tampered)"
)

// Sweep deletes garbage: data and index blobs under v1/items/*/data/<pointID>/ that no
// manifest references and that are older than grace (measured from LastModified to now).
//
// What makes it safe to run beside live backups:
//   - a blob younger than grace is never deleted, so grace must exceed the longest time from
//     a stripe's commit to its manifest's commit (a day is generous);
//   - a blob a manifest references is never deleted, and manifests are re-read just before
//     deleting a point's blobs, so one committed during the sweep still protects them;
//   - the delete is conditional on the ETag the listing saw (Store.DeleteIfMatch), and a
//     commit touches its stripes before it verifies them (CommitManifest): a commit that
//     raced past the re-read has changed the ETag, and the delete is refused;
//   - after deleting, each affected point's manifest is read once more, and any that exists
//     is reported (SweepReport.Orphaned, ErrOrphanedPoint);
//   - if any manifest of an item cannot be read (corrupt, or a newer schema), nothing of that
//     item is deleted: we cannot know what it references;
//   - nothing of a point whose manifest is not authenticated (legacy, or its MAC fails) is
//     deleted: a manifest changed by someone without the key could drop references to
//     make its point's data look like garbage.
//
// Manifests and item records are never touched (retention deletes points, not Sweep).
// Deletion errors do not stop the sweep; they are joined into the returned error.
func (r *Repository) Sweep(ctx context.Context, now time.Time, grace time.Duration, dryRun bool) (SweepReport, error) {
	rep := SweepReport{DryRun: dryRun}
	if grace < 0 {
		return rep, fmt.Errorf("%w (%s): give the time a backup's stripes may wait for their commit", ErrNegativeGrace, grace)
	}
	type pointKey struct{ item, point string }
	manifests := map[pointKey]bool{}
	var data []BlobInfo
	err := r.store.List(ctx, ItemsPrefix, func(b BlobInfo) error {
		bn := parseBlobName(b.Name)
		switch {
		case bn.kind == "manifest":
			manifests[pointKey{bn.itemID, bn.pointID}] = true
		case bn.kind == "data" || bn.kind == "index":
			data = append(data, b)
		case bn.kind == "" && bn.pointID != "":
			data = append(data, b) // an unexpected name in a data folder: reported below
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("vault: sweep: list: %w", err)
	}

	// Read every manifest up front: references, and which items and points are off limits.
	refs := map[string]bool{}
	unreadable := map[string]bool{}
	unauthenticated := map[pointKey]bool{}
	// read reads a manifest; false when it is gone. Unreadable items and unauthenticated
	// points are noted.
	read := func(k pointKey) (*Manifest, bool) {
		m, auth, err := r.readManifest(ctx, k.item, k.point, true)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, false // deleted by retention since the listing
		case errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrNoKey):
			r.log.Warn("sweep: manifest not authenticated, keeping the point's blobs",
				zap.String("item", k.item), zap.String("point", k.point), zap.Error(err))
			unauthenticated[k] = true
			return nil, true
		case err != nil:
			r.log.Warn("sweep: unreadable manifest, keeping the item's blobs",
				zap.String("item", k.item), zap.String("point", k.point), zap.Error(err))
			unreadable[k.item] = true
			return nil, true
		}
		if auth == authLegacy {
			unauthenticated[k] = true
		}
		return m, true
	}
	for k := range manifests {
		m, _ := read(k)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if m != nil {
			addRefs(refs, m)
		}
	}

	var errs []error
	rechecked := map[pointKey]bool{}
	deletedFrom := map[pointKey][]string{} // blobs deleted (or maybe deleted) per point
	for _, b := range data {
		bn := parseBlobName(b.Name)
		entry := SweepEntry{Name: b.Name, Size: b.Size, LastModified: b.LastModified}
		keep := func(reason string) {
			entry.Reason = reason
			rep.Kept = append(rep.Kept, entry)
		}
		switch {
		case refs[b.Name]:
			keep(ReasonReferenced)
			continue
		case unreadable[bn.itemID]:
			keep(ReasonUnreadableManifest)
			continue
		case unauthenticated[pointKey{bn.itemID, bn.pointID}]:
			keep(ReasonUnauthenticated)
			continue
		case bn.kind == "":
			keep(ReasonUnknownName)
			continue
		case now.Sub(b.LastModified) < grace:
			keep(ReasonYoung)
			continue
		}
		k := pointKey{bn.itemID, bn.pointID}
		if !rechecked[k] {
			// Close the race with a commit that happened after the listing.
			rechecked[k] = true
			if m, exists := read(k); exists {
				manifests[k] = true
				if m != nil {
					addRefs(refs, m)
				}
			}
		}
		if refs[b.Name] {
			keep(ReasonReferenced)
			continue
		}
		if unreadable[k.item] {
			keep(ReasonUnreadableManifest)
			continue
		}
		if unauthenticated[k] {
			keep(ReasonUnauthenticated)
			continue
		}
		entry.Reason = ReasonNoManifest
		if manifests[k] {
			entry.Reason = ReasonUnreferenced
		}
		if !dryRun {
			err := r.store.DeleteIfMatch(ctx, b.Name, b.ETag)
			if errors.Is(err, ErrChanged) {
				keep(ReasonChanged)
				continue
			}
			deletedFrom[k] = append(deletedFrom[k], b.Name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				errs = append(errs, fmt.Errorf("vault: sweep: delete %s: %w", b.Name, err))
				keep("delete failed: " + err.Error())
				continue
			}
			r.log.Info("sweep: deleted", zap.String("blob", b.Name), zap.Int64("size", b.Size), zap.String("reason", entry.Reason))
		}
		rep.Deleted = append(rep.Deleted, entry)
		rep.DeletedBytes += b.Size
	}
	// The check after the fact: a point whose manifest now references a blob this sweep
	// deleted has lost data (an attempt's unreferenced stripes of a committed point are fine).
	for k, names := range deletedFrom {
		m, _, err := r.ManifestOrLegacy(ctx, k.item, k.point)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vault: sweep: re-check point %s/%s after deleting its blobs: %w", k.item, k.point, err))
			continue
		}
		mine := map[string]bool{}
		addRefs(mine, m)
		for _, n := range names {
			if mine[n] {
				r.log.Error("sweep: deleted a blob of a recovery point that exists", zap.String("item", k.item),
					zap.String("point", k.point), zap.String("blob", n))
				rep.Orphaned = append(rep.Orphaned, k.item+"/"+k.point)
				errs = append(errs, fmt.Errorf("%w: %s/%s (%s)", ErrOrphanedPoint, k.item, k.point, n))
				break
			}
		}
	}
	slices.Sort(rep.Orphaned)
	return rep, errors.Join(errs...)
}

func addRefs(refs map[string]bool, m *Manifest) {
	for _, s := range m.Stripes {
		refs[s.Blob] = true
		refs[s.Index] = true
	}
}
