package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// CheckRPOPage judges one page of protected items (rpowatch.Judge) and stores the findings
// in the vault under the sweep; the workflow gets counts and the cursor. A breached item's
// schedules are described (paused, missing, stuck); a healthy one costs only its listing.
func (c *Control) CheckRPOPage(ctx context.Context, in protocol.CheckRPOPageInput) (protocol.CheckRPOPageResult, error) {
	var res protocol.CheckRPOPageResult
	pg, err := c.ListItemIDsPage(ctx, protocol.ListItemIDsPageInput{After: in.After, Limit: in.Limit})
	if err != nil {
		return res, err
	}
	// Items are judged rpoJudgeParallel at a time: a breached item costs up to three schedule
	// descriptions (a round trip to Temporal each) and a healthy one two vault reads, so a
	// page judged one item after another spent most of its time waiting. Findings keep the
	// page's order.
	var (
		polMu    sync.Mutex
		policies = map[string]*policy.Policy{}
	)
	loadPolicy := func(name string) *policy.Policy {
		polMu.Lock()
		defer polMu.Unlock()
		p, seen := policies[name]
		if !seen {
			p = rpowatch.LoadPolicy(ctx, c.Vault, name)
			policies[name] = p
		}
		return p
	}
	slots := make([]*rpowatch.Finding, len(pg.IDs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(rpoJudgeParallel)
	for i, id := range pg.IDs {
		g.Go(func() error {
			f, err := c.judgeRPOItem(gctx, id, in.At, loadPolicy)
			slots[i] = f
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	var findings []rpowatch.Finding
	for _, f := range slots {
		if f != nil {
			findings = append(findings, *f)
		}
	}
	for _, f := range findings {
		if f.State == protocol.RPOStateBreached {
			res.Breached++
		}
	}
	res.Items = len(findings)
	if len(pg.IDs) > 0 {
		res.Next, res.More = pg.IDs[len(pg.IDs)-1], pg.More
	}
	if len(findings) > 0 {
		doc, err := json.Marshal(findings)
		if err != nil {
			return res, err
		}
		if err := c.Vault.PutRPOPage(ctx, in.Sweep, pg.IDs[0], doc); err != nil {
			return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "store the sweep's page: %v", err)
		}
	}
	return res, nil
}

// rpoJudgeParallel is how many items of a page CheckRPOPage judges at once.
const rpoJudgeParallel = 8

// judgeRPOItem is the finding of one item of a sweep's page: nil for an item removed since
// the listing or whose protection is stopped (it promises no RPO).
func (c *Control) judgeRPOItem(ctx context.Context, id string, at time.Time, loadPolicy func(string) *policy.Policy) (*rpowatch.Finding, error) {
	it, err := c.Vault.ItemUnverified(ctx, id)
	switch {
	case errors.Is(err, vault.ErrItemNotFound):
		return nil, nil // removed since the listing
	case err != nil && unreadableRecord(err):
		return &rpowatch.Finding{ItemID: id, State: protocol.RPOStateUnknown,
			Detail: fmt.Sprintf("the item record cannot be read (look at it in the vault): %v", err)}, nil
	case err != nil:
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read item %s: %v", id, err)
	}
	if it.Unauthenticated != "" {
		// Shown, not judged: its state and policy cannot be trusted either way (a
		// record edited to "stopped" would otherwise hide a breach).
		return &rpowatch.Finding{ItemID: id, Instance: it.Instance, Database: it.Database, State: protocol.RPOStateUnknown,
			Detail: "the item record is not authenticated, so its RPO is not judged: " + it.Unauthenticated}, nil
	}
	if it.State != vault.ItemProtected {
		return nil, nil // stopped: it promises no RPO
	}
	p := loadPolicy(it.Policy)
	sums, err := c.Vault.ListPointSummaries(ctx, id)
	if err != nil {
		if unreadableRecord(err) {
			return &rpowatch.Finding{ItemID: id, Instance: it.Instance, Database: it.Database,
				State: protocol.RPOStateUnknown, Detail: fmt.Sprintf("a recovery point cannot be read (look at it in the vault): %v", err)}, nil
		}
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list the recovery points of %s: %v", id, err)
	}
	f, err := rpowatch.Judge(ctx, it, sums, p, at, c.describeSchedule)
	if err != nil {
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "%v", err)
	}
	return &f, nil
}

// describeSchedule is rpowatch.Schedules from the control worker's Temporal client.
func (c *Control) describeSchedule(ctx context.Context, id string) (rpowatch.Schedule, error) {
	if c.Temporal == nil {
		return rpowatch.Schedule{}, errors.New("the control worker has no Temporal client")
	}
	return rpowatch.TemporalSchedules(c.Temporal.ScheduleClient())(ctx, id)
}

// FinishRPOSweep merges the sweep's pages into the latest report (worst first), deletes
// every page blob (an abandoned sweep's too: sweeps run one at a time), sets the breach
// series, and returns the summary: counts, the worst breaches, and whether the breached
// items or their reasons changed since the previous report (the webhook is told then).
// The stored report is the commit point: a retry of a finish that stored it answers from it.
func (c *Control) FinishRPOSweep(ctx context.Context, in protocol.FinishRPOSweepInput) (protocol.RPOSweepSummary, error) {
	names, docs, err := c.Vault.RPOPages(ctx)
	if err != nil {
		return protocol.RPOSweepSummary{}, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list the sweep's pages: %v", err)
	}
	prev, _ := c.latestRPOReport(ctx) // unreadable: counts as changed
	if prev != nil && prev.Sweep == in.Sweep {
		// A retry after the report was stored (its pages may be gone already): the sweep is
		// merged; answer from the stored report rather than merge what is left of the pages
		// into an emptier one (a false all-clear for the webhook).
		if err := c.Vault.DeleteRPOBlobs(ctx, names); err != nil && c.Log != nil {
			c.Log.Warn("could not delete the RPO sweep's pages; the next sweep deletes them")
		}
		c.RPOMetrics.Set(prev)
		return summaryOf(in.Sweep, prev), nil
	}
	rep := &rpowatch.Report{Schema: rpowatch.ReportSchema, Sweep: in.Sweep, At: in.At.UTC(), Findings: []rpowatch.Finding{}}
	own := vault.RPOPagePrefix(in.Sweep)
	for i, n := range names {
		if !strings.HasPrefix(n, own) {
			continue
		}
		var fs []rpowatch.Finding
		if err := json.Unmarshal(docs[i], &fs); err != nil {
			return protocol.RPOSweepSummary{}, protocol.UserError(protocol.ErrUnreadableRecord, "sweep page %s cannot be read: %v", n, err)
		}
		rep.Findings = append(rep.Findings, fs...)
	}
	rpowatch.Sort(rep.Findings)
	rep.Changed = breachSet(prev) != breachSet(rep)
	doc, err := json.Marshal(rep)
	if err != nil {
		return protocol.RPOSweepSummary{}, err
	}
	if err := c.Vault.PutRPOReport(ctx, doc); err != nil {
		return protocol.RPOSweepSummary{}, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "store the report: %v", err)
	}
	if err := c.Vault.DeleteRPOBlobs(ctx, names); err != nil && c.Log != nil {
		c.Log.Warn("could not delete the RPO sweep's pages; the next sweep deletes them")
	}
	c.RPOMetrics.Set(rep)
	return summaryOf(in.Sweep, rep), nil
}

// summaryOf is the sweep's summary from its report.
func summaryOf(sweep string, rep *rpowatch.Report) protocol.RPOSweepSummary {
	sum := protocol.RPOSweepSummary{Sweep: sweep, At: rep.At, Items: len(rep.Findings), Changed: rep.Changed}
	for _, f := range rep.Breached() {
		sum.Breached++
		if len(sum.Worst) < protocol.MaxListedBreaches {
			sum.Worst = append(sum.Worst, protocol.RPOBreach{ItemID: f.ItemID, Instance: f.Instance, Database: f.Database,
				Reason: f.Reason, RPOSeconds: int64(f.RPO.Seconds()), TargetSeconds: int64(f.Target.Seconds())})
		}
	}
	return sum
}

func (c *Control) latestRPOReport(ctx context.Context) (*rpowatch.Report, error) {
	doc, err := c.Vault.RPOReport(ctx)
	if err != nil || doc == nil {
		return nil, err
	}
	var r rpowatch.Report
	if err := json.Unmarshal(doc, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// breachSet is the breached items and their reasons, as one comparable string.
func breachSet(r *rpowatch.Report) string {
	if r == nil {
		return "\x00none"
	}
	var b strings.Builder
	ids := r.Breached()
	sort.Slice(ids, func(i, j int) bool { return ids[i].ItemID < ids[j].ItemID })
	for _, f := range ids {
		b.WriteString(f.ItemID + "=" + f.Reason + ";")
	}
	return b.String()
}

// NotifyRPOWebhook POSTs the latest report's breaches to the configured webhook (none
// configured: nothing sent). A failed POST is a retryable error: the activity's retry
// policy sends it again.
func (c *Control) NotifyRPOWebhook(ctx context.Context, in protocol.NotifyRPOInput) (protocol.NotifyRPOResult, error) {
	if c.RPOWebhook == nil || c.RPOWebhook.URL == "" {
		return protocol.NotifyRPOResult{}, nil
	}
	rep, err := c.latestRPOReport(ctx)
	if err != nil {
		return protocol.NotifyRPOResult{}, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read the RPO report: %v", err)
	}
	if rep == nil {
		return protocol.NotifyRPOResult{}, nil
	}
	status, err := c.RPOWebhook.Post(ctx, rpowatch.PayloadOf(rep))
	if err != nil {
		return protocol.NotifyRPOResult{Status: status}, protocol.RetryableError(protocol.ErrWebhookFailed, err, "%v", err)
	}
	return protocol.NotifyRPOResult{Sent: true, Status: status}, nil
}
