package policy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// daily is a valid policy with a daily full, like Azure's default SQL policy.
func daily() Policy {
	return Policy{
		Name: "gold",
		Full: FullSchedule{Frequency: FrequencyDaily, TimeOfDay: "22:00", TimeZone: "Europe/Paris"},
		Log:  &LogSchedule{EveryMinutes: 60},
		Retention: Retention{
			Daily:   &Keep{Days: 30},
			Weekly:  &KeepWeekly{Weeks: 12, Weekday: time.Sunday},
			Monthly: &KeepMonthly{Months: 12},
			Yearly:  &KeepYearly{Years: 5, Month: time.January},
			LogDays: 15,
		},
		Compression: true,
	}
}

// weekly is a valid policy with a weekly full and differentials.
func weekly() Policy {
	return Policy{
		Name:         "silver",
		Full:         FullSchedule{Frequency: FrequencyWeekly, Weekdays: []time.Weekday{time.Sunday}, TimeOfDay: "01:00", TimeZone: "Europe/Paris"},
		Differential: &DiffSchedule{Weekdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}, TimeOfDay: "19:30"},
		Log:          &LogSchedule{EveryMinutes: 15},
		Retention: Retention{
			Weekly:           &KeepWeekly{Weeks: 8, Weekday: time.Sunday},
			Monthly:          &KeepMonthly{Months: 6, Week: WeekFirst, Weekday: time.Sunday},
			DifferentialDays: 30,
			LogDays:          30,
		},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(p *Policy)
		base   func() Policy
		errors []string // every message, in order; none: valid
	}{
		{name: "daily is valid", base: daily, edit: func(*Policy) {}},
		{name: "weekly is valid", base: weekly, edit: func(*Policy) {}},
		{name: "no name", base: daily, edit: func(p *Policy) { p.Name = " " },
			errors: []string{"name: required; give the policy a name (protected items refer to it)"}},
		{name: "log too often, log retention too long", base: daily, edit: func(p *Policy) {
			p.Log.EveryMinutes = 10
			p.Retention.LogDays = 40
		}, errors: []string{
			"log.everyMinutes: 10 is below the minimum of 15 minutes (SQL Server log backups no more often than every 15 minutes)",
			"retention.logDays: 40 exceeds the maximum of 35",
		}},
		{name: "log too rare", base: daily, edit: func(p *Policy) { p.Log.EveryMinutes = 1441 },
			errors: []string{"log.everyMinutes: 1441 exceeds the maximum of 1440 minutes (at least one log backup a day, or the log file keeps growing)"}},
		{name: "differential with a daily full", base: daily, edit: func(p *Policy) {
			p.Differential = &DiffSchedule{Weekdays: []time.Weekday{time.Monday}, TimeOfDay: "12:00"}
			p.Retention.DifferentialDays = 7
		}, errors: []string{"differential: needs a weekly full (a daily full leaves no day for a differential)"}},
		{name: "unknown zone, bad times", base: daily, edit: func(p *Policy) {
			p.Full.TimeZone = "Mars/Base"
			p.Full.TimeOfDay = "24:00"
		}, errors: []string{
			`full.timeZone: unknown time zone "Mars/Base"; use an IANA name such as "UTC" or "Europe/Paris"`,
			`full.timeOfDay: "24:00" is not a time of day; use "HH:MM" on a 24-hour clock, e.g. "02:00"`,
		}},
		{name: "machine zone", base: daily, edit: func(p *Policy) { p.Full.TimeZone = "Local" },
			errors: []string{`full.timeZone: "Local" depends on the machine; use an IANA name such as "UTC" or "Europe/Paris"`}},
		{name: "no zone", base: daily, edit: func(p *Policy) { p.Full.TimeZone = "" },
			errors: []string{`full.timeZone: required; use an IANA name such as "UTC" or "Europe/Paris"`}},
		{name: "time skipped and repeated by DST", base: daily, edit: func(p *Policy) { p.Full.TimeOfDay = "02:30" },
			errors: []string{"full.timeOfDay: 02:30 does not work in Europe/Paris: daylight saving time skips it on some days (e.g. 2020-03-29), and the schedule would skip or double that run; pick a time outside 02:00–03:00"}},
		{name: "02:30 is fine in UTC", base: daily, edit: func(p *Policy) { p.Full.TimeOfDay, p.Full.TimeZone = "02:30", "UTC" }},
		{name: "bad frequency", base: daily, edit: func(p *Policy) { p.Full.Frequency = "hourly" },
			errors: []string{`full.frequency: "hourly" is not a frequency; use "daily" or "weekly"`}},
		{name: "daily full with weekdays", base: daily, edit: func(p *Policy) { p.Full.Weekdays = []time.Weekday{time.Monday} },
			errors: []string{`full.weekdays: a daily full runs every day; remove the weekdays or use frequency "weekly"`}},
		{name: "weekly full without weekdays, retention.daily", base: weekly, edit: func(p *Policy) {
			p.Full.Weekdays = nil
			p.Retention.Daily = &Keep{Days: 7}
		}, errors: []string{
			"full.weekdays: a weekly full needs at least one weekday (0 Sunday … 6 Saturday)",
			"retention.daily: only for a daily full; a weekly full is kept by retention.weekly",
		}},
		{name: "differential days overlap, duplicates, bad weekday", base: weekly, edit: func(p *Policy) {
			p.Full.Weekdays = []time.Weekday{time.Sunday, time.Sunday, 9}
			p.Differential.Weekdays = []time.Weekday{time.Sunday, time.Monday, time.Monday}
			p.Differential.TimeOfDay = "7pm"
		}, errors: []string{
			"full.weekdays: Sunday is listed twice (a backup runs at most once a day)",
			"full.weekdays: 9 is not a weekday; use 0 (Sunday) … 6 (Saturday)",
			"differential.weekdays: Monday is listed twice (a backup runs at most once a day)",
			"differential.weekdays: Sunday is also a full day, and a differential never runs on a full day; remove it from one of the lists",
			`differential.timeOfDay: "7pm" is not a time of day; use "HH:MM" on a 24-hour clock, e.g. "02:00"`,
		}},
		{name: "differential without weekdays", base: weekly, edit: func(p *Policy) { p.Differential.Weekdays = nil },
			errors: []string{"differential.weekdays: at least one weekday (0 Sunday … 6 Saturday)"}},
		{name: "missing base retention", base: daily, edit: func(p *Policy) { p.Retention.Daily = nil },
			errors: []string{"retention.daily: required for a daily full (how many days to keep each daily full)"}},
		{name: "missing weekly retention", base: weekly, edit: func(p *Policy) { p.Retention.Weekly = nil },
			errors: []string{"retention.weekly: required for a weekly full (how many weeks to keep each weekly full)"}},
		{name: "ranges above Azure's limits", base: daily, edit: func(p *Policy) {
			p.Retention.Daily.Days = 10000
			p.Retention.Weekly.Weeks = 5164
			p.Retention.Monthly.Months = 1189
			p.Retention.Yearly.Years = 100
		}, errors: []string{
			"retention.daily.days: 10000 exceeds the maximum of 9999",
			"retention.weekly.weeks: 5164 exceeds the maximum of 5163",
			"retention.monthly.months: 1189 exceeds the maximum of 1188",
			"retention.yearly.years: 100 exceeds the maximum of 99",
		}},
		{name: "ranges below one, bad month, bad week", base: daily, edit: func(p *Policy) {
			p.Retention.Daily.Days = 0
			p.Retention.Weekly.Weeks = 0
			p.Retention.Weekly.Weekday = 7
			p.Retention.Monthly = &KeepMonthly{Months: 0, Week: "fifth", Weekday: time.Monday}
			p.Retention.Yearly = &KeepYearly{Years: 0, Month: 13, Weekday: time.Friday}
			p.Log, p.Retention.LogDays = nil, 0
		}, errors: []string{
			"retention.daily.days: 0 is below the minimum of 1 day",
			"retention.weekly.weeks: 0 is below the minimum of 1 week",
			"retention.weekly.weekday: 7 is not a weekday; use 0 (Sunday) … 6 (Saturday)",
			"retention.monthly.months: 0 is below the minimum of 1 month",
			`retention.monthly.week: "fifth" is not a week of the month; use one of first, second, third, fourth, last`,
			"retention.yearly.years: 0 is below the minimum of 1 year",
			"retention.yearly.month: 13 is not a month; use 1 (January) … 12 (December)",
			"retention.yearly.weekday: only with retention.yearly.week (which Friday of the month); set the week or remove the weekday",
		}},
		{name: "monthly point on a day without a full", base: weekly, edit: func(p *Policy) { p.Retention.Monthly.Weekday = time.Monday },
			errors: []string{"retention.monthly.weekday: Monday is not a full day (full.weekdays), so some months would have no point; pick one of the full days"}},
		{name: "chain retention without schedules", base: daily, edit: func(p *Policy) {
			p.Log = nil
			p.Retention.DifferentialDays = 7
		}, errors: []string{
			"retention.differentialDays: only with a differential schedule; remove it or add one",
			"retention.logDays: only with a log schedule; remove it or add one",
		}},
		{name: "schedules without chain retention", base: weekly, edit: func(p *Policy) {
			p.Retention.DifferentialDays, p.Retention.LogDays = 0, 0
		}, errors: []string{
			"retention.differentialDays: required with a differential schedule (1 to 180 days)",
			"retention.logDays: required with a log schedule (1 to 35 days)",
		}},
		{name: "differentials kept too long, negative logs", base: weekly, edit: func(p *Policy) {
			p.Retention.DifferentialDays, p.Retention.LogDays = 181, -1
		}, errors: []string{
			"retention.differentialDays: 181 exceeds the maximum of 180",
			"retention.logDays: -1 is negative",
		}},
		{name: "logs outlive every base", base: daily, edit: func(p *Policy) { p.Retention.Daily.Days = 7 },
			errors: []string{"retention.logDays: 15 outlives the points logs restore from (a full is kept at least 7 days, a differential 0); keep fulls or differentials at least as long as logs, as a log is restorable only from an older full or differential"}},
		{name: "long differentials carry long logs", base: weekly, edit: func(p *Policy) { p.Retention.Weekly.Weeks = 1 }},
		{name: "weekly fulls alone too short for logs", base: weekly, edit: func(p *Policy) {
			p.Retention.Weekly.Weeks = 4
			p.Retention.DifferentialDays = 7
		}, errors: []string{"retention.logDays: 30 outlives the points logs restore from (a full is kept at least 21 days, a differential 7); keep fulls or differentials at least as long as logs, as a log is restorable only from an older full or differential"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.base()
			tt.edit(&p)
			err := p.Validate()
			if len(tt.errors) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.errors, strings.Split(err.Error(), "\n"))
		})
	}
}

