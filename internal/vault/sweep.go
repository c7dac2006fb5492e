package vault

import (
	"context"
	"errors"
	"fmt"
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
}

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
)

// Sweep deletes garbage: data and index blobs under v1/items/*/data/<pointID>/ that no
// manifest references and that are older than grace (measured from LastModified to now).
//
// What makes it safe to run beside live backups:
//   - a blob younger than grace is never deleted, so grace must exceed the longest time from
//     a stripe's commit to its manifest's commit (a day is generous);
//   - a blob a manifest references is never deleted, and manifests are re-read just before
//     deleting a point's blobs, so one committed during the sweep still protects them;
//   - if any manifest of an item cannot be read (corrupt, or a newer schema), nothing of that
//     item is deleted: we cannot know what it references.
//
// Manifests and item records are never touched (retention deletes points, not Sweep).
// Deletion errors do not stop the sweep; they are joined into the returned error.
func (r *Repository) Sweep(ctx context.Context, now time.Time, grace time.Duration, dryRun bool) (SweepReport, error) {
	rep := SweepReport{DryRun: dryRun}
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

	// Read every manifest up front: references, and which items are off limits.
	refs := map[string]bool{}
	unreadable := map[string]bool{}
	for k := range manifests {
		m, err := r.Manifest(ctx, k.item, k.point)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // deleted by retention since the listing
			}
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			r.log.Warn("sweep: unreadable manifest, keeping the item's blobs",
				zap.String("item", k.item), zap.String("point", k.point), zap.Error(err))
			unreadable[k.item] = true
			continue
		}
		addRefs(refs, m)
	}

	var errs []error
	rechecked := map[pointKey]bool{}
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
			m, err := r.Manifest(ctx, k.item, k.point)
			switch {
			case err == nil:
				manifests[k] = true
				addRefs(refs, m)
			case errors.Is(err, ErrNotFound):
			default:
				unreadable[k.item] = true
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
		entry.Reason = ReasonNoManifest
		if manifests[k] {
			entry.Reason = ReasonUnreferenced
		}
		if !dryRun {
			if err := r.store.Delete(ctx, b.Name); err != nil && !errors.Is(err, ErrNotFound) {
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
	return rep, errors.Join(errs...)
}

func addRefs(refs map[string]bool, m *Manifest) {
	for _, s := range m.Stripes {
		refs[s.Blob] = true
		refs[s.Index] = true
	}
}
