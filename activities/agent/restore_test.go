package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// A resumed restore decides from the target's state whether a step was applied: the
// highest redo_start_lsn against the step's LSNs (as WAL-G does), and, for a STOPAT log
// that stopped inside itself, msdb's newest restorehistory row. Never from an error number.
func TestAppliedDecidesFromState(t *testing.T) {
	stop := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	full := protocol.RestoreStepPlan{PointID: "f", Type: vault.BackupFull, FirstLSN: "1000", LastLSN: "1002"}
	log1 := protocol.RestoreStepPlan{PointID: "l1", Type: vault.BackupLog, FirstLSN: "900", LastLSN: "2000"}
	log1At := log1
	log1At.StopAt = &stop
	log2At := protocol.RestoreStepPlan{PointID: "l2", Type: vault.BackupLog, FirstLSN: "2000", LastLSN: "3000", StopAt: &stop}
	restoring := func(redo string, last *sqlserver.RestoredSet) sqlserver.TargetState {
		return sqlserver.TargetState{Exists: true, State: "RESTORING", RedoStartLSN: redo, LastRestore: last}
	}
	setOf := func(p protocol.RestoreStepPlan) *sqlserver.RestoredSet {
		return &sqlserver.RestoredSet{FirstLSN: p.FirstLSN, LastLSN: p.LastLSN, StopAt: p.StopAt}
	}
	for _, c := range []struct {
		name string
		st   sqlserver.TargetState
		step protocol.RestoreStepPlan
		want bool
	}{
		{"full applied: redo at its LastLSN", restoring("1002", setOf(full)), full, true},
		{"full not applied: other redo", restoring("1500", nil), full, false},
		{"online database: nothing is being restored", sqlserver.TargetState{Exists: true, State: "ONLINE"}, full, false},
		{"log applied: redo at its LastLSN", restoring("2000", setOf(log1)), log1, true},
		{"log applied: redo past it", restoring("2500", setOf(log2At)), log1, true},
		{"first log after the full, not yet applied: redo inside it", restoring("1002", setOf(full)), log1At, false},
		{"first log after the full, stopped inside by STOPAT", restoring("1400", setOf(log1At)), log1At, true},
		{"STOPAT log not yet applied after a whole log", restoring("2000", setOf(log1)), log2At, false},
		{"STOPAT log that stopped inside itself", restoring("2345", setOf(log2At)), log2At, true},
		{"no STOPAT: redo inside the log means not applied", restoring("1400", setOf(log1)), log1, false},
		{"STOPAT log without restore history", restoring("2345", nil), log2At, false},
	} {
		got := applied(c.st, protocol.RestoreStepInput{TargetDatabase: "T", Step: c.step})
		assert.Equal(t, c.want, got, c.name)
	}
}

// SQL Server's restore refusals become named, non-retried errors (numbers and messages:
// Microsoft's error reference 3000-3999 and 4000-4999).
func TestRestoreErrorNames(t *testing.T) {
	in := protocol.RestoreStepInput{TargetDatabase: "T", Step: protocol.RestoreStepPlan{PointID: "p", Type: vault.BackupLog}}
	for n, want := range map[int32]string{
		4305: protocol.ErrRestoreChainRejected, 4326: protocol.ErrRestoreChainRejected, 3136: protocol.ErrRestoreChainRejected,
		3117: protocol.ErrRestoreChainRejected, 4338: protocol.ErrRestoreChainRejected, 4335: protocol.ErrRestoreChainRejected,
		3154: protocol.ErrTargetExists, 3159: protocol.ErrTargetExists, 3104: protocol.ErrTargetInAG,
	} {
		err := restoreError(&sqlserver.Error{Kind: sqlserver.ErrOther, Number: n, Text: "refused"}, in)
		assert.Equal(t, want, protocol.ErrorType(err), "%d", n)
	}
}
