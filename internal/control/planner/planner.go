package planner

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sqlvault/sqlvault/internal/domain"
)

// Point is a recovery point as the planner sees it: the domain's record (a vault summary
// converts with vault.PointSummary.Point, a manifest through vault.SummaryOf).
type Point = domain.Point

// Target is what to restore to: exactly one of a recovery point (its end) or an instant.
type Target struct {
	PointID string
	At      time.Time
}

// Step is one RESTORE of a plan.
type Step struct {
	Point Point
	// StopAt is set on the log steps of a point-in-time restore (RESTORE LOG … STOPAT).
	StopAt *time.Time
}

// Plan is a restore sequence that SQL Server will accept.
type Plan struct {
	// Steps: a full (or copy-only full), an optional differential, then logs, in order.
	Steps  []Step
	Target Target
	// RestoresTo describes the state reached, for logs and people: "lsn:<LastLSN>" of the
	// target point (the STOPATMARK spelling), or the target instant in RFC 3339 (UTC).
	RestoresTo string
}

// Range is a span of restorable instants: From inclusive, To exclusive; From == To means
// exactly that one instant. Fork is the recovery fork the database lived on during the
// range ("" when the points do not say): after a restore that recovered to an earlier
// point, the instants before and after it belong to different forks, and each range
// belongs to one.
type Range struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Fork string    `json:"fork,omitempty"`
}

var (
	// ErrNoPoints: there is nothing to plan from.
	ErrNoPoints = errors.New("planner: no recovery points")
	// ErrUnknownPoint: the target names a point that is not among the points.
	ErrUnknownPoint = errors.New("planner: unknown recovery point")
	// ErrInvalidTarget: the target sets neither or both of PointID and At.
	ErrInvalidTarget = errors.New("planner: a restore target names exactly one of a recovery point or an instant")
	// ErrNoChain: the target point exists but no unbroken chain of the points reaches it
	// (a log after a gap, a differential whose base full is missing, a malformed point).
	ErrNoChain = errors.New("planner: no unbroken restore chain reaches the recovery point")
)

// NotRestorableError says an instant cannot be restored and which instants nearby can.
type NotRestorableError struct {
	Target time.Time
	// Before and After are the nearest restorable instants on either side (nil if none).
	// Before is rounded down to a whole second when that stays restorable, so it can be
	// typed back as shown.
	Before, After *time.Time
}

func (e *NotRestorableError) Error() string {
	f := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	const pick = "sqlvault's `restorable` ranges"
	switch {
	case e.Before != nil && e.After != nil:
		return fmt.Sprintf("%s is not restorable: the nearest restorable instants are %s (before) and %s (after); pick one of those, or a time inside %s",
			f(e.Target), f(*e.Before), f(*e.After), pick)
	case e.Before != nil:
		return fmt.Sprintf("%s is not restorable: the latest restorable instant is %s (before) and nothing after it is restorable; pick that, or a time inside %s",
			f(e.Target), f(*e.Before), pick)
	case e.After != nil:
		return fmt.Sprintf("%s is not restorable: the earliest restorable instant is %s (after) and nothing before it is restorable; pick that, or a time inside %s",
			f(e.Target), f(*e.After), pick)
	default:
		return fmt.Sprintf("%s is not restorable: no instant is, as no full backup with an unbroken chain is in the vault; take a full backup first",
			f(e.Target))
	}
}

// PlanRestore chooses the restore sequence for t (see the package comment for the rules).
func PlanRestore(points []Point, t Target) (Plan, error) {
	if (t.PointID == "") == t.At.IsZero() {
		return Plan{}, fmt.Errorf("%w (point %q, instant %v)", ErrInvalidTarget, t.PointID, t.At)
	}
	if len(points) == 0 {
		return Plan{}, ErrNoPoints
	}
	groups := buildGroups(points)
	if t.PointID != "" {
		return planToPoint(points, groups, t)
	}
	var best *candidate
	for _, g := range groups {
		if c := g.planAt(t.At); c != nil && (best == nil || c.better(best)) {
			best = c
		}
	}
	if best == nil {
		return Plan{}, notRestorable(t.At, restorable(groups))
	}
	plan := Plan{Target: t, RestoresTo: t.At.UTC().Format(time.RFC3339Nano)}
	for i, s := range best.steps() {
		step := Step{Point: s}
		if i >= best.base.len() {
			at := t.At // a copy per step: a caller mutating one StopAt must not move the others
			step.StopAt = &at
		}
		plan.Steps = append(plan.Steps, step)
	}
	return plan, nil
}

