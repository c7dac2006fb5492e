package control

import (
	"fmt"
	"time"

	"github.com/sqlvault/sqlvault/internal/domain"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// localStopAt turns the instant at of a point-in-time plan into what RESTORE LOG … STOPAT
// takes: a datetime on the clock of the server that wrote the log, with no offset
// (Microsoft, RESTORE: STOPAT = { 'datetime' | @datetime_var }; the times in a log are that
// server's local time, see internal/agent/sqlserver/localtime.go). Recovery points hold UTC and
// the server's offset when each backup ran (vault.BackupInfo.ServerUTCOffsetMinutes, in
// the summaries the plan was made from, so planning still reads no manifest).
//
// Only the last log step stops inside its log; the earlier ones end before at and roll
// forward whole. They carry the same STOPAT (Microsoft's advice for a point-in-time
// sequence, a guard against rolling past the point) while no offset change lies between
// their start and at; an earlier log with a change after it gets none: after an autumn
// change its local times can lie after at's local time (01:50 EDT comes before 01:30 EST),
// and a STOPAT there would stop it early.
//
// The last log holds at. Its local time is exact when the server's offset was the same at
// the start of the step before and at this log's start: no offset change lies in the log,
// so its local times run forward with its instants. When they differ, a daylight-saving
// change lies inside the log; whether at falls before or after it is not known from msdb,
// and its local time may occur twice in the log (SQL Server then stops at the first log
// record later than the STOPAT time, in log order: the earlier occurrence — the simulator
// models that and pins it in TestInstanceClockIsLocalTimeWithDST) or not at all. sqlvault
// refuses such an instant (AmbiguousServerTime) rather than restore another one, and names
// the nearest instants it can restore.
func localStopAt(at time.Time, steps []protocol.RestoreStepPlan, byID map[string]*vault.PointSummary) error {
	last := -1
	for i := range steps {
		if steps[i].StopAt != nil {
			last = i
		}
	}
	if last < 1 {
		return nil
	}
	lm, pm := byID[steps[last].PointID], byID[steps[last-1].PointID]
	off := lm.ServerUTCOffsetMinutes
	if off == nil {
		return nil // a point from before offsets were recorded: its times are local already
	}
	if prev := pm.ServerUTCOffsetMinutes; prev != nil && *prev != *off {
		return protocol.UserError(protocol.ErrAmbiguousServerTime,
			"%s lies in log backup %s, between %s and %s, across which SQL Server's clock changed from UTC%s to UTC%s "+
				"(a daylight-saving change): RESTORE LOG … STOPAT takes the server's local time without an offset, and "+
				"local times in that log do not name one instant each, so sqlvault will not guess. Restore to an instant "+
				"before %s or at or after %s, or to recovery point %s or %s",
			at.UTC().Format(time.RFC3339Nano), lm.PointID, pm.StartTime.UTC().Format(time.RFC3339),
			lm.StartTime.UTC().Format(time.RFC3339), offsetString(*prev), offsetString(*off),
			pm.StartTime.UTC().Format(time.RFC3339), lm.StartTime.UTC().Format(time.RFC3339),
			pm.PointID, lm.PointID)
	}
	local := domain.ToServerLocal(at, *off).Format(protocol.LocalTimeLayout)
	// From the last log back: a step keeps STOPAT while the server's offset at its start
	// (the start of the step before it) and at every later step is the instant's offset.
	uniform := true
	for i := last; i >= 1; i-- {
		if steps[i].StopAt == nil {
			continue
		}
		same := func(o *int) bool { return o != nil && *o == *off }
		// (The last step's own start was checked above, where an older point before it is
		// let through.)
		if !same(byID[steps[i].PointID].ServerUTCOffsetMinutes) || (i < last && !same(byID[steps[i-1].PointID].ServerUTCOffsetMinutes)) {
			uniform = false
		}
		if uniform {
			steps[i].StopAtLocal = local
		} else {
			steps[i].StopAt = nil
		}
	}
	return nil
}

func offsetString(minutes int) string {
	sign := "+"
	if minutes < 0 {
		sign, minutes = "-", -minutes
	}
	return fmt.Sprintf("%s%02d:%02d", sign, minutes/60, minutes%60)
}
