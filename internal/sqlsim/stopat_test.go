package sqlsim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A restore sequence that stopped at a STOPAT point inside a log can roll forward again
// from that log, to the same or a later point (Microsoft, "Best Practices for Recovering a
// Database to a Specific Recovery Point"); sys.master_files.redo_start_lsn shows where the
// next roll forward starts, and restorehistory records each RESTORE. A point earlier than
// what is applied is refused (4335).
func TestStopAtRollsForwardAgain(t *testing.T) {
	e := newEnv(t)
	f := e.buildChain("Sa")
	mv := "MOVE 'Sa' TO '/d/sa2.mdf', MOVE 'Sa_log' TO '/d/sa2.ldf'"
	redo := func() string {
		rows := e.queryRows("SELECT CAST(MAX(redo_start_lsn) AS nvarchar(40)) AS r FROM sys.master_files WHERE database_id = DB_ID('Sa2')")
		require.Len(t, rows, 1)
		s, _ := rows[0]["r"].(string)
		return s
	}
	e.mustExec("RESTORE DATABASE Sa2 FROM URL = @p1 WITH NORECOVERY, "+mv, e.url("Sa_full.bak"))
	assert.Equal(t, f.lastLSN[e.url("Sa_full.bak")], redo(), "after the full, redo starts at its LastLSN")
	e.mustExec("RESTORE LOG Sa2 FROM URL = @p1 WITH NORECOVERY", e.url("Sa_log1.trn"))
	assert.Equal(t, f.lastLSN[e.url("Sa_log1.trn")], redo())
	early := f.mid.Add(-20 * time.Second)
	e.mustExec("RESTORE LOG Sa2 FROM URL = @p1 WITH NORECOVERY, STOPAT = @p2", e.url("Sa_log2.trn"), early)
	stopped := redo()
	assert.NotEqual(t, f.lastLSN[e.url("Sa_log1.trn")], stopped, "the stop point lies inside log2")
	assert.NotEqual(t, f.lastLSN[e.url("Sa_log2.trn")], stopped)

	// The same log again, with the same point: nothing moves, and it is recorded again.
	e.mustExec("RESTORE LOG Sa2 FROM URL = @p1 WITH NORECOVERY, STOPAT = @p2", e.url("Sa_log2.trn"), early)
	assert.Equal(t, stopped, redo())
	// A mark that names no LSN of this log: 4334 (Microsoft: "The named mark does not
	// identify a valid LSN."), for a malformed LSN too.
	_, err := e.db.Exec("RESTORE LOG Sa2 FROM URL = @p1 WITH NORECOVERY, STOPATMARK = 'lsn:12x'", e.url("Sa_log2.trn"))
	requireSQLError(t, err, 4334)
	_, err = e.db.Exec("RESTORE LOG Sa2 FROM URL = @p1 WITH NORECOVERY, STOPATMARK = @p2", e.url("Sa_log2.trn"), "lsn:"+f.lastLSN[e.url("Sa_log3.trn")])
	requireSQLError(t, err, 4334)
	assert.Equal(t, stopped, redo(), "a refused restore changes nothing")
	// An earlier point than what is applied: 4335.
	_, err = e.db.Exec("RESTORE LOG Sa2 FROM URL = @p1 WITH NORECOVERY, STOPAT = @p2", e.url("Sa_log2.trn"), f.tDiff.Add(-time.Minute))
	requireSQLError(t, err, 4335)
	// A later point: it rolls forward to it, and recovers there exactly.
	e.mustExec("RESTORE LOG Sa2 FROM URL = @p1 WITH RECOVERY, STOPAT = @p2", e.url("Sa_log2.trn"), f.mid)
	assert.Equal(t, "ONLINE", e.state("Sa2"))
	assert.Equal(t, f.src.DigestAt(f.mid).String(), e.dbByName("Sa2").Digest().String())
	rh := e.queryRows("SELECT COUNT(*) AS n FROM msdb.dbo.restorehistory WHERE destination_database_name = 'Sa2' AND restore_type = 'L'")
	assert.EqualValues(t, 4, rh[0]["n"], fmt.Sprint(rh))
}