func planToPoint(points []Point, groups []*group, t Target) (Plan, error) {
	idx := slices.IndexFunc(points, func(p Point) bool { return p.ID == t.PointID })
	if idx < 0 {
		return Plan{}, fmt.Errorf("%w %q", ErrUnknownPoint, t.PointID)
	}
	p := points[idx]
	if why := unusable(p); why != "" {
		return Plan{}, fmt.Errorf("%w: %s %s", ErrNoChain, p.ID, why)
	}
	g, i := locate(groups, &points[idx])
	var c *candidate
	switch p.Type {
	case domain.Full:
		c = &candidate{g: g, base: base{full: i, diff: -1}, first: -1}
	case domain.Differential:
		f, ok := g.diffBase[i]
		if !ok {
			return Plan{}, fmt.Errorf("%w: differential %s has base checkpoint LSN %s, and no full in the vault has it (was a full taken by another tool?)",
				ErrNoChain, p.ID, p.DifferentialBaseLSN)
		}
		c = &candidate{g: g, base: base{full: f, diff: i}, first: -1}
	default:
		if c = g.planToLog(i); c == nil {
			return Plan{}, fmt.Errorf("%w: no full or differential in the vault starts an unbroken log chain to %s (a log backup is missing before it)",
				ErrNoChain, p.ID)
		}
	}
	plan := Plan{Target: t, RestoresTo: "lsn:" + string(p.LastLSN)}
	for _, s := range c.steps() {
		plan.Steps = append(plan.Steps, Step{Point: s})
	}
	return plan, nil
}

// Restorable returns the instants the points can restore to: sorted, non-overlapping ranges,
// merged where they overlap or touch. An instant base.Start right where a half-open range
// ends stays a separate one-instant Range, since Range cannot say "To inclusive".
func Restorable(points []Point) []Range {
	return restorable(buildGroups(points))
}

// locate finds the group and index of a usable point.
func locate(groups []*group, p *Point) (*group, int) {
	for _, g := range groups {
		if g.pts[0].DatabaseGUID == p.DatabaseGUID {
			return g, slices.Index(g.pts, p)
		}
	}
	panic("planner: usable point in no group") // buildGroups puts every usable point in one
}

// unusable says why p cannot take part in any chain, or "" if it can (the domain's rule).
func unusable(p Point) string { return p.Unusable() }

// group is the usable points of one database (one DatabaseGUID), indexed for planning.
type group struct {
	pts   []*Point // into the caller's slice, which is only read
	bases []base   // every full alone, and every full with each of its differentials
	// logs and logsByLast are the logs sorted by (FirstLSN, Start, ID) and (LastLSN, Start,
	// ID). A log's successors (FirstLSN == its LastLSN) are logs[succ[i][0]:succ[i][1]],
	// its predecessors logsByLast[pred[i][0]:pred[i][1]], found by one merge of the two
	// orders. (Maps of lists cost more to build than a whole plan.)
	logs, logsByLast []int
	succ, pred       [][2]int32
	// maxLast[k] is the greatest LastLSN of logs[:k+1]: it lets firstLogs stop scanning
	// back as soon as no earlier log can still span an LSN.
	maxLast  []domain.LSN
	diffBase map[int]int // differential → its base full
}

// next returns the logs that may follow log i, in (Start, ID) order.
func (g *group) next(i int) []int { return g.logs[g.succ[i][0]:g.succ[i][1]] }

// prev returns the logs that log i may follow, in (Start, ID) order.
func (g *group) prev(i int) []int { return g.logsByLast[g.pred[i][0]:g.pred[i][1]] }

// follows reports whether log s may be restored right after point i (a log).
func (g *group) follows(i, s int) bool { return g.pts[s].Follows(g.pts[i]) }

func holds(p *Point, t time.Time) bool { return p.HoldsInstant(t) }

func firstLSN(p *Point) domain.LSN { return p.FirstLSN }
func lastLSN(p *Point) domain.LSN  { return p.LastLSN }

// link sets, for each log in from (sorted by fromKey), the range of to (sorted by toKey)
// whose toKey equals its fromKey. Both orders ascend, so one pass over each does it.
func (g *group) link(from []int, fromKey func(*Point) domain.LSN, to []int, toKey func(*Point) domain.LSN, out [][2]int32) {
	j := 0
	for _, i := range from {
		l := fromKey(g.pts[i])
		for j < len(to) && toKey(g.pts[to[j]]).Compare(l) < 0 {
			j++
		}
		k := j
		for k < len(to) && toKey(g.pts[to[k]]).Compare(l) == 0 {
			k++
		}
		out[i] = [2]int32{int32(j), int32(k)}
	}
}