func TestPolicyJSON(t *testing.T) {
	var p Policy
	require.NoError(t, json.Unmarshal([]byte(`{
		"name": "silver",
		"full": {"frequency": "weekly", "weekdays": [0], "timeOfDay": "01:00", "timeZone": "Europe/Paris"},
		"differential": {"weekdays": [1,2,3,4,5,6], "timeOfDay": "19:30"},
		"log": {"everyMinutes": 15},
		"retention": {"weekly": {"weeks": 8, "weekday": 0}, "monthly": {"months": 6, "week": "first", "weekday": 0},
			"differentialDays": 30, "logDays": 30},
		"compression": false
	}`), &p))
	assert.Equal(t, weekly(), p)
	require.NoError(t, p.Validate())
}

func TestLongestRetention(t *testing.T) {
	const day = 24 * time.Hour
	assert.Equal(t, 5*366*day, daily().LongestRetention(), "five yearly points")
	assert.Equal(t, 6*31*day, weekly().LongestRetention(), "six monthly points outlive 8 weeks and 30 days")
	short := weekly()
	short.Retention.Monthly = nil
	short.Retention.LogDays, short.Retention.DifferentialDays = 60, 30
	assert.Equal(t, 60*day, short.LongestRetention(), "logs kept longer than 8 weeks")
}
