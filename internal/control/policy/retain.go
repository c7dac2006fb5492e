package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sqlvault/sqlvault/internal/domain"
)

// Point is a recovery point as retention sees it: the domain's record (a vault summary
// converts with vault.PointSummary.Point). Its RetainUntil, set on on-demand backups, keeps
// it until then whatever the policy; a zero Finish is taken as Start.
type Point = domain.Point

// BackupMaxDuration bounds how long a backup may run from its start to its commit: the
// scheduled Backup workflow's execution timeout (activities use it for the schedules'
// action). Retention uses it to know when no differential based on an older full can still
// be in flight.
const BackupMaxDuration = 48 * time.Hour

// Decision is retention's verdict on one point.
type Decision struct {
	PointID string
	Keep    bool
	// Reasons: why it is kept (every rule that keeps it, then what needs it), or, when it is
	// not, the one reason it expired.
	Reasons []string
}

// Retain decides which of one protected item's points to keep at instant now under p (see
// the package comment for the rules): one Decision per point, in input order. Points are
// assumed to have unique ids, as they do in the vault.
func Retain(points []Point, p Policy, now time.Time) []Decision {
	out := make([]Decision, len(points))
	for i, pt := range points {
		out[i].PointID = pt.ID
	}
	if err := p.Validate(); err != nil {
		// Deleting under a policy that does not hold together could delete anything.
		why := "policy is invalid, so nothing is deleted: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		for i := range out {
			out[i].Keep, out[i].Reasons = true, []string{why}
		}
		return out
	}
	loc, _ := location(p.Full.TimeZone)
	r := &retainer{pts: points, p: p, ret: p.Retention, loc: loc, now: now,
		keep: make([]bool, len(points)), own: make([][]string, len(points)),
		expired: make([]string, len(points)), needs: make([][]need, len(points))}
	r.order = make([]int, len(points))
	for i := range r.order {
		r.order[i] = i
	}
	// (Start, ID) order makes every choice below independent of the caller's order.
	slices.SortStableFunc(r.order, func(a, b int) int {
		if c := points[a].Start.Compare(points[b].Start); c != 0 {
			return c
		}
		return strings.Compare(points[a].ID, points[b].ID)
	})
	r.ownRules()
	r.keepInFlightBases()
	r.index()
	r.anchorLogs()
	r.keepDiffBases()
	for i := range out {
		out[i].Keep = r.keep[i]
		if r.keep[i] {
			out[i].Reasons = append(slices.Clone(r.own[i]), r.needReasons(i)...)
		} else {
			out[i].Reasons = []string{r.expired[i]}
		}
	}
	return out
}

type retainer struct {
	pts   []Point
	p     Policy
	ret   Retention
	loc   *time.Location
	now   time.Time
	order []int // indices of pts by (Start, ID)

	keep    []bool
	own     [][]string // reasons of the point's own rules
	expired []string   // why its own rules do not keep it
	needs   [][]need   // kept points that need it

	usable  []bool
	baseOf  map[int]int        // differential → its base full
	preds   map[chainKey][]int // logs by (database, LastLSN), in (Start, ID) order
	byLast  map[string][]int   // bases of each database, by LastLSN then (Start, ID)
	rank    []int              // position of each point in order
	covered map[int][]int      // memo: bases a log covers, in (Start, ID) order
}

type chainKey struct {
	guid string
	lsn  domain.LSN
}

type need struct {
	by   int    // the kept point that needs this one
	what string // "differential" or "log"
	why  string
}

func (r *retainer) cutoff(days int) time.Time { return r.now.In(r.loc).AddDate(0, 0, -days) }