// base is where a chain starts: a full, and optionally one of its differentials (-1: none).
type base struct{ full, diff int }

func (b base) len() int {
	if b.diff < 0 {
		return 1
	}
	return 2
}

// last is the point the logs must continue from.
func (b base) last() int {
	if b.diff < 0 {
		return b.full
	}
	return b.diff
}

func byStartID(a, b *Point) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func buildGroups(points []Point) []*group {
	byGUID := map[string][]*Point{}
	var guids []string
	for i := range points {
		p := &points[i]
		if unusable(*p) != "" {
			continue
		}
		if _, ok := byGUID[p.DatabaseGUID]; !ok {
			guids = append(guids, p.DatabaseGUID)
		}
		byGUID[p.DatabaseGUID] = append(byGUID[p.DatabaseGUID], p)
	}
	slices.Sort(guids)
	groups := make([]*group, 0, len(guids))
	for _, guid := range guids {
		groups = append(groups, newGroup(byGUID[guid]))
	}
	return groups
}

func newGroup(pts []*Point) *group {
	// Putting the points in (Start, ID) order first makes every index below, and so every
	// tie that falls back to index order, independent of the caller's order.
	slices.SortStableFunc(pts, byStartID)
	g := &group{pts: pts, diffBase: map[int]int{}}
	baseByCheckpoint := map[domain.LSN]int{}
	var fulls, diffs []int
	for i, p := range pts {
		switch p.Type {
		case domain.Full:
			fulls = append(fulls, i)
			if !p.CopyOnly {
				// Points are in (Start, ID) order, so with (impossible in practice)
				// duplicate checkpoints the newest full wins.
				baseByCheckpoint[p.CheckpointLSN] = i
			}
		case domain.Differential:
			diffs = append(diffs, i)
		case domain.Log:
			g.logs = append(g.logs, i)
		}
	}
	diffsOf := map[int][]int{}
	for _, d := range diffs {
		f, ok := baseByCheckpoint[pts[d].DifferentialBaseLSN]
		// A differential older than its supposed base cannot be of it; the manifests are
		// inconsistent and the pair is not trusted.
		if !ok || pts[d].Start.Before(pts[f].Start) {
			continue
		}
		g.diffBase[d] = f
		diffsOf[f] = append(diffsOf[f], d)
	}
	for _, f := range fulls {
		g.bases = append(g.bases, base{full: f, diff: -1})
		for _, d := range diffsOf[f] {
			g.bases = append(g.bases, base{full: f, diff: d})
		}
	}
	byLSN := func(key func(*Point) domain.LSN) func(a, b int) int {
		return func(a, b int) int {
			if c := key(pts[a]).Compare(key(pts[b])); c != 0 {
				return c
			}
			return a - b // index order is (Start, ID) order
		}
	}
	g.logsByLast = slices.Clone(g.logs)
	slices.SortFunc(g.logs, byLSN(firstLSN))
	slices.SortFunc(g.logsByLast, byLSN(lastLSN))
	g.succ, g.pred = make([][2]int32, len(pts)), make([][2]int32, len(pts))
	g.link(g.logsByLast, lastLSN, g.logs, firstLSN, g.succ)
	g.link(g.logs, firstLSN, g.logsByLast, lastLSN, g.pred)
	g.maxLast = make([]domain.LSN, len(g.logs))
	for k, i := range g.logs {
		l := pts[i].LastLSN
		if k > 0 && g.maxLast[k-1].Compare(l) > 0 {
			l = g.maxLast[k-1]
		}
		g.maxLast[k] = l
	}
	return g
}

// firstLogs calls visit for every log that may follow the base b: L.FirstLSN <= B.LastLSN <
// L.LastLSN, on B's recovery fork. Callers choose among them with a total order, so the
// visiting order is free.
func (g *group) firstLogs(b base, visit func(i int)) {
	after := g.pts[b.last()].LastLSN
	fork := g.pts[b.last()].Fork
	k := sort.Search(len(g.logs), func(k int) bool {
		return g.pts[g.logs[k]].FirstLSN.Compare(after) > 0
	}) - 1
	for ; k >= 0 && g.maxLast[k].Compare(after) > 0; k-- {
		if i := g.logs[k]; g.pts[i].LastLSN.Compare(after) > 0 && g.pts[i].Continues(after, fork) {
			visit(i)
		}
	}
}

