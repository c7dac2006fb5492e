package domain

import (
	"strings"
	"time"
)

// Backup kinds, as they appear in point ids, manifests and the wire types.
const (
	Full         = "full"
	Differential = "differential"
	Log          = "log"
)

// Point is one recovery point as the chain rules, the restore planner and retention see it.
// The vault's summary and manifest, the wire types and the SQL Server client each convert
// their record to it with one function.
type Point struct {
	ID       string
	Type     string // Full, Differential or Log
	CopyOnly bool
	// LSNs as msdb has them; "" when msdb has NULL.
	FirstLSN, LastLSN, CheckpointLSN, DatabaseBackupLSN, DifferentialBaseLSN LSN
	// BackupSetGUID is msdb's backup_set_uuid: it tells a backup sqlvault took from one
	// another tool took.
	BackupSetGUID string
	// DatabaseGUID tells two incarnations of a database apart (dropped and created again,
	// or restored as new: LSNs start over, so their chains must never be joined);
	// FamilyGUID is the database's family (unchanged by a restore).
	DatabaseGUID, FamilyGUID string
	// Start and Finish are when SQL Server started and finished the backup (Finish zero:
	// unknown).
	Start, Finish time.Time
	// Recovery forks: FirstFork and Fork are the forks the backup starts and ends on (""
	// when unknown: a point recorded before forks were); a log with them different spans
	// ForkPoint, and holds no instant before ForkTime (nil: unknown, so none before its own
	// start).
	FirstFork, Fork string
	ForkPoint       LSN
	ForkTime        *time.Time
	// RetainUntil is set on on-demand backups: kept until then, whatever the policy.
	RetainUntil *time.Time
}

// Unusable says why p cannot take part in any restore chain, or "" if it can.
func (p *Point) Unusable() string {
	switch {
	case p.Type != Full && p.Type != Differential && p.Type != Log:
		return "has unknown backup type \"" + p.Type + "\""
	case p.Start.IsZero():
		return "has no start time"
	case !p.FirstLSN.Valid() || !p.LastLSN.Valid():
		return "has a first or last LSN that is not a decimal LSN"
	case p.Type != Log && !p.CheckpointLSN.Valid():
		return "has a checkpoint LSN that is not a decimal LSN"
	case p.Type == Differential && !p.DifferentialBaseLSN.Valid():
		return "is a differential without a decimal differential base LSN"
	case p.SpansFork() && (p.Type != Log || !p.ForkPoint.Valid() ||
		p.ForkPoint.Compare(p.FirstLSN) < 0 || p.ForkPoint.Compare(p.LastLSN) > 0):
		return "spans a recovery fork without a fork point inside a log"
	case p.Type == Log && p.FirstLSN.Compare(p.LastLSN) >= 0:
		// SQL Server would refuse it as "too early" (4326) wherever it stood in a chain.
		return "is a log whose last LSN is not after its first"
	case p.FirstLSN.Compare(p.LastLSN) > 0:
		return "has its first LSN after its last"
	}
	return ""
}

// IsBase reports whether a chain of logs can start from p: a full or a differential.
func (p *Point) IsBase() bool { return p.Type == Full || p.Type == Differential }

// SameDatabase reports whether a and b are backups of one database incarnation. GUIDs are
// compared as msdb spells them: every point's comes from the same server's uniqueidentifier.
func SameDatabase(a, b *Point) bool { return a.DatabaseGUID == b.DatabaseGUID }

// SpansFork reports whether p (a log) starts on one recovery fork and ends on another.
func (p *Point) SpansFork() bool {
	return p.FirstFork != "" && p.Fork != "" && !strings.EqualFold(p.FirstFork, p.Fork)
}

// ForkAt is the recovery fork on which p holds LSN at (within its range): past its fork
// point, the fork it ends on.
func (p *Point) ForkAt(at LSN) string {
	if p.SpansFork() && at.Compare(p.ForkPoint) > 0 {
		return p.Fork
	}
	if p.FirstFork != "" {
		return p.FirstFork
	}
	return p.Fork
}

// SameFork reports whether two forks are one; an unknown fork ("") is taken to match, as
// before forks were recorded.
func SameFork(a, b string) bool { return a == "" || b == "" || strings.EqualFold(a, b) }

// OnFork reports whether log l, at LSN at, is on fork: SQL Server refuses a log of another
// recovery path (4330), and a plan that joined two forks would restore one timeline's data
// under the other's instants.
func (l *Point) OnFork(at LSN, fork string) bool { return SameFork(fork, l.ForkAt(at)) }

// Continues reports whether log l can be restored onto data that stands at LSN at on fork:
// l.FirstLSN <= at < l.LastLSN (SQL Server's 4305 "too late" and 4326 "too early"
// otherwise), on the same fork at that LSN. A log right after another log has FirstLSN
// equal to the other's LastLSN; a first log after a base may start before it.
func (l *Point) Continues(at LSN, fork string) bool {
	return l.Type == Log && l.FirstLSN.Compare(at) <= 0 && at.Compare(l.LastLSN) < 0 && l.OnFork(at, fork)
}

// Follows reports whether log l may be restored right after p (a base or a log) of the
// same database: it continues from p's LastLSN on the fork p ends on.
func (l *Point) Follows(p *Point) bool {
	return SameDatabase(l, p) && l.Continues(p.LastLSN, p.Fork)
}

// DifferentialOf reports whether differential d is based on full f: the same database, f
// a scheduled (not copy-only) full whose checkpoint LSN is d's differential base LSN, and
// f not started after d (a differential older than its supposed base cannot be of it; the
// records are inconsistent and the pair is not trusted).
func DifferentialOf(d, f *Point) bool {
	return d.Type == Differential && f.Type == Full && !f.CopyOnly && SameDatabase(d, f) &&
		d.DifferentialBaseLSN != "" && d.DifferentialBaseLSN == f.CheckpointLSN && !d.Start.Before(f.Start)
}

// HoldsInstant reports whether log l, restored after a chain whose points all started at or
// before t, holds instant t: t is before the log's start and, for a log that spans a fork
// point, not before the fork began; before then the database lived on the old fork, whose
// changes this log does not have.
func (l *Point) HoldsInstant(t time.Time) bool {
	if !l.Start.After(t) {
		return false
	}
	if !l.SpansFork() {
		return true
	}
	return l.ForkTime != nil && !t.Before(*l.ForkTime)
}

// equalFoldGUID compares two GUIDs whatever their letter case (SQL Server's own
// spelling is upper case; a driver may spell it otherwise).
func equalFoldGUID(a, b string) bool { return strings.EqualFold(a, b) }