// ownRules gives every point the verdict of its own retention rules.
func (r *retainer) ownRules() {
	var scheduled []int // scheduled fulls, in (Start, ID) order
	for _, i := range r.order {
		pt := r.pts[i]
		keep := func(format string, args ...any) {
			r.keep[i] = true
			r.own[i] = append(r.own[i], fmt.Sprintf(format, args...))
		}
		expire := func(format string, args ...any) { r.expired[i] = "expired: " + fmt.Sprintf(format, args...) }
		switch {
		case pt.Type != KindFull && pt.Type != KindDifferential && pt.Type != KindLog:
			keep("unknown backup type %q: retention leaves it alone", pt.Type)
		case pt.Start.IsZero():
			keep("no start time: retention cannot date it, so leaves it alone")
		case pt.RetainUntil != nil:
			if u := *pt.RetainUntil; r.now.Before(u) {
				keep("on-demand (kept until %s)", stamp(u))
			} else {
				expire("on-demand retention ended %s", stamp(u))
			}
		case pt.Type == KindFull && pt.CopyOnly:
			r.copyOnlyFull(i, keep, expire)
		case pt.Type == KindFull:
			scheduled = append(scheduled, i)
			if d := r.ret.Daily; d != nil && pt.Start.After(r.cutoff(d.Days)) {
				keep("daily (kept %s)", count(d.Days, "day"))
			}
		case pt.Type == KindDifferential:
			n := r.ret.DifferentialDays
			switch {
			case n == 0:
				expire("the policy keeps no differentials (retention.differentialDays is 0)")
			case pt.Start.After(r.cutoff(n)):
				keep("differential (kept %s)", count(n, "day"))
			default:
				expire("differential older than %s", count(n, "day"))
			}
		default:
			n := r.ret.LogDays
			switch {
			case n == 0:
				expire("the policy keeps no logs (retention.logDays is 0)")
			case pt.Start.After(r.cutoff(n)):
				keep("log (kept %s)", count(n, "day"))
			default:
				expire("log older than %s", count(n, "day"))
			}
		}
	}
	r.calendarRules(scheduled)
	for _, i := range scheduled {
		if !r.keep[i] {
			r.expired[i] = "expired: full outside every retention rule (" + r.fullRules() + ")"
		}
	}
}

// keepInFlightBases keeps the fulls that a differential not yet in the listing may be based
// on. SQL Server bases a differential on the newest non-copy-only full of the database, and a
// backup is only in the listing once committed, up to BackupMaxDuration after it started.
// So the newest full is kept, and an older one until its successor has been finished for
// BackupMaxDuration (a differential started before that finish commits by then). Without
// this, a short differential window and a weekly full let retention delete the base of the
// differential still streaming (issue 11, item 7).
//
// Only for items that take differentials (the policy schedules them, or the vault holds
// one, an on-demand differential): for the others no backup in flight needs an old full.
func (r *retainer) keepInFlightBases() {
	if r.p.Differential == nil && !slices.ContainsFunc(r.pts, func(p Point) bool { return p.Type == KindDifferential }) {
		return
	}
	next := map[string]int{} // database → the full after the one in hand (walking backwards)
	for k := len(r.order) - 1; k >= 0; k-- {
		i := r.order[k]
		pt := r.pts[i]
		if pt.Type != KindFull || pt.CopyOnly || pt.Start.IsZero() {
			continue
		}
		j, has := next[pt.DatabaseGUID]
		next[pt.DatabaseGUID] = i
		if r.keep[i] {
			continue
		}
		if !has {
			r.keep[i] = true
			r.own[i] = append(r.own[i], "the newest full: the base of differentials that may still be in flight")
			continue
		}
		finish := r.pts[j].Finish
		if finish.IsZero() {
			finish = r.pts[j].Start
		}
		if until := finish.Add(BackupMaxDuration); r.now.Before(until) {
			r.keep[i] = true
			r.own[i] = append(r.own[i], "a differential based on it may still be in flight until "+stamp(until))
		}
	}
}

// copyOnlyFull keeps an ad-hoc copy-only full as long as the policy's base rule keeps a
// scheduled full, at least.
func (r *retainer) copyOnlyFull(i int, keep func(string, ...any), expire func(string, ...any)) {
	pt := r.pts[i]
	if d := r.ret.Daily; d != nil {
		if pt.Start.After(r.cutoff(d.Days)) {
			keep("copy-only full, daily (kept %s)", count(d.Days, "day"))
		} else {
			expire("copy-only full older than %s (retention.daily)", count(d.Days, "day"))
		}
		return
	}
	w := r.ret.Weekly // Validate: a weekly full has retention.weekly
	if r.weekIndex(pt.Start) < w.Weeks {
		keep("copy-only full, weekly (kept %s)", count(w.Weeks, "week"))
	} else {
		expire("copy-only full older than %s (retention.weekly)", count(w.Weeks, "week"))
	}
}

