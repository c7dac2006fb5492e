package control

import (
	"context"
	"errors"

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
			return protocol.RestorePlan{}, protocol.UserError(protocol.ErrNotRestorable, "%v", err)
		}
		return protocol.RestorePlan{}, err
	}
	out := protocol.RestorePlan{ItemID: item}
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
