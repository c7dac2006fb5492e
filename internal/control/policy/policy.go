package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	// The tz database inside the binary: a worker without one (Windows, scratch images)
	// must still load "Europe/Paris", or it would judge the same policy differently.
	_ "time/tzdata"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Backup kinds, the keys of Schedules and the kinds Next takes (the vault's type names).
const (
	KindFull         = vault.BackupFull
	KindDifferential = vault.BackupDifferential
	KindLog          = vault.BackupLog
)

// Full frequencies.
const (
	FrequencyDaily  = protocol.FrequencyDaily
	FrequencyWeekly = protocol.FrequencyWeekly
)

// Limits, as Azure Backup's SQL Server policies have them.
const (
	// MinLogEveryMinutes: log backups no more often than every 15 minutes (each one is a
	// BACKUP LOG, a manifest and a Temporal workflow; more often costs more than it saves).
	MinLogEveryMinutes = 15
	// MaxLogEveryMinutes: at least one log backup a day, or the log file grows unbounded.
	MaxLogEveryMinutes = 24 * 60
	MaxDailyDays       = 9999
	MaxWeeklyWeeks     = 5163
	MaxMonthlyMonths   = 1188
	MaxYearlyYears     = 99
	// MaxDifferentialDays and MaxLogDays bound the short-term retention of the chain points.
	MaxDifferentialDays = 180
	MaxLogDays          = 35
)

// Policy is a backup policy: schedules per backup kind and retention. Its document is the
// wire type protocol.Policy (the same JSON); this package adds its rules.
type Policy protocol.Policy

// The parts of a policy (see protocol.Policy).
type (
	FullSchedule = protocol.FullSchedule
	DiffSchedule = protocol.DiffSchedule
	LogSchedule  = protocol.LogSchedule
	Retention    = protocol.Retention
	Keep         = protocol.Keep
	KeepWeekly   = protocol.KeepWeekly
	KeepMonthly  = protocol.KeepMonthly
	KeepYearly   = protocol.KeepYearly
	DrillSpec    = protocol.DrillSpec
)

// Weeks of the month for KeepMonthly.Week and KeepYearly.Week.
const (
	WeekFirst  = protocol.WeekFirst
	WeekSecond = protocol.WeekSecond
	WeekThird  = protocol.WeekThird
	WeekFourth = protocol.WeekFourth
	WeekLast   = protocol.WeekLast
)

var weeks = []string{WeekFirst, WeekSecond, WeekThird, WeekFourth, WeekLast}

// Validate reports every problem of p at once (errors.Join), each naming its field and
// saying what to do, so a person fixes a policy in one round.
func (p Policy) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(p.Name) == "" {
		bad("name", "required; give the policy a name (protected items refer to it)")
	}

	f := p.Full
	loc, locErr := location(f.TimeZone)
	if locErr != nil {
		bad("full.timeZone", "%v", locErr)
	}
	switch f.Frequency {
	case FrequencyDaily:
		if len(f.Weekdays) > 0 {
			bad("full.weekdays", "a daily full runs every day; remove the weekdays or use frequency %q", FrequencyWeekly)
		}
	case FrequencyWeekly:
		if len(f.Weekdays) == 0 {
			bad("full.weekdays", "a weekly full needs at least one weekday (0 Sunday … 6 Saturday)")
		}
		checkWeekdays("full.weekdays", f.Weekdays, bad)
	default:
		bad("full.frequency", "%q is not a frequency; use %q or %q", f.Frequency, FrequencyDaily, FrequencyWeekly)
	}
	if hm, ok := parseTimeOfDay(f.TimeOfDay); !ok {
		bad("full.timeOfDay", "%q is not a time of day; use \"HH:MM\" on a 24-hour clock, e.g. \"02:00\"", f.TimeOfDay)
	} else if locErr == nil {
		checkClockChange("full.timeOfDay", f.TimeOfDay, hm, loc, bad)
	}

	if d := p.Differential; d != nil {
		if f.Frequency == FrequencyDaily {
			bad("differential", "needs a weekly full (a daily full leaves no day for a differential)")
		}
		if len(d.Weekdays) == 0 {
			bad("differential.weekdays", "at least one weekday (0 Sunday … 6 Saturday)")
		}
		checkWeekdays("differential.weekdays", d.Weekdays, bad)
		if f.Frequency == FrequencyWeekly {
			for _, w := range sortedUnique(d.Weekdays) {
				if slices.Contains(f.Weekdays, w) {
					bad("differential.weekdays", "%s is also a full day, and a differential never runs on a full day; remove it from one of the lists", w)
				}
			}
		}
		if hm, ok := parseTimeOfDay(d.TimeOfDay); !ok {
			bad("differential.timeOfDay", "%q is not a time of day; use \"HH:MM\" on a 24-hour clock, e.g. \"02:00\"", d.TimeOfDay)
		} else if locErr == nil {
			checkClockChange("differential.timeOfDay", d.TimeOfDay, hm, loc, bad)
		}
	}

	if l := p.Log; l != nil {
		switch {
		case l.EveryMinutes < MinLogEveryMinutes:
			bad("log.everyMinutes", "%d is below the minimum of %d minutes (SQL Server log backups no more often than every %d minutes)",
				l.EveryMinutes, MinLogEveryMinutes, MinLogEveryMinutes)
		case l.EveryMinutes > MaxLogEveryMinutes:
			bad("log.everyMinutes", "%d exceeds the maximum of %d minutes (at least one log backup a day, or the log file keeps growing)",
				l.EveryMinutes, MaxLogEveryMinutes)
		}
	}

	p.validateRetention(bad)
	p.validateDrill(bad)
	return errors.Join(errs...)
}