func (r *retainer) fullRules() string {
	var rules []string
	if d := r.ret.Daily; d != nil {
		rules = append(rules, "daily "+count(d.Days, "day"))
	}
	if w := r.ret.Weekly; w != nil {
		rules = append(rules, "weekly "+count(w.Weeks, "week"))
	}
	if m := r.ret.Monthly; m != nil {
		rules = append(rules, "monthly "+count(m.Months, "month"))
	}
	if y := r.ret.Yearly; y != nil {
		rules = append(rules, "yearly "+count(y.Years, "year"))
	}
	return strings.Join(rules, ", ")
}

// dayNumber counts calendar days in the policy's zone (days since 1970-01-01 there).
func (r *retainer) dayNumber(t time.Time) int {
	y, m, d := t.In(r.loc).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// weekStart is the day number of the start of t's week (weeks start on Weekly.Weekday).
func (r *retainer) weekStart(t time.Time) int {
	back := (int(t.In(r.loc).Weekday()) - int(r.ret.Weekly.Weekday) + 7) % 7
	return r.dayNumber(t) - back
}

// weekIndex is how many weeks before now's week t's week is (0: this week).
func (r *retainer) weekIndex(t time.Time) int {
	return floorDiv(r.weekStart(r.now)-r.weekStart(t), 7)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// calendarRules applies the weekly, monthly and yearly rules to the scheduled fulls (in
// (Start, ID) order, so "first" is the earliest).
func (r *retainer) calendarRules(scheduled []int) {
	add := func(i int, format string, args ...any) {
		r.keep[i] = true
		r.own[i] = append(r.own[i], fmt.Sprintf(format, args...))
	}
	if w := r.ret.Weekly; w != nil {
		seen := map[int]bool{}
		for _, i := range scheduled {
			start := r.pts[i].Start
			ws := r.weekStart(start)
			first := !seen[ws]
			seen[ws] = true
			if r.weekIndex(start) >= w.Weeks {
				continue
			}
			if r.p.Full.Frequency == FrequencyWeekly {
				add(i, "weekly (kept %s)", count(w.Weeks, "week"))
			} else if first {
				day := time.Unix(int64(ws)*86400, 0).UTC()
				add(i, "weekly: first full of the week from %s %s (kept %s)", w.Weekday, day.Format("2006-01-02"), count(w.Weeks, "week"))
			}
		}
	}
	nowY, nowM, _ := r.now.In(r.loc).Date()
	if m := r.ret.Monthly; m != nil {
		for _, i := range r.monthPoints(scheduled, m.Week, m.Weekday, 0) {
			y, mo, _ := r.pts[i].Start.In(r.loc).Date()
			if (nowY*12+int(nowM))-(y*12+int(mo)) < m.Months {
				add(i, "monthly: %04d-%02d (kept %s)", y, int(mo), count(m.Months, "month"))
			}
		}
	}
	if yr := r.ret.Yearly; yr != nil {
		for _, i := range r.monthPoints(scheduled, yr.Week, yr.Weekday, yr.Month) {
			y := r.pts[i].Start.In(r.loc).Year()
			if nowY-y < yr.Years {
				add(i, "yearly: %d (kept %s)", y, count(yr.Years, "year"))
			}
		}
	}
}

// monthPoints returns the point of each month (only month, if not 0): its first full, or
// with week set the first full on or after that weekday of the month.
func (r *retainer) monthPoints(scheduled []int, week string, wd time.Weekday, month time.Month) []int {
	type ym struct {
		y int
		m time.Month
	}
	seen := map[ym]bool{}
	var out []int
	for _, i := range scheduled {
		y, m, d := r.pts[i].Start.In(r.loc).Date()
		if (month != 0 && m != month) || seen[ym{y, m}] {
			continue
		}
		if week != "" && d < dayOfMonth(y, m, week, wd) {
			continue
		}
		seen[ym{y, m}] = true
		out = append(out, i)
	}
	return out
}

// dayOfMonth is the day of the month of the week-th wd ("first" … "fourth", "last").
func dayOfMonth(y int, m time.Month, week string, wd time.Weekday) int {
	if week == WeekLast {
		last := time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC)
		return last.Day() - (int(last.Weekday())-int(wd)+7)%7
	}
	first := time.Date(y, m, 1, 12, 0, 0, 0, time.UTC)
	return 1 + (int(wd)-int(first.Weekday())+7)%7 + 7*slices.Index(weeks, week)
}

// usablePoint: can the point take part in a chain (the domain's rule, as the planner
// applies it)?
func usablePoint(p Point) bool { return p.Unusable() == "" }

// index builds the chain look-ups: differential bases, log predecessors, bases by LastLSN.
func (r *retainer) index() {
	n := len(r.pts)
	r.usable = make([]bool, n)
	r.rank = make([]int, n)
	r.baseOf = map[int]int{}
	r.preds = map[chainKey][]int{}
	r.byLast = map[string][]int{}
	r.covered = map[int][]int{}
	fullByCheckpoint := map[chainKey]int{}
	for k, i := range r.order {
		r.rank[i] = k
		pt := r.pts[i]
		r.usable[i] = usablePoint(pt)
		if !r.usable[i] {
			continue
		}
		switch pt.Type {
		case KindFull:
			if !pt.CopyOnly {
				// (Start, ID) order: with duplicate checkpoints the newest full wins, as
				// in the planner.
				fullByCheckpoint[chainKey{pt.DatabaseGUID, pt.CheckpointLSN}] = i
			}
		case KindLog:
			k := chainKey{pt.DatabaseGUID, pt.LastLSN}
			r.preds[k] = append(r.preds[k], i)
		}
	}
	for _, i := range r.order {
		pt := r.pts[i]
		if !r.usable[i] {
			continue
		}
		switch pt.Type {
		case KindDifferential:
			f, ok := fullByCheckpoint[chainKey{pt.DatabaseGUID, pt.DifferentialBaseLSN}]
			if !ok || !domain.DifferentialOf(&r.pts[i], &r.pts[f]) {
				continue // base full not in the vault: the differential restores nothing
			}
			r.baseOf[i] = f
		case KindFull:
		default:
			continue
		}
		r.byLast[pt.DatabaseGUID] = append(r.byLast[pt.DatabaseGUID], i)
	}
	for guid, bases := range r.byLast {
		slices.SortStableFunc(bases, func(a, b int) int {
			return r.pts[a].LastLSN.Compare(r.pts[b].LastLSN)
		})
		r.byLast[guid] = bases
	}
}

// coveredBases returns the bases log l can follow (the domain's rule: L.FirstLSN <= B.LastLSN
// < L.LastLSN, on B's fork), in (Start, ID) order.
func (r *retainer) coveredBases(l int) []int {
	if c, ok := r.covered[l]; ok {
		return c
	}
	pt := r.pts[l]
	bases := r.byLast[pt.DatabaseGUID]
	k := sort.Search(len(bases), func(k int) bool {
		return r.pts[bases[k]].LastLSN.Compare(pt.FirstLSN) >= 0
	})
	var out []int
	for ; k < len(bases) && r.pts[bases[k]].LastLSN.Compare(pt.LastLSN) < 0; k++ {
		if b := bases[k]; pt.Follows(&r.pts[b]) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b int) int { return r.rank[a] - r.rank[b] })
	r.covered[l] = out
	return out
}

