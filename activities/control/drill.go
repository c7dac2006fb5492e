package control

import (
	"context"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// PickDrillTarget chooses what a restore drill restores, from one listing of the item's
// point summaries: its newest recovery point, or the instant at in.Fraction of the
// restorable instants of the last in.RandomInstantDays days (planner.Restorable, so the
// drill never asks for an instant the chain cannot reach and a failure means something).
func (c *Control) PickDrillTarget(ctx context.Context, in protocol.PickDrillTargetInput) (protocol.PickDrillTargetResult, error) {
	item := vault.ItemID(in.Instance, in.Database)
	out := protocol.PickDrillTargetResult{ItemID: item}
	sums, err := c.Vault.ListPointSummaries(ctx, item)
	if err != nil {
		return out, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list the recovery points of %s: %v", in.Database, err)
	}
	if len(sums) == 0 {
		return out, protocol.UserError(protocol.ErrNotRestorable,
			"the vault has no recovery points of %s on %s: nothing to drill until it is backed up", in.Database, in.Instance)
	}
	if in.Pick != protocol.DrillPickRandomInstant {
		newest := sums[0]
		for _, s := range sums[1:] {
			if s.StartTime.After(newest.StartTime) || (s.StartTime.Equal(newest.StartTime) && s.PointID > newest.PointID) {
				newest = s
			}
		}
		out.PointID = newest.PointID
		return out, nil
	}
	points := make([]planner.Point, len(sums))
	for i := range sums {
		points[i] = sums[i].Point()
	}
	from := in.Now.Add(-time.Duration(in.RandomInstantDays) * 24 * time.Hour)
	at, ok := instantAt(planner.Restorable(points), from, in.Now, in.Fraction)
	if !ok {
		return out, protocol.UserError(protocol.ErrNotRestorable,
			"no instant of %s on %s in the last %d days is restorable from the vault's points", in.Database, in.Instance, in.RandomInstantDays)
	}
	out.At = &at
	return out, nil
}

// instantAt is the instant at fraction f of the restorable time between from and to: the
// ranges clipped to [from, to], laid end to end. Restorable ranges are half-open ([From,
// To)) except one-instant ones, which count as a single instant.
func instantAt(ranges []planner.Range, from, to time.Time, f float64) (time.Time, bool) {
	type span struct{ from, to time.Time }
	var spans []span
	var total time.Duration
	for _, r := range ranges {
		a, b := r.From, r.To
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.Before(a) || (b.Equal(a) && !r.From.Equal(r.To)) {
			continue
		}
		spans = append(spans, span{a, b})
		total += b.Sub(a)
	}
	if len(spans) == 0 {
		return time.Time{}, false
	}
	if f < 0 || f >= 1 {
		f = 0
	}
	want := time.Duration(float64(total) * f)
	for _, s := range spans {
		d := s.to.Sub(s.from)
		if want < d || (d == 0 && want == 0) {
			return s.from.Add(want), true
		}
		want -= d
	}
	last := spans[len(spans)-1]
	return last.from, true
}

// RecordDrill stores a drill's record in the vault beside the point it proved.
func (c *Control) RecordDrill(ctx context.Context, rec protocol.DrillRecord) error {
	if err := c.Vault.PutDrill(ctx, &rec); err != nil {
		return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "record the drill of %s: %v", rec.Database, err)
	}
	return nil
}

// DrillCandidates lists the protected items whose policy has a drill and that have something
// to restore, each with the start of its last drill: one read per item record and policy, one
// listing of each item's drill records, and for an item never drilled one listing of its
// points (an item without a point yet is left out).
func (c *Control) DrillCandidates(ctx context.Context) (protocol.DrillCandidatesResult, error) {
	var out protocol.DrillCandidatesResult
	items, err := c.Vault.Items(ctx)
	if err != nil {
		return out, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list items: %v", err)
	}
	specs := map[string]*protocol.DrillSpec{}
	for _, it := range items {
		if it.Unauthenticated != "" {
			c.Log.Warn("drill planner: item record not authenticated, not drilled", zap.String("item", it.ItemID), zap.String("why", it.Unauthenticated))
			continue
		}
		if it.State != vault.ItemProtected {
			continue
		}
		spec, seen := specs[it.Policy]
		if !seen {
			p, err := c.LoadPolicy(ctx, it.Policy)
			if err != nil {
				c.Log.Warn("drill planner: item's policy unreadable, not drilled", zap.String("item", it.ItemID), zap.Error(err))
			}
			spec = p.Drill
			specs[it.Policy] = spec
		}
		if spec == nil {
			continue
		}
		cand := protocol.DrillCandidate{ItemID: it.ItemID, Instance: it.Instance, Database: it.Database, VM: it.VM, Drill: *spec}
		last, err := c.Vault.LastDrill(ctx, it.ItemID)
		if err != nil {
			return out, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read the last drill of %s: %v", it.Database, err)
		}
		if last != nil {
			t := last.StartedAt
			cand.Last = &t
		} else {
			// A newly protected item whose first full has not committed has nothing to
			// restore: drilling it would fail and raise a false "drill failed" alert. An item
			// with a drill record had a point, so only never-drilled items cost this listing.
			points, err := c.Vault.ListPointSummaries(ctx, it.ItemID)
			if err != nil {
				return out, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list the points of %s: %v", it.Database, err)
			}
			if len(points) == 0 {
				continue
			}
		}
		out.Items = append(out.Items, cand)
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].ItemID < out.Items[j].ItemID })
	return out, nil
}

// PlanDrills returns the drills due at in.Now (policy.PlanDrills: each item at its slot of
// the period, never more than its policy's MaxPerInstance on one target instance counting
// in.Running). Its cost is DrillCandidates': a read per item record and a listing of each
// drilled item's records, once per planner pass.
func (c *Control) PlanDrills(ctx context.Context, in protocol.PlanDrillsInput) (protocol.PlanDrillsResult, error) {
	cands, err := c.DrillCandidates(ctx)
	if err != nil {
		return protocol.PlanDrillsResult{}, err
	}
	byID := map[string]protocol.DrillCandidate{}
	pc := make([]policy.DrillCandidate, 0, len(cands.Items))
	for _, it := range cands.Items {
		byID[it.ItemID] = it
		c := policy.DrillCandidate{ItemID: it.ItemID, Target: policy.DrillTarget(it.Drill, it.Instance), Spec: it.Drill}
		if it.Last != nil {
			c.Last = *it.Last
		}
		pc = append(pc, c)
	}
	out := protocol.PlanDrillsResult{Items: len(cands.Items)}
	for _, d := range policy.PlanDrills(pc, in.Running, in.Now) {
		it := byID[d.ItemID]
		out.Drills = append(out.Drills, protocol.PlannedDrill{ItemID: d.ItemID, Target: strings.ToUpper(d.Target),
			Input: protocol.RestoreDrillInput{Instance: it.Instance, Database: it.Database, Pick: it.Drill.Pick,
				RandomInstantDays: it.Drill.RandomInstantDays, TargetInstance: it.Drill.Instance, TargetVM: drillVM(it)}})
	}
	return out, nil
}

// drillVM is the VM whose agent restores an item's drill: the policy's, else (restoring
// on the item's own instance) the item's own VM.
func drillVM(it protocol.DrillCandidate) string {
	if it.Drill.Instance != "" {
		return it.Drill.VM
	}
	return it.VM
}
