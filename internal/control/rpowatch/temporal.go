package rpowatch

import (
	"context"
	"errors"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// TemporalSchedules is Schedules read from Temporal's schedule client, for the watchdog's
// activity and the CLI's --direct judgement alike: a schedule Temporal does not know is one
// that does not exist (Schedule.Exists false), not an error.
func TemporalSchedules(sc client.ScheduleClient) Schedules {
	return func(ctx context.Context, id string) (Schedule, error) {
		d, err := sc.GetHandle(ctx, id).Describe(ctx)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return Schedule{}, nil
		}
		if err != nil {
			return Schedule{}, err
		}
		s := Schedule{Exists: true, SkippedOverlap: d.Info.NumActionsSkippedOverlap, Running: len(d.Info.RunningWorkflows)}
		if d.Schedule.State != nil {
			s.Paused, s.Note = d.Schedule.State.Paused, d.Schedule.State.Note
		}
		return s, nil
	}
}
