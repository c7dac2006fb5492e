package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sqlvault/sqlvault/internal/planner"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// PlanRestore reads the protected database's recovery points from the vault and chooses the
// restore chain for a recovery point or an instant. It reads the points' summaries from one
// listing (vault.Repository.ListPointSummaries: no manifest is read unless it predates
// summaries). The plan carries point IDs, not stripes, so it stays small in history even
// for thousands of log backups; each restore step reads its own manifest and checks it
// against the step's summary digest before restoring anything.
func (c *Control) PlanRestore(ctx context.Context, in protocol.PlanRestoreInput) (protocol.RestorePlan, error) {
	item := vault.ItemID(in.Instance, in.Database)
	sums, err := c.Vault.ListPointSummaries(ctx, item)
	if err != nil {
		return protocol.RestorePlan{}, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list the recovery points of %s: %v", in.Database, err)
	}
	if len(sums) == 0 {
		return protocol.RestorePlan{}, protocol.UserError(protocol.ErrNotRestorable,
			"the vault has no recovery points of %s on %s: check the names (as SQL Server shows them), or back it up first", in.Database, in.Instance)
	}
	points := make([]planner.Point, len(sums))
	byID := make(map[string]*vault.PointSummary, len(sums))
	for i := range sums {
		points[i] = planner.FromSummary(sums[i])
		byID[sums[i].PointID] = &sums[i]
	}
	target := planner.Target{PointID: in.PointID}
	if in.At != nil {
		target.At = *in.At
	}
	plan, err := planner.PlanRestore(points, target)
	if err != nil {
		var nr *planner.NotRestorableError
		if errors.As(err, &nr) || errors.Is(err, planner.ErrUnknownPoint) || errors.Is(err, planner.ErrInvalidTarget) || errors.Is(err, planner.ErrNoChain) {
			return protocol.RestorePlan{}, protocol.UserError(protocol.ErrNotRestorable, "%v", err)
		}
		return protocol.RestorePlan{}, err
	}
	out := protocol.RestorePlan{ItemID: item}
	for _, s := range plan.Steps {
		out.Steps = append(out.Steps, protocol.RestoreStepPlan{PointID: s.Point.ID, Type: s.Point.Type,
			FirstLSN: s.Point.FirstLSN, LastLSN: s.Point.LastLSN, StopAt: s.StopAt, SummaryDigest: byID[s.Point.ID].Digest()})
	}
	if in.At != nil {
		if err := localStopAt(*in.At, out.Steps, byID); err != nil {
			return protocol.RestorePlan{}, err
		}
	}
	return out, nil
}

// checkStepManifest refuses step index (0-based) of a plan when the manifest it restores from
// does not say what the plan was made from: another backup type or other LSNs than the step,
// or (when the plan carries one) another summary digest, which covers every field the
// planner used. The plan comes from manifest blob metadata, which nothing but a bug or a
// hand in the storage account can make disagree with the manifest; either way the chain
// cannot be trusted, and restoring it could reach another instant than the one asked for.
func checkStepManifest(index int, step protocol.RestoreStepPlan, m *vault.Manifest) error {
	var diffs []string
	b := m.Backup
	if b.Type != step.Type {
		diffs = append(diffs, fmt.Sprintf("type %s (plan: %s)", b.Type, step.Type))
	}
	if string(b.FirstLSN) != step.FirstLSN {
		diffs = append(diffs, fmt.Sprintf("first LSN %s (plan: %s)", b.FirstLSN, step.FirstLSN))
	}
	if string(b.LastLSN) != step.LastLSN {
		diffs = append(diffs, fmt.Sprintf("last LSN %s (plan: %s)", b.LastLSN, step.LastLSN))
	}
	if step.SummaryDigest != "" {
		// A digest of a summary version this build does not know cannot be checked; the
		// type and LSNs above still are.
		if match, known := vault.CheckSummaryDigest(m, step.SummaryDigest); known && !match {
			diffs = append(diffs, "other planning fields (times, checkpoint or base LSNs, GUIDs, copy-only) than the plan's summary")
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return protocol.UserError(protocol.ErrPlanMismatch,
		"step %d (%s %s) refused, nothing of it applied: its manifest says %s. The plan was made from the point's summary in the vault listing (metadata %q of its manifest blob), which disagrees with the manifest; the manifest is the record (see it with `starter show %s`): the summary was changed in storage or written wrongly",
		index+1, step.Type, step.PointID, strings.Join(diffs, "; "), vault.SummaryMetadataKey, step.PointID)
}