// Drill limits.
const (
	// MaxDrillRandomInstantDays: a random instant no older than the longest log retention,
	// beyond which instants are no longer restorable.
	MaxDrillRandomInstantDays = MaxLogDays
	// MaxDrillsPerInstance bounds the scratch restores one instance runs at once: each is a
	// full restore and a DBCC CHECKDB, both heavy on I/O.
	MaxDrillsPerInstance = 16
)

// validateDrill checks the policy's restore drill; each problem names its field under "drill.".
func (p Policy) validateDrill(bad func(field, format string, args ...any)) {
	d := p.Drill
	if d == nil {
		return
	}
	switch d.Every {
	case protocol.DrillEveryDaily, protocol.DrillEveryWeekly:
	default:
		bad("drill.every", "%q is not a drill frequency; use %q or %q", d.Every, protocol.DrillEveryDaily, protocol.DrillEveryWeekly)
	}
	switch d.Pick {
	case protocol.DrillPickNewest:
		if d.RandomInstantDays != 0 {
			bad("drill.randomInstantDays", "only with pick %q; remove it or change the pick", protocol.DrillPickRandomInstant)
		}
	case protocol.DrillPickRandomInstant:
		switch {
		case p.Log == nil:
			bad("drill.pick", "%q needs a log schedule (without logs only the points themselves are restorable); use %q", d.Pick, protocol.DrillPickNewest)
		case d.RandomInstantDays < 1 || d.RandomInstantDays > MaxDrillRandomInstantDays:
			bad("drill.randomInstantDays", "%d is out of range; give 1 to %d days", d.RandomInstantDays, MaxDrillRandomInstantDays)
		case d.RandomInstantDays > p.Retention.LogDays && p.Retention.LogDays > 0:
			bad("drill.randomInstantDays", "%d reaches beyond retention.logDays (%d), where instants are no longer restorable; give at most %d",
				d.RandomInstantDays, p.Retention.LogDays, p.Retention.LogDays)
		}
	default:
		bad("drill.pick", "%q is not a drill pick; use %q or %q", d.Pick, protocol.DrillPickNewest, protocol.DrillPickRandomInstant)
	}
	if d.MaxPerInstance < 1 || d.MaxPerInstance > MaxDrillsPerInstance {
		bad("drill.maxPerInstance", "%d is out of range; give 1 to %d drills at once per instance", d.MaxPerInstance, MaxDrillsPerInstance)
	}
	if d.VM != "" && d.Instance == "" {
		bad("drill.vm", "only with drill.instance (the item's own VM restores when no instance is given)")
	}
	if strings.ContainsFunc(d.Instance+d.VM, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		bad("drill.instance", "holds a control character or line break")
	}
}

