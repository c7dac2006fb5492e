package policy

import (
	"fmt"
	"time"
)

// Schedule is when one backup kind runs, in plain terms: the control side turns it into a
// Temporal schedule spec (activities/control), and Next computes the same instants.
type Schedule struct {
	// Calendar kinds (full, differential): at Hour:Minute on Weekdays (ascending, no
	// repeats) in TimeZone, second 0.
	Hour, Minute int
	Weekdays     []time.Weekday
	// Interval kinds (log): every Every, counted from the Unix epoch (the zone is ignored).
	Every time.Duration
	// TimeZone is the policy's (FullSchedule.TimeZone), set for every kind so every
	// schedule of a policy reads alike.
	TimeZone string
	// Comment says which policy and kind the schedule is for.
	Comment string
}

// Schedules returns when each scheduled backup kind runs, keyed by KindFull,
// KindDifferential and KindLog (only the kinds p schedules). It returns nil for a policy
// that does not Validate: a schedule must never be built from a policy that was not checked.
func (p Policy) Schedules() map[string]Schedule {
	if p.Validate() != nil {
		return nil
	}
	out := map[string]Schedule{}
	full, _ := parseTimeOfDay(p.Full.TimeOfDay)
	days := allWeekdays
	if p.Full.Frequency == FrequencyWeekly {
		days = sortedUnique(p.Full.Weekdays)
	}
	out[KindFull] = p.calendar(KindFull, full, days)
	if d := p.Differential; d != nil {
		c, _ := parseTimeOfDay(d.TimeOfDay)
		out[KindDifferential] = p.calendar(KindDifferential, c, sortedUnique(d.Weekdays))
	}
	if l := p.Log; l != nil {
		out[KindLog] = Schedule{Every: time.Duration(l.EveryMinutes) * time.Minute, TimeZone: p.Full.TimeZone,
			Comment: fmt.Sprintf("sqlvault policy %q: %s backup", p.Name, KindLog)}
	}
	return out
}

var allWeekdays = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}

func (p Policy) calendar(kind string, c clock, days []time.Weekday) Schedule {
	return Schedule{Hour: c.hour, Minute: c.minute, Weekdays: append([]time.Weekday(nil), days...), TimeZone: p.Full.TimeZone,
		Comment: fmt.Sprintf("sqlvault policy %q: %s backup", p.Name, kind)}
}

// Next returns the first run of kind strictly after after, as the Temporal schedule of
// Schedules (as a Temporal schedule) would start it, or false if p does not schedule kind (or its time zone or
// time of day cannot be read). It follows Temporal's scheduler on clock changes: a wall-clock
// time that the zone skips does not run that day, one it repeats runs in each copy (Validate
// refuses both, but a zone's rules can change after a policy was checked).
func (p Policy) Next(kind string, after time.Time) (time.Time, bool) {
	loc, err := location(p.Full.TimeZone)
	if err != nil {
		return time.Time{}, false
	}
	switch kind {
	case KindFull:
		c, ok := parseTimeOfDay(p.Full.TimeOfDay)
		days := allWeekdays
		switch p.Full.Frequency {
		case FrequencyDaily:
		case FrequencyWeekly:
			days = sortedUnique(p.Full.Weekdays)
		default:
			return time.Time{}, false
		}
		if !ok || len(days) == 0 {
			return time.Time{}, false
		}
		return nextCalendar(after, loc, c, days)
	case KindDifferential:
		if p.Differential == nil {
			return time.Time{}, false
		}
		c, ok := parseTimeOfDay(p.Differential.TimeOfDay)
		days := sortedUnique(p.Differential.Weekdays)
		if !ok || len(days) == 0 {
			return time.Time{}, false
		}
		return nextCalendar(after, loc, c, days)
	case KindLog:
		if p.Log == nil || p.Log.EveryMinutes <= 0 {
			return time.Time{}, false
		}
		return nextInterval(after, time.Duration(p.Log.EveryMinutes)*time.Minute), true
	}
	return time.Time{}, false
}

// nextInterval is Temporal's interval rule: the first epoch + n*every strictly after t.
func nextInterval(t time.Time, every time.Duration) time.Time {
	n := t.UnixNano() / int64(every)
	if t.UnixNano() < 0 && t.UnixNano()%int64(every) != 0 {
		n-- // floor, not truncation, before 1970
	}
	return time.Unix(0, (n+1)*int64(every)).UTC()
}

// nextCalendar finds the first instant after t whose wall clock in loc is c on one of days.
func nextCalendar(t time.Time, loc *time.Location, c clock, days []time.Weekday) (time.Time, bool) {
	local := t.In(loc)
	y, m, d := local.Date()
	// From the day before (a repeated hour can put the run of "yesterday" after t) through
	// two weeks later (a weekly run skipped by a clock change is found the week after).
	for i := -1; i <= 15; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, loc) // noon: never inside a clock change
		if !containsDay(days, day.Weekday()) {
			continue
		}
		for _, at := range wallInstants(day, c, loc) {
			if at.After(t) {
				return at, true
			}
		}
	}
	return time.Time{}, false
}

func containsDay(days []time.Weekday, w time.Weekday) bool {
	for _, d := range days {
		if d == w {
			return true
		}
	}
	return false
}

// wallInstants returns the instants, in order, at which loc's wall clock shows c on day's
// date: none when a clock change skips it, two when it repeats it.
func wallInstants(day time.Time, c clock, loc *time.Location) []time.Time {
	y, m, d := day.Date()
	guess := time.Date(y, m, d, c.hour, c.minute, 0, 0, loc)
	var out []time.Time
	// time.Date picks one reading of an ambiguous or missing wall time; the other reading,
	// if any, is within a few hours of it (clock changes are at most a couple of hours).
	for _, delta := range []time.Duration{-3 * time.Hour, -2 * time.Hour, -time.Hour, -30 * time.Minute, 0,
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour} {
		at := guess.Add(delta)
		ly, lm, ld := at.Date()
		if ly == y && lm == m && ld == d && at.Hour() == c.hour && at.Minute() == c.minute &&
			(len(out) == 0 || !out[len(out)-1].Equal(at)) {
			out = append(out, at)
		}
	}
	return out
}
