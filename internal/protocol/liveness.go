package protocol

import (
	"time"
)

// Agent liveness, stalled streams and verify-restore's scratch database (issue 11, items 6,
// 10, 11).
const (
	// ActivityCheckAgent (control side) asks Temporal whether anything polls a VM's agent
	// queue, so a step sent to a VM without an agent fails in seconds instead of waiting out
	// its ScheduleToClose.
	ActivityCheckAgent = "sqlvault.control.CheckAgent"
	// ActivityDropScratchDatabase (agent) drops a verify-restore's scratch database, and
	// nothing else: it refuses any name verify-restore does not generate.
	ActivityDropScratchDatabase = "sqlvault.agent.DropScratchDatabase"
	// ActivityScheduleSkips (control side) reads how many runs a schedule skipped.
	ActivityScheduleSkips = "sqlvault.control.ScheduleSkips"
)

// Named errors of this file.
const (
	// ErrAgentUnavailable: no agent polls the VM's task queue, and none has recently enough
	// to be waited for. Not retried: the message names the VM and when its agent was last seen.
	ErrAgentUnavailable = "AgentUnavailable"
	// ErrBackupStalled: no bytes moved between SQL Server and the vault for the stall limit
	// while SQL Server did not report progress either. Retried (a new attempt, a new
	// statement), so the workflow ends and the schedule's next run is not skipped forever.
	ErrBackupStalled = "BackupStalled"
	// ErrNotScratchDatabase: a drop was asked for a database verify-restore did not create.
	ErrNotScratchDatabase = "NotAScratchDatabase"
)

// CheckAgentInput names the VM whose agent a workflow is about to use.
type CheckAgentInput struct {
	VM string `json:"vm"`
}

// CheckAgentResult says why the workflow may go on: an agent polls now, or one did recently
// enough that it gets its grace period (LastSeen).
type CheckAgentResult struct {
	VM       string     `json:"vm"`
	Polling  bool       `json:"polling"`
	LastSeen *time.Time `json:"lastSeen,omitempty"`
}

// DropScratchInput asks the target's agent to drop a verify-restore's scratch database.
type DropScratchInput struct {
	TargetInstance string `json:"targetInstance"`
	// Database is the protected database the scratch copy was restored from, Scratch the copy.
	Database string `json:"database"`
	Scratch  string `json:"scratch"`
}

// ScheduleSkipsInput names schedules whose skipped runs to count.
type ScheduleSkipsInput struct {
	ScheduleIDs []string `json:"scheduleIds"`
}

// ScheduleSkips is what Temporal's schedule info says about runs that did not happen.
type ScheduleSkips struct {
	ScheduleID string `json:"scheduleId"`
	// SkippedOverlap counts runs skipped because the previous one still ran (the overlap
	// policy: a stalled backup makes every later run of its lane skip).
	SkippedOverlap int `json:"skippedOverlap"`
	// MissedCatchupWindow counts runs missed while the schedule could not start them.
	MissedCatchupWindow int `json:"missedCatchupWindow"`
	Actions             int `json:"actions"`
}
