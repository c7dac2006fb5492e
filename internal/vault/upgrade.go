package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// Upgrade outcomes, per manifest (UpgradeEntry.Outcome).
const (
	UpgradeAuthenticated = "authenticated"         // a legacy manifest whose blocks verify, now authenticated
	UpgradeAlready       = "already authenticated" // nothing to do
	UpgradeSummary       = "summary authenticated" // an authenticated manifest whose listing summary lacked its MAC
	UpgradeRefused       = "refused"               // left as it was; Reason says why
)

// UpgradeEntry is what Upgrade did with one manifest.
type UpgradeEntry struct {
	ItemID, PointID string
	Outcome         string
	Reason          string // for UpgradeRefused
}

// UpgradeReport lists every manifest Upgrade looked at.
type UpgradeReport struct {
	DryRun  bool
	Entries []UpgradeEntry
}

// Count returns how many entries have outcome.
func (r UpgradeReport) Count(outcome string) int {
	n := 0
	for _, e := range r.Entries {
		if e.Outcome == outcome {
			n++
		}
	}
	return n
}

// UpgradeOptions steer Upgrade.
type UpgradeOptions struct {
	DryRun bool
	// Progress, when set, is called after each manifest (for a CLI's output).
	Progress func(UpgradeEntry)
}

// Upgrade authenticates the manifests of a vault written before manifests were
// authenticated (`sqlvault vault upgrade`). For each legacy manifest it reads every block of
// every stripe — GCM-opening each frame under the key the manifest names and comparing its
// plaintext with the SHA-256 its (v1) index records (DeepVerify) — and only if all of them
// verify rewrites the manifest blob as an envelope around its exact bytes, with an
// authenticated summary, conditional on the blob being unchanged since it was listed (so a
// point deleted or rewritten meanwhile is neither resurrected nor overwritten). Manifests
// that do not verify, or whose key this process lacks, are left as they are and reported.
//
// What it vouches for: the blocks, their order and the indexes are the ones the manifest's
// stripes describe, sealed under the vault key. It cannot vouch for fields no block binds
// (LSNs, times, retain-until) of a manifest someone edited before the upgrade: run it as
// soon as the vault's writers are upgraded, and compare its report with msdb's history
// when in doubt.
//
// It is idempotent: authenticated manifests are left alone (a summary missing its MAC gets
// one), so it is safe to run again, for example after an interrupted run.
func (r *Repository) Upgrade(ctx context.Context, o UpgradeOptions) (UpgradeReport, error) {
	rep := UpgradeReport{DryRun: o.DryRun}
	if r.keys == nil {
		return rep, fmt.Errorf("%w: vault upgrade authenticates with the vault key: configure key.file", ErrNoKey)
	}
	items, err := r.ListItems(ctx)
	if err != nil {
		return rep, err
	}
	for _, item := range items {
		var blobs []BlobInfo
		err := r.store.List(ctx, PointsPrefix(item), func(b BlobInfo) error {
			if parseBlobName(b.Name).kind == "manifest" {
				blobs = append(blobs, b)
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("vault: upgrade: list points of %s: %w", item, err)
		}
		for _, b := range blobs {
			e, err := r.upgradeManifest(ctx, b, o.DryRun)
			if err != nil {
				return rep, err
			}
			rep.Entries = append(rep.Entries, e)
			if o.Progress != nil {
				o.Progress(e)
			}
		}
	}
	return rep, nil
}

// upgradeManifest upgrades one listed manifest blob. Errors are for what stops the whole
// run (the store failing, the context ending); a point that cannot be upgraded is an entry.
func (r *Repository) upgradeManifest(ctx context.Context, b BlobInfo, dryRun bool) (UpgradeEntry, error) {
	bn := parseBlobName(b.Name)
	e := UpgradeEntry{ItemID: bn.itemID, PointID: bn.pointID}
	refuse := func(format string, args ...any) (UpgradeEntry, error) {
		e.Outcome, e.Reason = UpgradeRefused, fmt.Sprintf(format, args...)
		r.log.Warn("vault upgrade: manifest left unauthenticated", zap.String("blob", b.Name), zap.String("reason", e.Reason))
		return e, nil
	}
	data, err := r.store.Get(ctx, b.Name)
	if errors.Is(err, ErrNotFound) {
		return refuse("deleted while upgrading")
	}
	if err != nil {
		return e, fmt.Errorf("vault: upgrade: %w", err)
	}
	m, auth, err := r.authenticateManifest(ctx, b.Name, data)
	if err != nil {
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
		return refuse("%v", err)
	}
	if m.ItemID != bn.itemID || m.PointID != bn.pointID {
		return refuse("it holds point %s/%s", m.ItemID, m.PointID)
	}
	key, err := r.key(ctx, m.Encryption.KeyID)
	if err != nil {
		return refuse("%v", err)
	}
	if auth == authVerified {
		if _, err := r.checkSummaryAuth(ctx, b.Name, b.Metadata); err == nil || SummaryMetadata(m) == nil {
			e.Outcome = UpgradeAlready
			return e, nil
		}
		// The manifest authenticates; its summary (written in the same Put) does not:
		// give it the summary of the authenticated manifest.
		if !dryRun {
			if err := r.store.Put(ctx, b.Name, data, PutOptions{IfMatch: b.ETag, Metadata: authenticatedSummary(key, m)}); err != nil {
				return r.upgradeWriteFailed(e, err)
			}
		}
		e.Outcome = UpgradeSummary
		return e, nil
	}
	if err := r.DeepVerify(ctx, m, key); err != nil {
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
		return refuse("its blocks do not verify: %v", err)
	}
	if !dryRun {
		sealed := sealManifest(key, b.Name, bytes.TrimSpace(data))
		if err := r.store.Put(ctx, b.Name, sealed, PutOptions{IfMatch: b.ETag, Metadata: authenticatedSummary(key, m)}); err != nil {
			return r.upgradeWriteFailed(e, err)
		}
		r.log.Info("vault upgrade: manifest authenticated", zap.String("blob", b.Name))
	}
	e.Outcome = UpgradeAuthenticated
	return e, nil
}

func (r *Repository) upgradeWriteFailed(e UpgradeEntry, err error) (UpgradeEntry, error) {
	if errors.Is(err, ErrChanged) {
		e.Outcome, e.Reason = UpgradeRefused, "changed or deleted while upgrading (run the upgrade again)"
		return e, nil
	}
	return e, fmt.Errorf("vault: upgrade %s/%s: %w", e.ItemID, e.PointID, err)
}

// String is a one-line account of the report.
func (r UpgradeReport) String() string {
	var b strings.Builder
	if r.DryRun {
		b.WriteString("dry run: ")
	}
	fmt.Fprintf(&b, "%d manifests: %d %s, %d %s, %d %s, %d %s", len(r.Entries),
		r.Count(UpgradeAuthenticated), UpgradeAuthenticated, r.Count(UpgradeSummary), UpgradeSummary,
		r.Count(UpgradeAlready), UpgradeAlready, r.Count(UpgradeRefused), UpgradeRefused)
	return b.String()
}
