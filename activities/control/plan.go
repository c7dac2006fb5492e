package control

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// PlanRestore reads the protected database's recovery points from the vault and chooses the
// restore chain for a recovery point or an instant. It reads the points' summaries from one
// listing (vault.Repository.ListPointSummaries: no manifest is read unless it predates
// summaries). The plan carries point IDs, not stripes, so it stays small in history even
// for thousands of log backups; each restore step reads its own manifest and checks it
// against the step's summary digest before restoring anything.
//
// It plans only with authenticated summaries (legacy ones too when the restore allows
// them): a point whose summary fails authentication, or is legacy, is left out as if it did
// not exist, and named in the plan's Skipped and in the refusal when no chain remains.
func (c *Control) PlanRestore(ctx context.Context, in protocol.PlanRestoreInput) (protocol.RestorePlan, error) {
	item := vault.ItemID(in.Instance, in.Database)
	all, err := c.Vault.ListPointSummaries(ctx, item)
	if err != nil {
		return protocol.RestorePlan{}, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list the recovery points of %s: %v", in.Database, err)
	}
	if len(all) == 0 {
		return protocol.RestorePlan{}, protocol.UserError(protocol.ErrNotRestorable,
			"the vault has no recovery points of %s on %s: check the names (as SQL Server shows them), or back it up first", in.Database, in.Instance)
	}
	sums, skipped := authenticatedOnly(all, in.AllowUnauthenticated)
	if len(skipped) > 0 && c.Log != nil {
		c.Log.Warn("restore planning left out unauthenticated recovery points", zap.String("item", item), zap.Strings("skipped", skipped))
	}
	if len(sums) == 0 {
		return protocol.RestorePlan{}, protocol.UserError(protocol.ErrUnauthenticated,
			"no recovery point of %s on %s is authenticated, so none is restored: %s", in.Database, in.Instance, skippedAdvice(skipped))
	}
	points := make([]planner.Point, len(sums))
	byID := make(map[string]*vault.PointSummary, len(sums))
	for i := range sums {
		points[i] = sums[i].Point()
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
			if len(skipped) > 0 {
				// Perhaps only because of what was left out: say so, by name.
				return protocol.RestorePlan{}, protocol.UserError(protocol.ErrUnauthenticated,
					"%v; planned without %d unauthenticated recovery points: %s", err, len(skipped), skippedAdvice(skipped))
			}
			return protocol.RestorePlan{}, protocol.UserError(protocol.ErrNotRestorable, "%v", err)
		}
		return protocol.RestorePlan{}, err
	}
	out := protocol.RestorePlan{ItemID: item, Skipped: skipped}
	for _, s := range plan.Steps {
		out.Steps = append(out.Steps, protocol.RestoreStepPlan{PointID: s.Point.ID, Type: s.Point.Type,
			FirstLSN: string(s.Point.FirstLSN), LastLSN: string(s.Point.LastLSN), StopAt: s.StopAt, SummaryDigest: byID[s.Point.ID].Digest()})
	}
	if in.At != nil {
		if err := localStopAt(*in.At, out.Steps, byID); err != nil {
			return protocol.RestorePlan{}, err
		}
	}
	return out, nil
}

// authenticatedOnly keeps the summaries a plan or a deletion may act on: authenticated, or
// legacy when allowLegacy. The rest is named, with why ("<pointId>: <auth>").
func authenticatedOnly(sums []vault.PointSummary, allowLegacy bool) (ok []vault.PointSummary, skipped []string) {
	for _, s := range sums {
		if s.Auth == vault.AuthOK || (allowLegacy && s.Auth == vault.AuthLegacy) {
			ok = append(ok, s)
			continue
		}
		skipped = append(skipped, s.PointID+": "+s.Auth.String())
	}
	return ok, skipped
}

// skippedAdvice lists skipped points (the first few) and what to do about them.
func skippedAdvice(skipped []string) string {
	const shown = 5
	list := strings.Join(skipped[:min(shown, len(skipped))], "; ")
	if len(skipped) > shown {
		list += fmt.Sprintf("; and %d more", len(skipped)-shown)
	}
	return list + ". Legacy points (written before the vault authenticated its manifests): run `sqlvault vault upgrade`, " +
		"or restore them knowingly with --allow-unauthenticated. Points that FAILED authentication were changed by someone " +
		"without the vault key: do not restore them; look at who can write to the storage account"
}