// predecessors returns the logs log l may follow (the domain's rule), in (Start, ID) order.
func (r *retainer) predecessors(l int) []int {
	pt := &r.pts[l]
	cands := r.preds[chainKey{pt.DatabaseGUID, pt.FirstLSN}]
	for _, q := range cands {
		if !pt.Follows(&r.pts[q]) {
			// Another fork ends at the same LSN (rare): filter a copy.
			return slices.DeleteFunc(slices.Clone(cands), func(q int) bool { return !pt.Follows(&r.pts[q]) })
		}
	}
	return cands
}

func (r *retainer) need(i, by int, what, why string) {
	r.keep[i] = true
	r.needs[i] = append(r.needs[i], need{by: by, what: what, why: why})
}

// anchorLogs gives every run of kept logs a kept base to restore from (package comment).
func (r *retainer) anchorLogs() {
	window := r.cutoff(r.ret.LogDays)
	for _, i := range r.order {
		if !r.keep[i] || !r.usable[i] || r.pts[i].Type != KindLog {
			continue
		}
		if slices.ContainsFunc(r.predecessors(i), func(q int) bool { return r.keep[q] }) {
			continue // not the first of its run
		}
		target := window
		if r.pts[i].Start.Before(target) {
			target = r.pts[i].Start // a log kept for its own reason (on demand) before the window
		}
		r.anchor(i, target)
	}
}