func (p Policy) validateRetention(bad func(field, format string, args ...any)) {
	r, f := p.Retention, p.Full
	switch f.Frequency {
	case FrequencyDaily:
		if r.Daily == nil {
			bad("retention.daily", "required for a daily full (how many days to keep each daily full)")
		}
	case FrequencyWeekly:
		if r.Weekly == nil {
			bad("retention.weekly", "required for a weekly full (how many weeks to keep each weekly full)")
		}
		if r.Daily != nil {
			bad("retention.daily", "only for a daily full; a weekly full is kept by retention.weekly")
		}
	}
	count := func(field string, n, limit int, unit string) {
		switch {
		case n < 1:
			bad(field, "%d is below the minimum of 1 %s", n, strings.TrimSuffix(unit, "s"))
		case n > limit:
			bad(field, "%d exceeds the maximum of %d", n, limit)
		}
	}
	if r.Daily != nil {
		count("retention.daily.days", r.Daily.Days, MaxDailyDays, "days")
	}
	if r.Weekly != nil {
		count("retention.weekly.weeks", r.Weekly.Weeks, MaxWeeklyWeeks, "weeks")
		checkWeekday("retention.weekly.weekday", r.Weekly.Weekday, bad)
	}
	if m := r.Monthly; m != nil {
		count("retention.monthly.months", m.Months, MaxMonthlyMonths, "months")
		p.checkWeekOfMonth("retention.monthly", m.Week, m.Weekday, bad)
	}
	if y := r.Yearly; y != nil {
		count("retention.yearly.years", y.Years, MaxYearlyYears, "years")
		if y.Month < time.January || y.Month > time.December {
			bad("retention.yearly.month", "%d is not a month; use 1 (January) … 12 (December)", y.Month)
		}
		p.checkWeekOfMonth("retention.yearly", y.Week, y.Weekday, bad)
	}

	switch {
	case r.DifferentialDays < 0:
		bad("retention.differentialDays", "%d is negative", r.DifferentialDays)
	case r.DifferentialDays > MaxDifferentialDays:
		bad("retention.differentialDays", "%d exceeds the maximum of %d", r.DifferentialDays, MaxDifferentialDays)
	case p.Differential != nil && r.DifferentialDays == 0:
		bad("retention.differentialDays", "required with a differential schedule (1 to %d days)", MaxDifferentialDays)
	case p.Differential == nil && r.DifferentialDays > 0:
		bad("retention.differentialDays", "only with a differential schedule; remove it or add one")
	}
	switch {
	case r.LogDays < 0:
		bad("retention.logDays", "%d is negative", r.LogDays)
	case r.LogDays > MaxLogDays:
		bad("retention.logDays", "%d exceeds the maximum of %d", r.LogDays, MaxLogDays)
	case p.Log != nil && r.LogDays == 0:
		bad("retention.logDays", "required with a log schedule (1 to %d days)", MaxLogDays)
	case p.Log == nil && r.LogDays > 0:
		bad("retention.logDays", "only with a log schedule; remove it or add one")
	}

	// A log restores only from a base at or before it. If every base before the log window
	// were deleted before the window reached it, the chain anchor could never move on and
	// logs would be kept for ever (see the package comment); so some base kind must live at
	// least as long as logs.
	if r.LogDays > 0 && r.LogDays <= MaxLogDays {
		fullDays := 0
		switch {
		case f.Frequency == FrequencyDaily && r.Daily != nil:
			fullDays = r.Daily.Days
		case f.Frequency == FrequencyWeekly && r.Weekly != nil:
			// A full taken on the last day of its week leaves the last kept week
			// 7*(Weeks-1) days (and a bit) later: the least the weekly rule promises.
			fullDays = 7 * (r.Weekly.Weeks - 1)
		}
		diffDays := 0
		if p.Differential != nil {
			diffDays = r.DifferentialDays
		}
		// Without a known frequency and its base rule there is nothing to compare (and that
		// problem is reported already).
		known := (f.Frequency == FrequencyDaily && r.Daily != nil) || (f.Frequency == FrequencyWeekly && r.Weekly != nil)
		if known && fullDays < r.LogDays && diffDays < r.LogDays {
			bad("retention.logDays", "%d outlives the points logs restore from (a full is kept at least %d days, a differential %d); keep fulls or differentials at least as long as logs, as a log is restorable only from an older full or differential",
				r.LogDays, fullDays, diffDays)
		}
	}
}

