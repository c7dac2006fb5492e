package protocol

import "time"

// A backup policy as the vault stores it (v1/policies/<name>.json) and as activities hand
// it to workflows. Its rules (Validate, Next, retention) are internal/control/policy's,
// which defines its Policy on this one.

// Full frequencies.
const (
	FrequencyDaily  = "daily"
	FrequencyWeekly = "weekly"
)

// Policy is a backup policy: schedules per backup kind and retention.
type Policy struct {
	Name         string        `json:"name"`
	Full         FullSchedule  `json:"full"`
	Differential *DiffSchedule `json:"differential,omitempty"`
	Log          *LogSchedule  `json:"log,omitempty"`
	Retention    Retention     `json:"retention"`
	Compression  bool          `json:"compression"`
	// Drill, if set, proves the policy's items restorable on a schedule (sqlvault.RestoreDrill).
	Drill *DrillSpec `json:"drill,omitempty"`
}

// Drill frequencies and picks (DrillSpec).
const (
	DrillEveryDaily  = "daily"
	DrillEveryWeekly = "weekly"
	// DrillPickNewest restores the item's newest recovery point.
	DrillPickNewest = "newest"
	// DrillPickRandomInstant restores a random instant of the last RandomInstantDays days.
	DrillPickRandomInstant = "randomInstant"
)

// DrillSpec is a policy's restore drill: every Every, restore what Pick chooses of each item
// as a scratch database on Instance (default the item's own), run DBCC CHECKDB, record the
// result in the vault beside the point, and drop the scratch database. No more than
// MaxPerInstance drills run on one instance at once.
type DrillSpec struct {
	Every             string `json:"every"`                       // DrillEveryDaily or DrillEveryWeekly
	Pick              string `json:"pick"`                        // DrillPickNewest or DrillPickRandomInstant
	RandomInstantDays int    `json:"randomInstantDays,omitempty"` // with DrillPickRandomInstant
	Instance          string `json:"instance,omitempty"`          // where to restore (default: the item's instance)
	VM                string `json:"vm,omitempty"`                // the VM whose agent serves Instance (default: its machine name)
	MaxPerInstance    int    `json:"maxPerInstance"`              // drills at once on one instance, 1 or more
}

// Period is how often each item is drilled (0 for an unknown Every).
func (d DrillSpec) Period() time.Duration {
	switch d.Every {
	case DrillEveryDaily:
		return 24 * time.Hour
	case DrillEveryWeekly:
		return 7 * 24 * time.Hour
	}
	return 0
}

// FullSchedule says when fulls run. Its time zone is the policy's: differentials use it too,
// and retention counts days, weeks, months and years in it.
type FullSchedule struct {
	Frequency string         `json:"frequency"`          // FrequencyDaily or FrequencyWeekly
	Weekdays  []time.Weekday `json:"weekdays,omitempty"` // weekly only
	TimeOfDay string         `json:"timeOfDay"`          // "HH:MM", 24-hour clock
	TimeZone  string         `json:"timeZone"`           // IANA name, e.g. "UTC", "Europe/Paris"
}

// DiffSchedule says when differentials run: at most once a day, never on a full day.
type DiffSchedule struct {
	Weekdays  []time.Weekday `json:"weekdays"`
	TimeOfDay string         `json:"timeOfDay"`
}

// LogSchedule says how often log backups run.
type LogSchedule struct {
	EveryMinutes int `json:"everyMinutes"`
}

// Retention says how long recovery points are kept (internal/control/policy's package
// comment has the rules).
type Retention struct {
	Daily            *Keep        `json:"daily,omitempty"`
	Weekly           *KeepWeekly  `json:"weekly,omitempty"`
	Monthly          *KeepMonthly `json:"monthly,omitempty"`
	Yearly           *KeepYearly  `json:"yearly,omitempty"`
	DifferentialDays int          `json:"differentialDays,omitempty"`
	LogDays          int          `json:"logDays,omitempty"`
}

// Keep keeps every daily full this many days (daily full only).
type Keep struct {
	Days int `json:"days"`
}

// KeepWeekly keeps Weeks weekly points; weeks start at 00:00 on Weekday.
type KeepWeekly struct {
	Weeks   int          `json:"weeks"`
	Weekday time.Weekday `json:"weekday"`
}

// Weeks of the month for KeepMonthly.Week and KeepYearly.Week.
const (
	WeekFirst  = "first"
	WeekSecond = "second"
	WeekThird  = "third"
	WeekFourth = "fourth"
	WeekLast   = "last"
)

// KeepMonthly keeps Months monthly points: the first full of each month, or, with Week set,
// the first full on or after that Weekday of the month (e.g. the last Sunday).
type KeepMonthly struct {
	Months  int          `json:"months"`
	Week    string       `json:"week,omitempty"`
	Weekday time.Weekday `json:"weekday,omitempty"`
}

// KeepYearly keeps Years yearly points: the monthly point (first full, or Week/Weekday) of
// Month in each year.
type KeepYearly struct {
	Years   int          `json:"years"`
	Month   time.Month   `json:"month"`
	Week    string       `json:"week,omitempty"`
	Weekday time.Weekday `json:"weekday,omitempty"`
}