// candidate is a valid chain: its base, then nlogs logs from first on along next (none for
// a base restored on its own). Only the winner is walked into a list of points: walking
// every base's run would make a plan cost bases × logs.
type candidate struct {
	g     *group
	base  base
	first int
	nlogs int
	next  []int32
}

func (c *candidate) steps() []Point {
	s := make([]Point, 0, c.base.len()+c.nlogs)
	s = append(s, *c.g.pts[c.base.full])
	if c.base.diff >= 0 {
		s = append(s, *c.g.pts[c.base.diff])
	}
	for i, n := c.first, 0; n < c.nlogs; i, n = int(c.next[i]), n+1 {
		s = append(s, *c.g.pts[i])
	}
	return s
}

// better is the order between chains that reach the same target: fewest steps (each step
// is a RESTORE to download and run), then the newest full, then the newest differential.
// A base has one chain per target, so that is total but for duplicate ids across databases,
// which the GUID settles.
func (c *candidate) better(o *candidate) bool {
	if a, b := c.base.len()+c.nlogs, o.base.len()+o.nlogs; a != b {
		return a < b
	}
	cf, of := c.g.pts[c.base.full], o.g.pts[o.base.full]
	if x := byStartID(cf, of); x != 0 {
		return x > 0
	}
	if (c.base.diff < 0) != (o.base.diff < 0) {
		return c.base.diff >= 0
	}
	if c.base.diff >= 0 {
		if x := byStartID(c.g.pts[c.base.diff], o.g.pts[o.base.diff]); x != 0 {
			return x > 0
		}
	}
	return cf.DatabaseGUID < of.DatabaseGUID
}

// shorter orders two logs that both lead to the target: fewer steps from there (dist), then
// the earlier one, which leaves less log to read and makes the choice fixed.
func shorter(g *group, dist []int32, a, b int) bool {
	if dist[a] != dist[b] {
		return dist[a] < dist[b]
	}
	return byStartID(g.pts[a], g.pts[b]) < 0
}

// planAt returns the best chain of g to instant t, or nil.
func (g *group) planAt(t time.Time) *candidate {
	// reach[i]: how many logs, from i inclusive, up to and including the first log whose
	// Start is after t; 0 when the run from i breaks first. Successors have a greater
	// FirstLSN than i (they start at its LastLSN, which is after its FirstLSN), so going
	// down the FirstLSN order computes every successor before its predecessors.
	reach := make([]int32, len(g.pts))
	next := make([]int32, len(g.pts))
	for k := len(g.logs) - 1; k >= 0; k-- {
		i := g.logs[k]
		next[i] = -1
		if g.pts[i].Start.After(t) {
			if holds(g.pts[i], t) {
				reach[i] = 1 // t < L.Start: this log holds t, the chain ends here
			}
			continue
		}
		best := -1
		for _, s := range g.next(i) {
			if reach[s] > 0 && g.follows(i, s) && (best < 0 || shorter(g, reach, s, best)) {
				best = s
			}
		}
		if best >= 0 {
			reach[i], next[i] = reach[best]+1, int32(best)
		}
	}
	var best *candidate
	for _, b := range g.bases {
		if g.pts[b.last()].Start.After(t) || g.pts[b.full].Start.After(t) {
			continue
		}
		first := -1
		g.firstLogs(b, func(i int) {
			if reach[i] > 0 && (first < 0 || shorter(g, reach, i, first)) {
				first = i
			}
		})
		c := &candidate{g: g, base: b, first: first, next: next}
		switch {
		case first >= 0:
			c.nlogs = int(reach[first])
		case g.pts[b.last()].Start.Equal(t):
			// No log carries the base on to t, but t is the base's own instant.
		default:
			continue
		}
		if best == nil || c.better(best) {
			best = c
		}
	}
	return best
}

// planToLog returns the shortest chain of g that ends with the log x, or nil.
func (g *group) planToLog(x int) *candidate {
	// dist[i]: logs from i to x inclusive along the shortest unbroken run (0: none),
	// found breadth-first backwards from x over L[n].LastLSN == L[n+1].FirstLSN.
	dist := make([]int32, len(g.pts))
	toward := make([]int32, len(g.pts))
	dist[x], toward[x] = 1, -1
	queue := make([]int, 0, len(g.logs))
	queue = append(queue, x)
	for head := 0; head < len(queue); head++ {
		y := queue[head]
		for _, p := range g.prev(y) {
			if dist[p] == 0 && g.follows(p, y) {
				dist[p], toward[p] = dist[y]+1, int32(y)
				queue = append(queue, p)
			}
		}
	}
	var best *candidate
	for _, b := range g.bases {
		first := -1
		g.firstLogs(b, func(i int) {
			if dist[i] > 0 && (first < 0 || shorter(g, dist, i, first)) {
				first = i
			}
		})
		if first < 0 {
			continue
		}
		c := &candidate{g: g, base: b, first: first, nlogs: int(dist[first]), next: toward}
		if best == nil || c.better(best) {
			best = c
		}
	}
	return best
}