// checkWeekOfMonth checks the optional Week/Weekday choice of a monthly or yearly point.
func (p Policy) checkWeekOfMonth(field, week string, wd time.Weekday, bad func(field, format string, args ...any)) {
	if week == "" {
		if wd != time.Sunday {
			bad(field+".weekday", "only with %s.week (which %s of the month); set the week or remove the weekday", field, wd)
		}
		return
	}
	if !slices.Contains(weeks, week) {
		bad(field+".week", "%q is not a week of the month; use one of %s", week, strings.Join(weeks, ", "))
	}
	if !checkWeekday(field+".weekday", wd, bad) {
		return
	}
	// With a weekly full on other days, "the first full on or after the last Sunday" may
	// fall in the next month, and that month would have no point at all.
	if p.Full.Frequency == FrequencyWeekly && len(p.Full.Weekdays) > 0 && !slices.Contains(p.Full.Weekdays, wd) {
		bad(field+".weekday", "%s is not a full day (full.weekdays), so some months would have no point; pick one of the full days", wd)
	}
}

func checkWeekday(field string, w time.Weekday, bad func(field, format string, args ...any)) bool {
	if w < time.Sunday || w > time.Saturday {
		bad(field, "%d is not a weekday; use 0 (Sunday) … 6 (Saturday)", w)
		return false
	}
	return true
}

func checkWeekdays(field string, ws []time.Weekday, bad func(field, format string, args ...any)) {
	seen := map[time.Weekday]bool{}
	for _, w := range ws {
		if !checkWeekday(field, w, bad) {
			continue
		}
		if seen[w] {
			bad(field, "%s is listed twice (a backup runs at most once a day)", w)
		}
		seen[w] = true
	}
}

// sortedUnique returns the valid weekdays of ws, sorted, each once.
func sortedUnique(ws []time.Weekday) []time.Weekday {
	var out []time.Weekday
	for _, w := range ws {
		if w >= time.Sunday && w <= time.Saturday && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

// location loads an IANA zone. "" and "Local" are refused: both mean the machine's zone,
// and a policy must mean the same on every worker.
func location(name string) (*time.Location, error) {
	const use = `use an IANA name such as "UTC" or "Europe/Paris"`
	switch name {
	case "":
		return nil, errors.New("required; " + use)
	case "Local":
		return nil, errors.New(`"Local" depends on the machine; ` + use)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; %s", name, use)
	}
	return loc, nil
}

// clock is a time of day in minutes after midnight.
type clock struct{ hour, minute int }

// parseTimeOfDay reads exactly "HH:MM".
func parseTimeOfDay(s string) (clock, bool) {
	if len(s) != 5 || s[2] != ':' {
		return clock{}, false
	}
	digits := func(a, b byte) (int, bool) {
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return 0, false
		}
		return int(a-'0')*10 + int(b-'0'), true
	}
	h, ok1 := digits(s[0], s[1])
	m, ok2 := digits(s[3], s[4])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return clock{}, false
	}
	return clock{h, m}, true
}

