package agent

import (
	"time"
)

// Stall limits of a BACKUP or RESTORE stream (Agent.StallAfter, Agent.StallAfterBusy).
const (
	// DefaultStallAfter: no byte moved between SQL Server and the vault for this long, and
	// SQL Server's own progress did not move either: the stream is stalled.
	DefaultStallAfter = 5 * time.Minute
	// DefaultStallAfterBusy: the longest time without a byte moved while SQL Server still
	// reports progress (percent_complete rising: reading the data files, zeroing files,
	// redoing a log; or at 100 while a RESTORE finishes after its last read, which can take
	// more than half an hour on a large database — blogs.msdn.microsoft.com/ialonso/2014/06/06/
	// "when doing a database restore, what actions is the engine taking after it gets past
	// the 100%"), after which the stream counts as stalled anyway.
	DefaultStallAfterBusy = 2 * time.Hour
)

// stallWatch decides when a stream has stalled. A stream makes progress when bytes cross
// the endpoint or SQL Server's STATS percent rises. Without that for after, it still counts
// as working while SQL Server's percent_complete (sys.dm_exec_requests) rises at least once
// per after, or stays at 100 (the work after the last read), up to busyAfter without bytes.
type stallWatch struct {
	after, busyAfter time.Duration

	bytes    int64
	percent  int
	lastMove time.Time

	sqlPercent float64
	sqlMoveAt  time.Time // zero: not probed since the last byte moved
}

func newStallWatch(after, busyAfter time.Duration, now time.Time) *stallWatch {
	if after <= 0 {
		after = DefaultStallAfter
	}
	if busyAfter < after {
		busyAfter = max(after, DefaultStallAfterBusy)
	}
	return &stallWatch{after: after, busyAfter: busyAfter, lastMove: now, percent: -1}
}

// observe takes the stream's counters at now and, when bytes have not moved for after,
// probe's report of SQL Server's progress on the statement (ok false: no request, or it
// could not be read). It returns whether the stream is stalled and for how long nothing moved.
func (w *stallWatch) observe(now time.Time, bytes int64, percent int, probe func() (float64, bool)) (stalled bool, idle time.Duration) {
	if bytes != w.bytes || percent != w.percent {
		w.bytes, w.percent, w.lastMove, w.sqlMoveAt = bytes, percent, now, time.Time{}
		return false, 0
	}
	idle = now.Sub(w.lastMove)
	if idle < w.after {
		return false, idle
	}
	if idle >= w.busyAfter {
		return true, idle
	}
	p, ok := probe()
	switch {
	case w.sqlMoveAt.IsZero():
		// First look since bytes stopped: SQL Server gets a full window to show progress.
		w.sqlPercent, w.sqlMoveAt = p, now
		return false, idle
	case ok && (p > w.sqlPercent || p >= 100):
		w.sqlPercent, w.sqlMoveAt = p, now
		return false, idle
	}
	return now.Sub(w.sqlMoveAt) >= w.after, idle
}