// span is a set of instants [from, to) or, with closed, [from, to], on one recovery fork.
type span struct {
	from, to time.Time
	closed   bool
	fork     string
}

// restorable walks every chain once, forward: from[i] is the earliest instant at which some
// chain has restored everything before log i (the latest start among its base and earlier
// logs), so log i holds [from[i], i.Start) — less, for a log that spans a fork point, the
// instants before its fork began. planAt decides an instant by the same rules.
func restorable(groups []*group) []Range {
	var spans []span
	for _, g := range groups {
		from := make([]time.Time, len(g.pts))
		reached := make([]bool, len(g.pts))
		offer := func(i int, at time.Time) {
			if !reached[i] || at.Before(from[i]) {
				from[i], reached[i] = at, true
			}
		}
		for _, b := range g.bases {
			at := g.pts[b.last()].Start
			if f := g.pts[b.full].Start; f.After(at) {
				at = f
			}
			spans = append(spans, span{from: at, to: at, closed: true, fork: g.pts[b.last()].Fork})
			g.firstLogs(b, func(i int) { offer(i, at) })
		}
		// FirstLSN order puts every log after the logs it may follow.
		for _, i := range g.logs {
			if !reached[i] {
				continue
			}
			p := g.pts[i]
			lo := from[i]
			if p.SpansFork() {
				switch {
				case p.ForkTime == nil:
					lo = p.Start
				case p.ForkTime.After(lo):
					lo = *p.ForkTime
				}
			}
			if p.Start.After(lo) {
				spans = append(spans, span{from: lo, to: p.Start, fork: p.Fork})
			}
			next := from[i]
			if p.Start.After(next) {
				next = p.Start
			}
			for _, s := range g.next(i) {
				if g.follows(i, s) {
					offer(s, next)
				}
			}
		}
	}
	return mergeSpans(spans)
}

// mergeSpans merges the spans of each fork where they overlap or touch, and returns them
// all as ranges sorted by start (ranges of different forks are never merged: an instant
// may be restorable on two forks only when the points do not say when a fork began).
func mergeSpans(spans []span) []Range {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int {
		if c := strings.Compare(a.fork, b.fork); c != 0 {
			return c
		}
		if c := a.from.Compare(b.from); c != 0 {
			return c
		}
		return a.to.Compare(b.to)
	})
	merged := []span{spans[0]}
	for _, s := range spans[1:] {
		cur := &merged[len(merged)-1]
		// Every span includes its from, so s joins cur when it starts at or before cur's
		// end: overlapping, or touching [a, b) ∪ [b, c).
		if s.fork != cur.fork || s.from.After(cur.to) {
			merged = append(merged, s)
			continue
		}
		switch c := s.to.Compare(cur.to); {
		case c > 0:
			cur.to, cur.closed = s.to, s.closed
		case c == 0:
			cur.closed = cur.closed || s.closed
		}
	}
	var out []Range
	for _, s := range merged {
		if s.from.Before(s.to) {
			out = append(out, Range{From: s.from, To: s.to, Fork: s.fork})
		}
		if s.closed {
			// [a, b] is [a, b) and the instant b.
			out = append(out, Range{From: s.to, To: s.to, Fork: s.fork})
		}
	}
	slices.SortStableFunc(out, func(a, b Range) int {
		if c := a.From.Compare(b.From); c != 0 {
			return c
		}
		return a.To.Compare(b.To)
	})
	return out
}

// latest is the last instant of r, rounded down to a whole second when that stays inside r.
func latest(r Range) time.Time {
	if r.From.Equal(r.To) {
		return r.From
	}
	last := r.To.Add(-time.Nanosecond)
	if s := last.Truncate(time.Second); !s.Before(r.From) {
		return s
	}
	return last
}

func notRestorable(t time.Time, ranges []Range) *NotRestorableError {
	e := &NotRestorableError{Target: t}
	for _, r := range ranges {
		if r.From.After(t) {
			a := r.From
			e.After = &a
			break
		}
		if b := latest(r); b.Before(t) && (e.Before == nil || b.After(*e.Before)) {
			e.Before = &b
		}
	}
	return e
}