// Years whose clock changes Validate checks: fixed, so the answer does not depend on when
// it is asked, and wide enough to see every rule a zone has now.
const clockChangeFrom, clockChangeTo = 2020, 2060

// checkClockChange refuses a time of day that the zone skips (spring forward) or repeats
// (fall back) on some day: Temporal's scheduler then skips the run that day, or runs it twice.
func checkClockChange(field, s string, c clock, loc *time.Location, bad func(field, format string, args ...any)) {
	wall := c.hour*60 + c.minute
	t := time.Date(clockChangeFrom, time.January, 1, 0, 0, 0, 0, loc)
	limit := time.Date(clockChangeTo, time.January, 1, 0, 0, 0, 0, loc)
	for {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(limit) {
			return
		}
		if !end.After(t) {
			// Go reports a zero-length zone at some year boundaries of a zone's projected
			// rules (e.g. Europe/Paris, 2040-12-31): no clock change there, step over it.
			t = t.Add(time.Hour)
			continue
		}
		_, before := end.Add(-time.Second).Zone()
		_, after := end.Zone()
		// The wall clock jumps from end+before to end+after: the minutes in between are
		// skipped (forward) or happen twice (backward).
		from, to := before, after
		what := "skips"
		if after < before {
			from, to, what = after, before, "repeats"
		}
		start := end.UTC().Add(time.Duration(from) * time.Second) // the wall clock, as UTC fields
		span := time.Duration(to-from) * time.Second
		startMin := start.Hour()*60 + start.Minute()
		// The affected minutes may wrap past midnight.
		delta := (wall - startMin + 24*60) % (24 * 60)
		if time.Duration(delta)*time.Minute < span {
			bad(field, "%s does not work in %s: daylight saving time %s it on some days (e.g. %s), and the schedule would skip or double that run; pick a time outside %s–%s",
				s, loc, what, start.Format("2006-01-02"), start.Format("15:04"), start.Add(span).Format("15:04"))
			return
		}
		t = end
	}
}

// RPOTarget is the recovery point objective the policy promises a database: the log
// interval where it takes log backups (takesLog: FULL or BULK_LOGGED recovery, and the policy
// has logs), else the full's interval (a day, or a week for a weekly full). `sqlvault
// status` and the per-item metrics judge RPO against it.
func (p Policy) RPOTarget(takesLog bool) time.Duration {
	target := 24 * time.Hour
	if p.Full.Frequency == FrequencyWeekly {
		target = 7 * 24 * time.Hour
	}
	if p.Log != nil && takesLog {
		target = time.Duration(p.Log.EveryMinutes) * time.Minute
	}
	return target
}

// LongestRetention is the longest any point of the policy is kept: the longest of its rules,
// with a month counted as 31 days and a year as 366, since it bounds from above (`sqlvault
// vault harden` sizes the container's WORM period with it, which must never end before a
// point the policy still keeps could be deleted). On-demand points carry their own
// retain-until and are not counted.
func (p Policy) LongestRetention() time.Duration {
	const day = 24 * time.Hour
	r := p.Retention
	days := max(r.DifferentialDays, r.LogDays)
	if r.Daily != nil {
		days = max(days, r.Daily.Days)
	}
	if r.Weekly != nil {
		days = max(days, 7*r.Weekly.Weeks)
	}
	if r.Monthly != nil {
		days = max(days, 31*r.Monthly.Months)
	}
	if r.Yearly != nil {
		days = max(days, 366*r.Yearly.Years)
	}
	return time.Duration(days) * day
}
