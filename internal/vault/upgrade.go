package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// Upgrade outcomes, per manifest (UpgradeEntry.Outcome).
const (
	UpgradeAuthenticated = "authenticated"         // a legacy manifest whose blocks verify, now authenticated
	UpgradeAlready       = "already authenticated" // nothing to do
	UpgradeSummary       = "summary authenticated" // an authenticated manifest whose listing summary lacked its MAC
	UpgradeRefused       = "refused"               // left as it was; Reason says why
)

// Kinds of object Upgrade authenticates (UpgradeEntry.Kind).
const (
	UpgradeKindPoint    = "point"    // a recovery point's manifest and summary
	UpgradeKindItem     = "item"     // an item record (item.json)
	UpgradeKindPolicy   = "policy"   // a stored policy
	UpgradeKindInstance = "instance" // an auto-protected instance's record
)

// UpgradeEntry is what Upgrade did with one object: a point's manifest (Kind "point" or
// empty, as reports from before items were authenticated have it), an item record or a
// policy.
type UpgradeEntry struct {
	Kind            string `json:",omitempty"`
	ItemID, PointID string
	Policy          string `json:",omitempty"`
	Instance        string `json:",omitempty"` // the instance record's id (v1/instances/<id>.json)
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
	// Configuration first: it is a few small records, and retention waits on them.
	if err := r.upgradeRecords(ctx, o, &rep); err != nil {
		return rep, err
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
	e := UpgradeEntry{Kind: UpgradeKindPoint, ItemID: bn.itemID, PointID: bn.pointID}
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

// CountKind returns how many entries of kind have outcome.
func (r UpgradeReport) CountKind(kind, outcome string) int {
	n := 0
	for _, e := range r.Entries {
		k := e.Kind
		if k == "" {
			k = UpgradeKindPoint
		}
		if k == kind && e.Outcome == outcome {
			n++
		}
	}
	return n
}

// String is a one-line account of the report.
func (r UpgradeReport) String() string {
	var b strings.Builder
	if r.DryRun {
		b.WriteString("dry run: ")
	}
	points := 0
	for _, e := range r.Entries {
		if e.Kind == "" || e.Kind == UpgradeKindPoint {
			points++
		}
	}
	fmt.Fprintf(&b, "%d manifests: %d %s, %d %s, %d %s, %d %s", points,
		r.CountKind(UpgradeKindPoint, UpgradeAuthenticated), UpgradeAuthenticated, r.CountKind(UpgradeKindPoint, UpgradeSummary), UpgradeSummary,
		r.CountKind(UpgradeKindPoint, UpgradeAlready), UpgradeAlready, r.CountKind(UpgradeKindPoint, UpgradeRefused), UpgradeRefused)
	for _, kind := range []string{UpgradeKindItem, UpgradeKindPolicy, UpgradeKindInstance} {
		fmt.Fprintf(&b, "; %s records: %d %s, %d %s, %d %s", kind,
			r.CountKind(kind, UpgradeAuthenticated), UpgradeAuthenticated, r.CountKind(kind, UpgradeAlready), UpgradeAlready,
			r.CountKind(kind, UpgradeRefused), UpgradeRefused)
	}
	return b.String()
}

// upgradeRecords authenticates the legacy item records and policies: each one that is
// plain JSON is rewritten, byte for byte, inside a record envelope under the active data
// key, conditional on the blob being unchanged since it was listed. A record whose
// envelope fails authentication is refused, never re-sealed (that would vouch for what
// someone without the key wrote). Like a legacy manifest's times, a legacy record's content
// cannot be vouched for: run the upgrade as soon as the vault's writers are upgraded.
func (r *Repository) upgradeRecords(ctx context.Context, o UpgradeOptions, rep *UpgradeReport) error {
	key, err := r.activeKey(ctx)
	if err != nil {
		return fmt.Errorf("vault: upgrade: item records and policies are sealed with the active data key: %w", err)
	}
	var blobs []BlobInfo
	ids, err := r.ItemIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		name := ItemBlob(id)
		err := r.store.List(ctx, name, func(b BlobInfo) error {
			if b.Name == name {
				blobs = append(blobs, b)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("vault: upgrade: list %s: %w", name, err)
		}
	}
	err = r.store.List(ctx, InstancesPrefix, func(b BlobInfo) error {
		if strings.HasSuffix(b.Name, ".json") {
			blobs = append(blobs, b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: upgrade: list instance records: %w", err)
	}
	err = r.store.List(ctx, PoliciesPrefix, func(b BlobInfo) error {
		if name, ok := strings.CutSuffix(strings.TrimPrefix(b.Name, PoliciesPrefix), ".json"); ok && policyNameRe.MatchString(name) {
			blobs = append(blobs, b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: upgrade: list policies: %w", err)
	}
	for _, b := range blobs {
		e, err := r.upgradeRecord(ctx, key, b, o.DryRun)
		if err != nil {
			return err
		}
		rep.Entries = append(rep.Entries, e)
		if o.Progress != nil {
			o.Progress(e)
		}
	}
	return nil
}

func (r *Repository) upgradeRecord(ctx context.Context, key *blockcrypt.Key, b BlobInfo, dryRun bool) (UpgradeEntry, error) {
	var e UpgradeEntry
	if name, ok := strings.CutPrefix(b.Name, PoliciesPrefix); ok {
		e.Kind, e.Policy = UpgradeKindPolicy, strings.TrimSuffix(name, ".json")
	} else if name, ok := strings.CutPrefix(b.Name, InstancesPrefix); ok {
		e.Kind, e.Instance = UpgradeKindInstance, strings.TrimSuffix(name, ".json")
	} else {
		e.Kind, e.ItemID = UpgradeKindItem, parseBlobName(b.Name).itemID
	}
	refuse := func(format string, args ...any) (UpgradeEntry, error) {
		e.Outcome, e.Reason = UpgradeRefused, fmt.Sprintf(format, args...)
		r.log.Warn("vault upgrade: record left unauthenticated", zap.String("blob", b.Name), zap.String("reason", e.Reason))
		return e, nil
	}
	data, err := r.store.Get(ctx, b.Name)
	if errors.Is(err, ErrNotFound) {
		return refuse("deleted while upgrading")
	}
	if err != nil {
		return e, fmt.Errorf("vault: upgrade: %w", err)
	}
	record, auth, err := r.openRecord(ctx, b.Name, data)
	switch {
	case err != nil:
		return refuse("%v", err)
	case auth == nil:
		e.Outcome = UpgradeAlready
		return e, nil
	case !errors.Is(auth, ErrLegacyRecord):
		return refuse("%v", auth)
	}
	if e.Kind == UpgradeKindItem {
		// The record must be an item record of this item: the envelope binds it to its
		// name, so one moved here from another item must not be vouched for.
		var it ProtectedItem
		if err := json.Unmarshal(record, &it); err != nil || it.Schema != ItemSchema {
			return refuse("not an item record this build reads")
		}
		if it.ItemID != e.ItemID {
			return refuse("it holds item %s", it.ItemID)
		}
	}
	if e.Kind == UpgradeKindInstance {
		var rec InstanceRecord
		if err := json.Unmarshal(record, &rec); err != nil || InstanceBlob(rec.Instance) != b.Name {
			return refuse("not the instance record of this name")
		}
	}
	if !dryRun {
		if err := r.store.Put(ctx, b.Name, sealRecord(key, b.Name, record), PutOptions{IfMatch: b.ETag}); err != nil {
			if errors.Is(err, ErrChanged) || errors.Is(err, ErrNotFound) {
				e.Outcome, e.Reason = UpgradeRefused, "changed or deleted while upgrading (run the upgrade again)"
				return e, nil
			}
			return e, fmt.Errorf("vault: upgrade %s: %w", b.Name, err)
		}
		r.log.Info("vault upgrade: record authenticated", zap.String("blob", b.Name))
	}
	e.Outcome = UpgradeAuthenticated
	return e, nil
}
