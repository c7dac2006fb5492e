package domain

import (
	"slices"
	"time"
)

// ChainState is what a log or differential backup must continue, as the vault holds it:
// the control side computes it from the item's recovery points (ChainStateOf) and hands it
// to the agent, which compares it with what SQL Server says before it backs up, so the
// agent never reads the vault's catalog.
//
// It describes one database incarnation, the one the newest full is of: the backups of an
// earlier incarnation (dropped and created again, or restored as new) cannot continue a
// chain of the current one, whatever their LSNs.
type ChainState struct {
	// DatabaseGUID is the incarnation the newest full is of ("" when there is no full).
	DatabaseGUID string
	// NewestFullID and NewestFullStart are the newest scheduled (not copy-only) full's.
	NewestFullID    string
	NewestFullStart time.Time
	// NewestLogLastLSN is the highest LastLSN of a log ("" when there is none).
	NewestLogLastLSN LSN
	// BaseEndLSN is the highest LastLSN of a full or differential: a log whose FirstLSN is
	// at or below it restores after that base.
	BaseEndLSN LSN
	// BackupSetGUIDs are the msdb backup sets of the vault's points that a backup SQL Server
	// shows can be compared with (OursSet): every full and differential, and the logs past
	// BaseEndLSN. Older logs are left out: they cannot end where a log chain that does not
	// continue from the vault ends (past BaseEndLSN), and they are most of the points.
	BackupSetGUIDs []string
	// BaseCheckpoints are the checkpoint LSNs of the incarnation's scheduled (not copy-only)
	// fulls: the differential bases the vault can restore a differential onto (the
	// planner pairs a differential with a full by exactly this LSN, DifferentialOf). A
	// database whose differential base (sys.master_files.differential_base_lsn) is none of
	// them — restored from a copy-only full, or fully backed up by another tool — would
	// produce differentials no restore can use. Nil in a state from an older control side:
	// then the base is not checked.
	BaseCheckpoints []LSN
}

// HasFull reports whether the vault holds a scheduled full to continue from.
func (s *ChainState) HasFull() bool { return s.NewestFullID != "" }

// ChainStateOf computes the chain state of an item's points (in any order).
func ChainStateOf(points []Point) ChainState {
	var s ChainState
	var newest *Point
	for i := range points {
		p := &points[i]
		if p.Type == Full && !p.CopyOnly && (newest == nil || p.Start.After(newest.Start)) {
			newest = p
		}
	}
	if newest == nil {
		return s
	}
	s.DatabaseGUID, s.NewestFullID, s.NewestFullStart = newest.DatabaseGUID, newest.ID, newest.Start
	for i := range points {
		p := &points[i]
		if !SameDatabase(p, newest) {
			continue
		}
		switch {
		case p.IsBase() && (s.BaseEndLSN == "" || p.LastLSN.Compare(s.BaseEndLSN) > 0):
			s.BaseEndLSN = p.LastLSN
		case p.Type == Log && (s.NewestLogLastLSN == "" || p.LastLSN.Compare(s.NewestLogLastLSN) > 0):
			s.NewestLogLastLSN = p.LastLSN
		}
	}
	for i := range points {
		p := &points[i]
		if SameDatabase(p, newest) && p.BackupSetGUID != "" && (p.IsBase() || p.LastLSN.Compare(s.BaseEndLSN) > 0) {
			s.BackupSetGUIDs = append(s.BackupSetGUIDs, p.BackupSetGUID)
		}
	}
	slices.Sort(s.BackupSetGUIDs)
	s.BackupSetGUIDs = slices.Compact(s.BackupSetGUIDs)
	for i := range points {
		p := &points[i]
		if p.Type == Full && !p.CopyOnly && SameDatabase(p, newest) && p.CheckpointLSN.Valid() {
			s.BaseCheckpoints = append(s.BaseCheckpoints, p.CheckpointLSN)
		}
	}
	slices.SortFunc(s.BaseCheckpoints, LSN.Compare)
	s.BaseCheckpoints = slices.Compact(s.BaseCheckpoints)
	return s
}

// DifferentialBaseInVault reports whether a differential backup taken now, from a database
// whose differential base LSN is base, could be restored from the vault: base is the
// checkpoint of one of its scheduled fulls. known is false when the state does not say (no
// base list: an older control side; or SQL Server showed no base), and then ok is true.
func (s *ChainState) DifferentialBaseInVault(base LSN) (ok, known bool) {
	if len(s.BaseCheckpoints) == 0 || base == "" {
		return true, false
	}
	return slices.Contains(s.BaseCheckpoints, base), true
}

// LogContinues reports whether the next log backup of the database, whose FirstLSN is next
// (sys.database_recovery_status.last_log_backup_lsn), continues the vault's chain: it
// starts where the vault's newest log ends, or at or before the end of a base the vault
// holds.
func (s *ChainState) LogContinues(next LSN) bool {
	return (s.NewestLogLastLSN != "" && s.NewestLogLastLSN == next) ||
		(s.BaseEndLSN != "" && next.Compare(s.BaseEndLSN) <= 0)
}

// Ours reports whether msdb's backup set guid is one of the vault's points (see
// BackupSetGUIDs for which are listed).
func (s *ChainState) Ours(guid string) bool {
	return slices.Contains(s.BackupSetGUIDs, guid)
}

// SameDatabase reports whether the live database (its GUID as SQL Server shows it now) is
// the incarnation the chain is of. An unknown GUID on either side ("") is taken to match:
// a caller that cannot read it keeps the LSN checks.
func (s *ChainState) SameDatabase(liveGUID string) bool {
	return s.DatabaseGUID == "" || liveGUID == "" || equalFoldGUID(s.DatabaseGUID, liveGUID)
}

// FullMaxAge is how old the newest full may be before a scheduled log or differential backup
// takes a full instead: two full intervals (weekly or daily fulls), so one missed full is
// tolerated.
func FullMaxAge(weeklyFulls bool) time.Duration {
	if weeklyFulls {
		return 2 * 7 * 24 * time.Hour
	}
	return 2 * 24 * time.Hour
}
