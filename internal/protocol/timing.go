package protocol

import (
	"errors"
	"fmt"
	"time"
)

// The time bounds that garbage collection depends on. A stripe the agent committed is
// garbage only if no commit can still adopt it: a stream may run (and be retried) for up to
// StreamScheduleToClose after the backup asked for it, and its commit may then be retried
// for up to CommitRetryWindow. The sweep's grace must exceed both, with a margin, or a
// sweep deletes the data of a point that is about to exist (issue 11, items 3 and 8).
const (
	// AgentWait bounds how long an agent step waits to be picked up by the VM's agent.
	AgentWait = 30 * time.Minute
	// StreamTimeout is one stream attempt's StartToClose.
	StreamTimeout = 24 * time.Hour
	// StreamScheduleToClose is the longest a backup's stream (all attempts) may run.
	StreamScheduleToClose = StreamTimeout + AgentWait
	// CommitRetryWindow is how long the commit confirmation is retried (the activity's
	// ScheduleToClose): hours, so a vault or control outage after SQL Server finished a
	// backup does not break the chain.
	CommitRetryWindow = 6 * time.Hour
	// SweepGraceMargin is slack on top of the longest adoption time (clock skew between the
	// storage service and the control worker, a slow last commit attempt).
	SweepGraceMargin = 2 * time.Hour
	// MinSweepGrace is the smallest grace the sweep accepts.
	MinSweepGrace = StreamScheduleToClose + CommitRetryWindow + SweepGraceMargin
	// DefaultSweepGraceHours is the grace when a Retention input gives none.
	DefaultSweepGraceHours = 48
)

// ErrSweepGraceTooShort is the named error for a sweep grace below MinSweepGrace.
const ErrSweepGraceTooShort = "SweepGraceTooShort"

// ErrGraceTooShort is what SweepGrace returns for a grace below MinSweepGrace.
var ErrGraceTooShort = errors.New(ErrSweepGraceTooShort)

// MinSweepGraceHours is MinSweepGrace in whole hours, rounded up.
func MinSweepGraceHours() int { return int((MinSweepGrace + time.Hour - 1) / time.Hour) }

// SweepGrace turns a sweepGraceHours setting into the grace: 0 means the default; anything
// below MinSweepGraceHours (negative included) is refused with ErrGraceTooShort, saying
// what to set.
func SweepGrace(hours int) (time.Duration, error) {
	if hours == 0 {
		return DefaultSweepGraceHours * time.Hour, nil
	}
	if hours < MinSweepGraceHours() {
		return 0, fmt.Errorf("%w: sweepGraceHours is %d, but a backup's stripes can still be adopted by its commit for up to %s "+
			"(stream %s + commit retries %s + margin %s): set sweepGraceHours to at least %d, or leave it out for the default %d",
			ErrGraceTooShort, hours, MinSweepGrace, StreamScheduleToClose, CommitRetryWindow, SweepGraceMargin,
			MinSweepGraceHours(), DefaultSweepGraceHours)
	}
	return time.Duration(hours) * time.Hour, nil
}
