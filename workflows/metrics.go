package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// recordOutcome counts a workflow that ends (counter) and its run time (timer), labelled
// by typ (a small fixed set: a backup type or a restore kind) and its outcome. It goes
// through the SDK's workflow metrics handler, which records nothing while a history
// replays, so each run counts once however often it is replayed; and it issues no command,
// so histories recorded before it still replay.
func recordOutcome(ctx workflow.Context, counter, timer, typ string, start time.Time, err error) {
	outcome := protocol.OutcomeSuccess
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &canceled):
		outcome = protocol.OutcomeCancelled
	case err != nil:
		outcome = protocol.OutcomeFailure
	}
	h := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		protocol.MetricTagType: typ, protocol.MetricTagOutcome: outcome})
	h.Counter(counter).Inc(1)
	h.Timer(timer).Record(workflow.Now(ctx).Sub(start))
}