// anchor walks back from first, the earliest kept log of a run, to a base that started at
// or before target, keeping what it passes.
func (r *retainer) anchor(first int, target time.Time) {
	for cur := first; ; {
		covered := r.coveredBases(cur)
		atOrBefore := func(b int) bool { return !r.pts[b].Start.After(target) }
		if slices.ContainsFunc(covered, func(b int) bool { return r.keep[b] && atOrBefore(b) }) {
			return
		}
		preds := r.predecessors(cur)
		if slices.ContainsFunc(preds, func(q int) bool { return r.keep[q] }) {
			return // joins an older run, anchored already
		}
		if b := r.pickBase(covered, atOrBefore); b >= 0 {
			r.need(b, first, "log", "start of its restore chain")
			return
		}
		if len(preds) > 0 {
			cur = preds[len(preds)-1] // the newest: the regular chain (copy-only logs end chains)
			r.need(cur, first, "log", "links it back to its base")
			continue
		}
		// The start of the chain: nothing earlier restores into it, so the oldest base it
		// covers reaches the most instants.
		if len(covered) > 0 {
			r.need(covered[0], first, "log", "start of its restore chain")
		}
		return
	}
}

// pickBase chooses among the covered bases that start at or before the target: the newest
// full (one restore), else the newest differential (its base full comes with it); -1: none.
func (r *retainer) pickBase(covered []int, ok func(int) bool) int {
	for _, kind := range []string{KindFull, KindDifferential} {
		for k := len(covered) - 1; k >= 0; k-- {
			if b := covered[k]; r.pts[b].Type == kind && ok(b) {
				return b
			}
		}
	}
	return -1
}

// keepDiffBases keeps the base full of every kept differential.
func (r *retainer) keepDiffBases() {
	for _, i := range r.order {
		if f, ok := r.baseOf[i]; ok && r.keep[i] {
			r.need(f, i, "differential", "its base full")
		}
	}
}

// needReasons says what needs point i: one line per kind of need, naming the newest needer.
func (r *retainer) needReasons(i int) []string {
	type group struct {
		what, why string
		newest    int
		n         int
	}
	var groups []*group
	for _, nd := range r.needs[i] {
		k := slices.IndexFunc(groups, func(g *group) bool { return g.what == nd.what && g.why == nd.why })
		if k < 0 {
			groups = append(groups, &group{what: nd.what, why: nd.why, newest: nd.by})
			k = len(groups) - 1
		}
		g := groups[k]
		g.n++
		if r.rank[nd.by] > r.rank[g.newest] {
			g.newest = nd.by
		}
	}
	var out []string
	for _, g := range groups {
		s := fmt.Sprintf("needed by kept %s %s (%s)", g.what, r.pts[g.newest].ID, g.why)
		if g.n > 1 {
			s += fmt.Sprintf(" and %d more", g.n-1)
		}
		out = append(out, s)
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// count spells n units ("1 day", "7 days").
func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// FullMaxAge is how old the newest full may be before a scheduled log or differential backup
// takes a full instead (domain.FullMaxAge); 0 for a policy that does not validate: no bound.
func (p Policy) FullMaxAge() time.Duration {
	if p.Validate() != nil {
		return 0
	}
	return domain.FullMaxAge(p.Full.Frequency == FrequencyWeekly)
}
