package policy

import (
	"strconv"
	"time"

	"github.com/sqlvault/sqlvault/internal/domain"

	"github.com/sqlvault/sqlvault/internal/control/planner"
)

// timeline builds points the way SQL Server numbers them (as internal/control/planner's tests do):
// a full or differential takes a checkpoint ck (FirstLSN = CheckpointLSN = ck, LastLSN =
// ck+1), a non-copy-only full moves the differential base and starts the log chain, a log
// covers [previous log's LastLSN, its marker+1). Some activity happens between backups.
type timeline struct {
	lsn               int64
	guid              string
	diffBase, logFrom domain.LSN
	points            []Point
}

func newTimeline() *timeline {
	return &timeline{lsn: 1_000_000, guid: "6f1c0b8e-0000-4000-8000-000000000001"}
}

func (tl *timeline) next() int64 {
	tl.lsn += 37
	v := tl.lsn
	tl.lsn++
	return v
}

func lsnStr(v int64) domain.LSN { return domain.LSN(strconv.FormatInt(v, 10)) }

func (tl *timeline) add(p Point) *Point {
	p.DatabaseGUID = tl.guid
	tl.points = append(tl.points, p)
	return &tl.points[len(tl.points)-1]
}

func (tl *timeline) full(id string, at time.Time, copyOnly bool) *Point {
	ck := tl.next()
	if !copyOnly {
		tl.diffBase = lsnStr(ck)
		if tl.logFrom == "" {
			tl.logFrom = lsnStr(ck)
		}
	}
	return tl.add(Point{ID: id, Type: KindFull, CopyOnly: copyOnly, FirstLSN: lsnStr(ck), CheckpointLSN: lsnStr(ck),
		LastLSN: lsnStr(ck + 1), Start: at})
}

// diff and log do nothing before the first full, as SQL Server refuses them (3035, 4214).
func (tl *timeline) diff(id string, at time.Time) *Point {
	if tl.diffBase == "" {
		return nil
	}
	ck := tl.next()
	return tl.add(Point{ID: id, Type: KindDifferential, FirstLSN: lsnStr(ck), CheckpointLSN: lsnStr(ck),
		LastLSN: lsnStr(ck + 1), DifferentialBaseLSN: tl.diffBase, Start: at})
}

func (tl *timeline) log(id string, at time.Time) *Point {
	if tl.logFrom == "" {
		return nil
	}
	m := tl.next()
	first, last := tl.logFrom, lsnStr(m+1)
	tl.logFrom = last
	return tl.add(Point{ID: id, Type: KindLog, FirstLSN: first, LastLSN: last, CheckpointLSN: lsnStr(m), Start: at})
}

// toPlanner converts points for internal/control/planner, the restore side that retention must not
// break.
func toPlanner(pts []Point) []planner.Point {
	out := make([]planner.Point, 0, len(pts))
	for _, p := range pts {
		p.Finish = p.Start.Add(time.Minute)
		out = append(out, p)
	}
	return out
}

func inRanges(rs []planner.Range, t time.Time) bool {
	for _, r := range rs {
		if (r.From.Equal(r.To) && t.Equal(r.From)) || (!t.Before(r.From) && t.Before(r.To)) {
			return true
		}
	}
	return false
}

func decisionsByID(ds []Decision) map[string]Decision {
	m := map[string]Decision{}
	for _, d := range ds {
		m[d.PointID] = d
	}
	return m
}

func ptr(t time.Time) *time.Time { return &t }
