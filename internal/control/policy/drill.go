package policy

import (
	"cmp"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// Restore drills are planned by one planner (sqlvault.DrillPlanner), not by a Temporal
// Schedule per item: schedules fire independently, so 2,000 jittered schedules would only
// make overlap unlikely, never bound it, and a slow instance would pile drills up. The
// planner instead starts what is due here, never more than a policy's MaxPerInstance on one
// target instance at once, and leaves the rest due for its next pass.

// DrillSlot is when, within each period (days from 00:00 UTC, weeks from Monday 00:00 UTC:
// time.Truncate counts from year 1, a Monday), an item's drill falls
// due: a hash of the item ID, so a fleet's items spread evenly over the period (2,000 weekly
// drills are about one every five minutes) and an item keeps its slot from week to week.
func DrillSlot(itemID string, period time.Duration) time.Duration {
	if period <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(itemID))
	return time.Duration(h.Sum64() % uint64(period))
}

// DrillDueAt is the slot an item's next drill answers at now, and whether it is due: the
// latest slot at or before now that no drill has started since (last is when the item's
// last drill started, zero if never).
func DrillDueAt(itemID string, d DrillSpec, last, now time.Time) (time.Time, bool) {
	period := d.Period()
	if period <= 0 {
		return time.Time{}, false
	}
	start := now.Truncate(period) // whatever now's zone
	slot := start.Add(DrillSlot(itemID, period))
	if slot.After(now) {
		slot = slot.Add(-period)
	}
	return slot, last.Before(slot)
}

// DrillCandidate is an item the planner may drill.
type DrillCandidate struct {
	ItemID string
	// Target is the instance the drill restores on (DrillTarget).
	Target string
	Spec   DrillSpec
	// Last is when the item's last drill started (zero if never).
	Last time.Time
}

// DrillTarget is the instance a drill of an item on instance restores on.
func DrillTarget(d DrillSpec, instance string) string {
	if d.Instance != "" {
		return d.Instance
	}
	return instance
}

// PlanDrills returns the candidates to start now: those due, longest-waiting first, at most
// their MaxPerInstance minus running (drills already running per upper-cased target
// instance) on each target. The result is the same whatever the order of cands.
func PlanDrills(cands []DrillCandidate, running map[string]int, now time.Time) []DrillCandidate {
	type due struct {
		c  DrillCandidate
		at time.Time
	}
	var dues []due
	for _, c := range cands {
		if at, ok := DrillDueAt(c.ItemID, c.Spec, c.Last, now); ok {
			dues = append(dues, due{c, at})
		}
	}
	slices.SortFunc(dues, func(a, b due) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.c.ItemID, b.c.ItemID))
	})
	busy := map[string]int{}
	for k, n := range running {
		busy[strings.ToUpper(k)] += n
	}
	var out []DrillCandidate
	for _, d := range dues {
		k := strings.ToUpper(d.c.Target)
		if busy[k] >= d.c.Spec.MaxPerInstance {
			continue
		}
		busy[k]++
		out = append(out, d.c)
	}
	return out
}
