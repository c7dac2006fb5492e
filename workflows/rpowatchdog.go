package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// RPOWatchdog runs for ever under protocol.RPOWatchdogID: every Interval it sweeps every
// protected item a page at a time (CheckRPOPage judges a page and stores its findings in
// the vault), merges the sweep into the vault's latest report (FinishRPOSweep, which also
// sets the breach series), sets its SqlvaultRPOState search attribute, and tells the
// webhook when the breached items changed. After RoundsPerRun sweeps, or when Temporal
// suggests it, it continues as new, carrying the sweep count and the last summary (what
// the "rpo" query answers). A sweep that fails is logged and the next one runs on time:
// the watchdog's health is its last-sweep series.
func RPOWatchdog(ctx workflow.Context, in protocol.RPOWatchdogInput) (*protocol.RPOSweepSummary, error) {
	interval := in.Interval
	switch {
	case interval == 0:
		interval = protocol.DefaultRPOWatchdogInterval
	case interval < protocol.MinRPOWatchdogInterval:
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			`invalid input: "interval" %s: give at least %s between sweeps, or leave it out (%s)`,
			interval, protocol.MinRPOWatchdogInterval, protocol.DefaultRPOWatchdogInterval), protocol.ErrInvalidInput, nil)
	}
	size, err := itemPageSize(in.PageSize)
	if err != nil {
		return nil, err
	}
	rounds := in.RoundsPerRun
	if rounds <= 0 {
		rounds = protocol.RPOWatchdogRoundsPerRun
	}
	last := in.Last
	if err := workflow.SetQueryHandler(ctx, protocol.QueryRPOWatchdog, func() (*protocol.RPOSweepSummary, error) {
		return last, nil
	}); err != nil {
		return nil, err
	}
	// A page reads up to PageSize items' catalogs: a few minutes an attempt at most; a
	// sweep gives up on an activity after an interval's worth of retries and tries again
	// at the next sweep.
	cctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute,
		ScheduleToCloseTimeout: max(interval, 10*time.Minute),
		RetryPolicy:            stepRetry(0, userErrorsAnd(protocol.ErrUnreadableRecord))})
	// The webhook is retried from 2 s, doubling to a minute apart, ten times.
	wctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: stepRetry(10, nil)})
	state := ""
	if last != nil {
		state = rpoState(last)
	}
	log := workflow.GetLogger(ctx)
	for r := 1; r <= rounds; r++ {
		sweep := fmt.Sprintf("%s-%d", workflow.GetInfo(ctx).WorkflowExecution.RunID, r)
		sum, err := rpoSweep(ctx, cctx, sweep, size)
		if err != nil {
			log.Error("RPO sweep failed; the next one runs on time", "sweep", sweep, "error", err)
		} else {
			last = sum
			if s := rpoState(sum); s != state {
				if err := workflow.UpsertTypedSearchAttributes(ctx, protocol.SARPOState.ValueSet(s)); err != nil {
					return nil, err
				}
				state = s
			}
			if sum.Changed {
				var nr protocol.NotifyRPOResult
				if err := workflow.ExecuteActivity(wctx, protocol.ActivityNotifyRPO, protocol.NotifyRPOInput{Sweep: sweep}).Get(ctx, &nr); err != nil {
					log.Error("the RPO webhook could not be told; it is told again when the breaches next change", "error", err)
				}
			}
		}
		if err := workflow.Sleep(ctx, interval); err != nil {
			return last, err
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			break
		}
	}
	next := in
	next.Sweeps += rounds
	next.Last = last
	return nil, workflow.NewContinueAsNewError(ctx, protocol.WorkflowRPOWatchdog, next)
}

// rpoSweep judges every item, a page at a time, and merges the pages.
func rpoSweep(ctx, cctx workflow.Context, sweep string, size int) (*protocol.RPOSweepSummary, error) {
	at := workflow.Now(ctx).UTC()
	after := ""
	for {
		var pg protocol.CheckRPOPageResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityCheckRPOPage,
			protocol.CheckRPOPageInput{Sweep: sweep, After: after, Limit: size, At: at}).Get(ctx, &pg); err != nil {
			return nil, err
		}
		if !pg.More {
			break
		}
		after = pg.Next
	}
	var sum protocol.RPOSweepSummary
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityFinishRPOSweep,
		protocol.FinishRPOSweepInput{Sweep: sweep, At: at}).Get(ctx, &sum); err != nil {
		return nil, err
	}
	return &sum, nil
}

func rpoState(s *protocol.RPOSweepSummary) string {
	if s.Breached > 0 {
		return protocol.RPOStateBreached
	}
	return protocol.RPOStateOK
}
