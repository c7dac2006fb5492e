// Package itemmetrics exports the control side's per protected item series — the newest
// recovery point by kind, the RPO now and the RPO the policy promises — computed from the
// vault's catalog.
//
// Reading the catalog costs one listing per item (the summaries carry type and times, as
// `sqlvault status` reads them) and one read per policy, so it is never done per scrape: a
// refresh runs every metrics.catalogRefresh and a scrape reads the last refresh's result.
// rpo_seconds is computed at the scrape (now minus the newest restorable instant the refresh
// found), so it grows between refreshes as the real RPO does.
//
// Cardinality: one series per item (and per item and kind for the last success), labelled
// by the item's ID, SQL Server instance (sql_instance) and database only: at 2,000 items a vault, at most 2,000 × 6
// series, and 2,000 × 4 more for restore drills. Stopped items are left out: they promise no RPO.
//
// Items whose policy has a restore drill also get their last drill's outcome, the end of
// their last passed drill and its measured restore time, from the drill records beside their
// points (vault.Repository.LastDrills: one more listing and at most two reads per such item).
package itemmetrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/metrics"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// DefaultReaders is how many items' listings a refresh runs at once.
const DefaultReaders = 8

// Kinds of backup the last-success series reports (a copy-only full is a full).
var kinds = []string{vault.BackupFull, vault.BackupDifferential, vault.BackupLog}

// Catalog is the collector: Refresh reads the vault, Collect reports the last refresh.
type Catalog struct {
	repo    *vault.Repository
	log     *zap.Logger
	now     func() time.Time
	readers int

	descs struct {
		last, rpo, target, points, items, ok, at, took *prometheus.Desc
		drillSuccess, drillOutcome, drillRestore       *prometheus.Desc
	}

	mu       sync.Mutex
	items    map[string]Item // by item ID, from the last refresh (failed items keep their previous values)
	order    []string
	ok       bool
	at       time.Time
	took     time.Duration
	refreshM sync.Mutex // one refresh at a time
}

// Item is what a refresh learnt of one protected item.
type Item struct {
	ID, Instance, Database string
	// LastSuccess is the newest point's finish time by kind (absent: no point of that kind).
	LastSuccess map[string]time.Time
	// Restorable is the newest instant a restore can reach; zero when none is.
	Restorable time.Time
	// ProtectedSince is when the item was protected: the RPO counts from it while nothing is
	// restorable, so an item that never got a full still breaches.
	ProtectedSince time.Time
	// Target is the policy's RPO (0: the policy is missing or invalid; no target series).
	Target time.Duration
	Points int
	// Drilled: the policy has a restore drill (and the drill fields below were read).
	Drilled bool
	// LastDrill is the newest drill's record, LastPassedDrill the newest passed one (nil: none).
	LastDrill, LastPassedDrill *protocol.DrillRecord
}

// RPO is now minus the newest restorable instant (or, with none, the protection's start).
func (it Item) RPO(now time.Time) time.Duration {
	if !it.Restorable.IsZero() {
		return now.Sub(it.Restorable)
	}
	return now.Sub(it.ProtectedSince)
}

// New makes the collector and registers it on reg. now is the clock (nil: time.Now).
func New(reg prometheus.Registerer, repo *vault.Repository, log *zap.Logger, now func() time.Time) *Catalog {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	c := &Catalog{repo: repo, log: log, now: now, readers: DefaultReaders, items: map[string]Item{}}
	c.descs.last = metrics.MustDef(metrics.ItemLastSuccess).Desc()
	c.descs.rpo = metrics.MustDef(metrics.ItemRPO).Desc()
	c.descs.target = metrics.MustDef(metrics.ItemRPOTarget).Desc()
	c.descs.points = metrics.MustDef(metrics.ItemPoints).Desc()
	c.descs.items = metrics.MustDef(metrics.CatalogItems).Desc()
	c.descs.drillSuccess = metrics.MustDef(metrics.DrillLastSuccess).Desc()
	c.descs.drillOutcome = metrics.MustDef(metrics.DrillLastOutcome).Desc()
	c.descs.drillRestore = metrics.MustDef(metrics.DrillRestoreSeconds).Desc()
	c.descs.ok = metrics.MustDef(metrics.CatalogRefreshSuccess).Desc()
	c.descs.at = metrics.MustDef(metrics.CatalogRefreshTime).Desc()
	c.descs.took = metrics.MustDef(metrics.CatalogRefreshSeconds).Desc()
	reg.MustRegister(c)
	return c
}

