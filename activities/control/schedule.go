package control

import (
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/control/policy"
)

// scheduleSpecs returns the Temporal schedule spec of each backup kind p schedules (keyed
// like policy.Schedules; nil for a policy that does not Validate). Fulls and differentials
// are calendar specs in the policy's time zone; logs are an interval from the Unix epoch.
func scheduleSpecs(p policy.Policy) map[string]client.ScheduleSpec {
	scheds := p.Schedules()
	if scheds == nil {
		return nil
	}
	specs := make(map[string]client.ScheduleSpec, len(scheds))
	for kind, s := range scheds {
		specs[kind] = scheduleSpec(s)
	}
	return specs
}

// scheduleSpec is one policy.Schedule as Temporal's scheduler reads it.
func scheduleSpec(s policy.Schedule) client.ScheduleSpec {
	if s.Every > 0 {
		// Intervals ignore the zone; it is set so every spec of a policy reads alike.
		return client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: s.Every}}, TimeZoneName: s.TimeZone}
	}
	one := func(v int) []client.ScheduleRange { return []client.ScheduleRange{{Start: v, End: v}} }
	var dow []client.ScheduleRange
	if len(s.Weekdays) == 7 {
		dow = []client.ScheduleRange{{Start: 0, End: 6}}
	} else {
		for _, d := range s.Weekdays {
			dow = append(dow, client.ScheduleRange{Start: int(d), End: int(d)})
		}
	}
	return client.ScheduleSpec{
		Calendars: []client.ScheduleCalendarSpec{{
			Second: one(0),
			Minute: one(s.Minute),
			Hour:   one(s.Hour),
			// Every day of every month: the weekday alone picks the days.
			DayOfMonth: []client.ScheduleRange{{Start: 1, End: 31}},
			Month:      []client.ScheduleRange{{Start: 1, End: 12}},
			DayOfWeek:  dow,
			Comment:    s.Comment,
		}},
		TimeZoneName: s.TimeZone,
	}
}
