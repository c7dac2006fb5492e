package control

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/control/policy"
)

func one(v int) []client.ScheduleRange { return []client.ScheduleRange{{Start: v, End: v}} }

// dailyPolicy and weeklyPolicy are valid policies (the policy package's test fixtures).
func dailyPolicy() policy.Policy {
	return policy.Policy{
		Name: "gold",
		Full: policy.FullSchedule{Frequency: policy.FrequencyDaily, TimeOfDay: "22:00", TimeZone: "Europe/Paris"},
		Log:  &policy.LogSchedule{EveryMinutes: 60},
		Retention: policy.Retention{
			Daily:   &policy.Keep{Days: 30},
			Weekly:  &policy.KeepWeekly{Weeks: 12, Weekday: time.Sunday},
			Monthly: &policy.KeepMonthly{Months: 12},
			Yearly:  &policy.KeepYearly{Years: 5, Month: time.January},
			LogDays: 15,
		},
		Compression: true,
	}
}

func weeklyPolicy() policy.Policy {
	return policy.Policy{
		Name:         "silver",
		Full:         policy.FullSchedule{Frequency: policy.FrequencyWeekly, Weekdays: []time.Weekday{time.Sunday}, TimeOfDay: "01:00", TimeZone: "Europe/Paris"},
		Differential: &policy.DiffSchedule{Weekdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}, TimeOfDay: "19:30"},
		Log:          &policy.LogSchedule{EveryMinutes: 15},
		Retention: policy.Retention{
			Weekly:           &policy.KeepWeekly{Weeks: 8, Weekday: time.Sunday},
			Monthly:          &policy.KeepMonthly{Months: 6, Week: policy.WeekFirst, Weekday: time.Sunday},
			DifferentialDays: 30,
			LogDays:          30,
		},
	}
}

func TestScheduleSpecs(t *testing.T) {
	everyDay := []client.ScheduleRange{{Start: 1, End: 31}}
	everyMonth := []client.ScheduleRange{{Start: 1, End: 12}}
	tests := []struct {
		name   string
		policy policy.Policy
		want   map[string]client.ScheduleSpec
	}{
		{name: "daily full and hourly logs", policy: dailyPolicy(), want: map[string]client.ScheduleSpec{
			policy.KindFull: {Calendars: []client.ScheduleCalendarSpec{{
				Second: one(0), Minute: one(0), Hour: one(22), DayOfMonth: everyDay, Month: everyMonth,
				DayOfWeek: []client.ScheduleRange{{Start: 0, End: 6}},
				Comment:   `sqlvault policy "gold": full backup`,
			}}, TimeZoneName: "Europe/Paris"},
			policy.KindLog: {Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}, TimeZoneName: "Europe/Paris"},
		}},
		{name: "weekly full, differentials, 15-minute logs", policy: func() policy.Policy {
			p := weeklyPolicy()
			p.Full.Weekdays = []time.Weekday{time.Wednesday, time.Sunday} // out of order on purpose
			p.Differential.Weekdays = []time.Weekday{time.Saturday, time.Monday}
			return p
		}(), want: map[string]client.ScheduleSpec{
			policy.KindFull: {Calendars: []client.ScheduleCalendarSpec{{
				Second: one(0), Minute: one(0), Hour: one(1), DayOfMonth: everyDay, Month: everyMonth,
				DayOfWeek: []client.ScheduleRange{{Start: 0, End: 0}, {Start: 3, End: 3}},
				Comment:   `sqlvault policy "silver": full backup`,
			}}, TimeZoneName: "Europe/Paris"},
			policy.KindDifferential: {Calendars: []client.ScheduleCalendarSpec{{
				Second: one(0), Minute: one(30), Hour: one(19), DayOfMonth: everyDay, Month: everyMonth,
				DayOfWeek: []client.ScheduleRange{{Start: 1, End: 1}, {Start: 6, End: 6}},
				Comment:   `sqlvault policy "silver": differential backup`,
			}}, TimeZoneName: "Europe/Paris"},
			policy.KindLog: {Intervals: []client.ScheduleIntervalSpec{{Every: 15 * time.Minute}}, TimeZoneName: "Europe/Paris"},
		}},
		{name: "full only, New York", policy: func() policy.Policy {
			p := dailyPolicy()
			p.Full.TimeZone, p.Full.TimeOfDay = "America/New_York", "23:45"
			p.Log, p.Retention.LogDays = nil, 0
			return p
		}(), want: map[string]client.ScheduleSpec{
			policy.KindFull: {Calendars: []client.ScheduleCalendarSpec{{
				Second: one(0), Minute: one(45), Hour: one(23), DayOfMonth: everyDay, Month: everyMonth,
				DayOfWeek: []client.ScheduleRange{{Start: 0, End: 6}},
				Comment:   `sqlvault policy "gold": full backup`,
			}}, TimeZoneName: "America/New_York"},
		}},
		{name: "invalid policy: no schedules", policy: func() policy.Policy {
			p := dailyPolicy()
			p.Log.EveryMinutes = 5
			return p
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, scheduleSpecs(tt.policy))
		})
	}
}