// Run refreshes now and then every period until ctx ends. A failed refresh is logged and
// reported (sqlvault_catalog_refresh_success 0); the next one tries again.
func (c *Catalog) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("catalog refresh for the per-item metrics failed; their values are the last good refresh's", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads every protected item's points and policy from the vault.
func (c *Catalog) Refresh(ctx context.Context) error {
	c.refreshM.Lock()
	defer c.refreshM.Unlock()
	start := c.now()
	items, err := c.repo.Items(ctx)
	if err != nil {
		c.finish(nil, nil, false, start)
		return fmt.Errorf("list protected items: %w", err)
	}
	var protected []*vault.ProtectedItem
	for _, it := range items {
		if it.State == vault.ItemProtected {
			protected = append(protected, it)
		}
	}
	policies := c.policies(ctx, protected)

	results := make([]Item, len(protected))
	errs := make([]error, len(protected))
	sem := make(chan struct{}, c.readers)
	var wg sync.WaitGroup
	for i, it := range protected {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], errs[i] = c.item(ctx, it, policies[it.Policy])
		}()
	}
	wg.Wait()
	ok := map[int]bool{}
	for i, e := range errs {
		if e == nil {
			ok[i] = true
		}
	}
	order := make([]string, len(protected))
	fresh := make(map[string]Item, len(protected))
	for i, it := range protected {
		order[i] = it.ItemID
		if ok[i] {
			fresh[it.ItemID] = results[i]
		}
	}
	err = errors.Join(errs...)
	c.finish(order, fresh, err == nil, start)
	return err
}

// policies reads each policy the items name once (a vault of 2,000 items has a handful).
// A missing or invalid policy gives no target (and no target series), as `sqlvault status`
// shows "policy-missing".
func (c *Catalog) policies(ctx context.Context, items []*vault.ProtectedItem) map[string]*policy.Policy {
	out := map[string]*policy.Policy{}
	for _, it := range items {
		if _, seen := out[it.Policy]; seen {
			continue
		}
		out[it.Policy] = nil
		doc, err := c.repo.Policy(ctx, it.Policy)
		if err != nil {
			c.log.Debug("policy not readable for the RPO target", zap.String("policy", it.Policy), zap.Error(err))
			continue
		}
		var p policy.Policy
		if json.Unmarshal(doc, &p) == nil && p.Validate() == nil {
			out[it.Policy] = &p
		}
	}
	return out
}

func (c *Catalog) item(ctx context.Context, it *vault.ProtectedItem, p *policy.Policy) (Item, error) {
	out := Item{ID: it.ItemID, Instance: it.Instance, Database: it.Database, ProtectedSince: it.CreatedAt,
		LastSuccess: map[string]time.Time{}}
	if p != nil {
		out.Target = p.RPOTarget(it.AllowsKind(policy.KindLog))
	}
	sums, err := c.repo.ListPointSummaries(ctx, it.ItemID)
	if err != nil {
		return out, fmt.Errorf("item %s: %w", it.ItemID, err)
	}
	out.Points = len(sums)
	points := make([]planner.Point, 0, len(sums))
	for _, s := range sums {
		if s.FinishTime.After(out.LastSuccess[s.Type]) {
			out.LastSuccess[s.Type] = s.FinishTime
		}
		points = append(points, s.Point())
	}
	if p != nil && p.Drill != nil {
		out.Drilled = true
		if out.LastDrill, out.LastPassedDrill, err = c.repo.LastDrills(ctx, it.ItemID); err != nil {
			return out, fmt.Errorf("item %s: drills: %w", it.ItemID, err)
		}
	}
	if ranges := planner.Restorable(points); len(ranges) > 0 {
		last := ranges[len(ranges)-1]
		out.Restorable = last.To
		if last.To.Before(last.From) { // never, but a one-instant range is From == To
			out.Restorable = last.From
		}
	}
	return out, nil
}

func (c *Catalog) finish(order []string, fresh map[string]Item, ok bool, start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ok = ok
	c.took = c.now().Sub(start)
	if order == nil { // the item list itself failed: keep everything as it was
		return
	}
	items := make(map[string]Item, len(order))
	for _, id := range order {
		if it, ok := fresh[id]; ok {
			items[id] = it
		} else if prev, ok := c.items[id]; ok {
			items[id] = prev
		}
	}
	c.items, c.order = items, order
	if ok {
		c.at = c.now()
	}
}

// Items is the last refresh's view, in the vault's item order (for tests and callers that
// want the numbers without a scrape).
func (c *Catalog) Items() []Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Item, 0, len(c.order))
	for _, id := range c.order {
		if it, ok := c.items[id]; ok {
			out = append(out, it)
		}
	}
	return out
}

func (c *Catalog) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descs.last, c.descs.rpo, c.descs.target, c.descs.points, c.descs.items,
		c.descs.ok, c.descs.at, c.descs.took, c.descs.drillSuccess, c.descs.drillOutcome, c.descs.drillRestore} {
		ch <- d
	}
}

func (c *Catalog) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	c.mu.Lock()
	ok, at, took, n := c.ok, c.at, c.took, len(c.order)
	c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, it := range c.Items() {
		l := []string{it.ID, it.Instance, it.Database}
		for _, k := range kinds {
			if t, ok := it.LastSuccess[k]; ok {
				gauge(c.descs.last, unixSeconds(t), append(l, k)...)
			}
		}
		gauge(c.descs.rpo, it.RPO(now).Seconds(), l...)
		if it.Target > 0 {
			gauge(c.descs.target, it.Target.Seconds(), l...)
		}
		gauge(c.descs.points, float64(it.Points), l...)
		c.collectDrill(it, l, gauge)
	}
	gauge(c.descs.items, float64(n))
	gauge(c.descs.ok, boolFloat(ok))
	if !at.IsZero() {
		gauge(c.descs.at, unixSeconds(at))
	}
	gauge(c.descs.took, took.Seconds())
}

// collectDrill reports an item's drill series: the last outcome as 1 (and the other as 0,
// so an alert on outcome="failed" == 1 clears when a drill passes), the last passed drill's
// end, and the restore time of the newest drill that recovered the database.
func (c *Catalog) collectDrill(it Item, l []string, gauge func(*prometheus.Desc, float64, ...string)) {
	if !it.Drilled || it.LastDrill == nil {
		return
	}
	for _, o := range []string{protocol.DrillPassed, protocol.DrillFailed} {
		gauge(c.descs.drillOutcome, boolFloat(it.LastDrill.Outcome == o), append(l, o)...)
	}
	if p := it.LastPassedDrill; p != nil {
		gauge(c.descs.drillSuccess, unixSeconds(p.FinishedAt), l...)
	}
	switch {
	case it.LastDrill.RestoreSeconds > 0:
		gauge(c.descs.drillRestore, it.LastDrill.RestoreSeconds, l...)
	case it.LastPassedDrill != nil && it.LastPassedDrill.RestoreSeconds > 0:
		gauge(c.descs.drillRestore, it.LastPassedDrill.RestoreSeconds, l...)
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
