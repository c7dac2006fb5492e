package acceptance

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// digest is the workload table's content as real SQL Server can compute it: the row count
// and the order-independent checksum of every row. Only equality between two digests of the
// same server means anything (the simulator's checksum values are its own).
type digest struct {
	Rows int64
	Sum  sql.NullInt32
}

func (d digest) String() string {
	if !d.Sum.Valid {
		return fmt.Sprintf("%d rows, checksum NULL", d.Rows)
	}
	return fmt.Sprintf("%d rows, checksum %d", d.Rows, d.Sum.Int32)
}

// workload is a scratch database with one table the suite writes between backups.
type workload struct {
	tg   *target
	db   string
	next int
}

func (w *workload) table(db string) string {
	return sqlserver.QuoteName(db) + ".dbo.[workload]"
}

func (w *workload) exec(q string, args ...any) {
	w.tg.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := w.tg.sql.ExecContext(ctx, q, args...)
	require.NoError(w.tg.t, err, q)
}

// write inserts n rows in one statement, tagged with the step.
func (w *workload) write(step, n int) {
	var vals []string
	var args []any
	for i := range n {
		w.next++
		vals = append(vals, fmt.Sprintf("(@p%d, @p%d, @p%d)", 3*i+1, 3*i+2, 3*i+3))
		args = append(args, w.next, step, fmt.Sprintf("step %d row %d: %s", step, w.next, strings.Repeat("x", w.next%17)))
	}
	w.exec("INSERT INTO "+w.table(w.db)+" (id, step, payload) VALUES "+strings.Join(vals, ", "), args...)
}

// digestOf computes the digest of the workload table in database db.
func (w *workload) digestOf(db string) digest {
	w.tg.t.Helper()
	var d digest
	require.NoError(w.tg.t, w.tg.sql.QueryRow("SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(*)) FROM "+w.table(db)).Scan(&d.Rows, &d.Sum))
	return d
}

// now is SQL Server's own clock as an instant: restore instants are instants (RFC 3339 with
// an offset; the agent converts them to the server's local time for STOPAT), so the suite
// reads SYSUTCDATETIME(), which is UTC whatever the VM's time zone (SYSDATETIME() is local).
// It carries no offset, so its wall-clock fields are kept and labelled UTC.
func (w *workload) now() time.Time {
	w.tg.t.Helper()
	var t time.Time
	require.NoError(w.tg.t, w.tg.sql.QueryRow("SELECT SYSUTCDATETIME()").Scan(&t))
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant records an instant strictly between the writes before and after it: STOPAT and
// msdb times are datetime (1/300 s), so a second of margin on each side keeps it unambiguous.
func (w *workload) instant() time.Time {
	time.Sleep(1100 * time.Millisecond)
	at := w.now()
	time.Sleep(1100 * time.Millisecond)
	return at
}

func (tg *target) backup(db string, typ protocol.BackupType) protocol.RecoveryPoint {
	tg.t.Helper()
	out, err := tg.starter("backup", "--instance", tg.instance, "--database", db, "--type", string(typ),
		"--agent-vm", tg.vm, "--wait", "--json")
	require.NoError(tg.t, err)
	var res protocol.BackupResult
	require.NoError(tg.t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(tg.t, typ, res.RecoveryPoint.Type, "a %s backup was asked for", typ)
	return res.RecoveryPoint
}

func (tg *target) restore(args ...string) protocol.RestoreResult {
	tg.t.Helper()
	out, err := tg.starter(append(append([]string{"restore", "--to-vm", tg.vm}, args...), "--wait", "--json")...)
	require.NoError(tg.t, err)
	var res protocol.RestoreResult
	require.NoError(tg.t, json.Unmarshal([]byte(out), &res), out)
	return res
}

func (tg *target) pointCount(db string) int {
	tg.t.Helper()
	out, err := tg.starter("list", "--instance", tg.instance, "--database", db, "--json")
	require.NoError(tg.t, err)
	var rps []protocol.RecoveryPoint
	require.NoError(tg.t, json.Unmarshal([]byte(out), &rps), out)
	return len(rps)
}

// dropDatabases removes what the suite created, so a real server is left as it was.
func (tg *target) dropDatabases(names ...string) {
	for _, n := range names {
		q := fmt.Sprintf("IF DB_ID(N'%s') IS NOT NULL DROP DATABASE %s", strings.ReplaceAll(n, "'", "''"), sqlserver.QuoteName(n))
		if _, err := tg.sql.Exec(q); err != nil {
			tg.t.Logf("cleanup: %s: %v", q, err)
		}
	}
}

// TestAcceptance runs the core scenarios on the target SQL Server: discover; full,
// differential and log backups between writes of a workload; restore to a recovery point
// and to an instant under new names; restore over the database with its tail-log backup;
// verify-restore; a retention dry run. After each restore the workload's digest must equal
// the digest recorded at the restored instant.
func TestAcceptance(t *testing.T) {
	tg := newTarget(t)
	mode := "the SQL Server simulator (set " + envDSN + " to run against a real SQL Server)"
	if tg.real {
		mode = "the SQL Server given by " + envDSN
	}
	t.Logf("acceptance suite against %s: instance %s, agent VM %s, vault container %s", mode, tg.instance, tg.vm, tg.container)

	w := &workload{tg: tg, db: fmt.Sprintf("sqlvault_acceptance_%d", time.Now().Unix())}
	names := []string{w.db}
	for _, suffix := range []string{"point", "instant", "instant2", "tail"} {
		names = append(names, w.db+"_"+suffix)
	}
	tg.dropDatabases(names...)
	t.Cleanup(func() { tg.dropDatabases(names...) })
	w.exec("CREATE DATABASE " + sqlserver.QuoteName(w.db))
	w.exec("ALTER DATABASE " + sqlserver.QuoteName(w.db) + " SET RECOVERY FULL")
	w.exec("CREATE TABLE " + w.table(w.db) + " (id int NOT NULL PRIMARY KEY, step int NOT NULL, payload nvarchar(100) NOT NULL)")

	// Discover: the scratch database is there and may take every backup type.
	out, err := tg.starter("discover", "--vm", tg.vm, "--json")
	require.NoError(t, err)
	var inq protocol.InquiryResult
	require.NoError(t, json.Unmarshal([]byte(out), &inq), out)
	var found *protocol.DatabaseInfo
	for _, in := range inq.Instances {
		for i, d := range in.Databases {
			if in.Name == tg.instance && d.Name == w.db {
				found = &in.Databases[i]
			}
		}
	}
	require.NotNil(t, found, "discover lists %s on %s:\n%s", w.db, tg.instance, out)
	assert.True(t, found.Protectable, "%+v", found)
	assert.Equal(t, "FULL", found.RecoveryModel)
	for _, typ := range []protocol.BackupType{protocol.Full, protocol.Differential, protocol.Log} {
		assert.Contains(t, found.BackupTypes, typ)
	}

	// Protect it with a policy (schedules far from now: the suite takes its own backups), so
	// retention has a policy to judge its points by.
	pol := policy.Policy{Name: "acceptance-" + tg.container,
		Full:      policy.FullSchedule{Frequency: policy.FrequencyDaily, TimeOfDay: fmt.Sprintf("%02d:00", (time.Now().UTC().Hour()+12)%24), TimeZone: "UTC"},
		Log:       &policy.LogSchedule{EveryMinutes: 720},
		Retention: policy.Retention{Daily: &policy.Keep{Days: 30}, LogDays: 30},
	}
	require.NoError(t, pol.Validate())
	doc, err := json.Marshal(pol)
	require.NoError(t, err)
	polFile := filepath.Join(tg.dir, "policy.json")
	require.NoError(t, os.WriteFile(polFile, doc, 0o600))
	_, err = tg.starter("policy", "create", "--file", polFile)
	require.NoError(t, err)
	_, err = tg.starter("protect", "--vm", tg.vm, "--instance", tg.instance, "--policy", pol.Name, "--skip-first-full", w.db)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := tg.starter("unprotect", "--instance", tg.instance, "--database", w.db); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})

	// Backups between writes; the digest at each backup and at two instants inside logs.
	w.write(1, 20)
	dFull := w.digestOf(w.db)
	full := tg.backup(w.db, protocol.Full)
	w.write(2, 10)
	dDiff := w.digestOf(w.db)
	diff := tg.backup(w.db, protocol.Differential)
	w.write(3, 10)
	at3 := w.instant()
	d3 := w.digestOf(w.db)
	w.write(4, 10)
	dLog1 := w.digestOf(w.db)
	log1 := tg.backup(w.db, protocol.Log)
	w.write(5, 10)
	at5 := w.instant()
	d5 := w.digestOf(w.db)
	w.write(6, 10)
	dLog2 := w.digestOf(w.db)
	log2 := tg.backup(w.db, protocol.Log)
	seen := map[digest]bool{}
	for _, d := range []digest{dFull, dDiff, d3, dLog1, d5, dLog2} {
		assert.False(t, seen[d], "every write step changes the digest (%s)", d)
		seen[d] = true
	}
	assert.Equal(t, int64(70), dLog2.Rows)
	for _, rp := range []protocol.RecoveryPoint{full, diff, log1, log2} {
		assert.Equal(t, tg.instance, rp.Instance)
		assert.NotEmpty(t, rp.LastLSN)
	}
	assert.Equal(t, log1.LastLSN, log2.FirstLSN, "the two logs form a chain")

	// Restore to a recovery point, as a new name: the differential's content.
	res := tg.restore("--instance", tg.instance, "--database", w.db, "--point", diff.PointID, "--as-name", w.db+"_point")
	assert.Equal(t, "ONLINE", res.State)
	assert.Equal(t, dDiff, w.digestOf(w.db+"_point"), "restore to the differential")

	// Restore to instants inside each log, as new names: exactly the rows as of then.
	res = tg.restore("--instance", tg.instance, "--database", w.db, "--at", at3.Format(time.RFC3339Nano), "--as-name", w.db+"_instant")
	assert.Equal(t, "ONLINE", res.State)
	assert.Equal(t, d3, w.digestOf(w.db+"_instant"), "restore to %s (inside the first log)", at3)
	res = tg.restore("--instance", tg.instance, "--database", w.db, "--at", at5.Format(time.RFC3339Nano), "--as-name", w.db+"_instant2")
	assert.Equal(t, d5, w.digestOf(w.db+"_instant2"), "restore to %s (inside the second log)", at5)
	require.NotEmpty(t, res.Steps)
	assert.Equal(t, log2.PointID, res.Steps[len(res.Steps)-1].PointID, "the last step is the second log")

	// Verify-restore: a scratch restore checked by DBCC CHECKDB and dropped.
	res = tg.restore("--instance", tg.instance, "--database", w.db, "--point", log2.PointID, "--verify")
	require.NotNil(t, res.Verify)
	assert.True(t, res.Verify.OK, res.Verify.Message)

	// Restore over the database: the tail of its log is backed up first and becomes a
	// recovery point with the rows written since the last log backup.
	w.write(7, 10)
	dTail := w.digestOf(w.db)
	before := tg.pointCount(w.db)
	res = tg.restore("--instance", tg.instance, "--database", w.db, "--point", full.PointID, "--overwrite")
	require.NotNil(t, res.TailLog, "overwriting the protected database takes a tail-log backup")
	assert.Equal(t, protocol.Log, res.TailLog.Type)
	assert.Equal(t, dFull, w.digestOf(w.db), "the database is back at the full")
	assert.Equal(t, before+1, tg.pointCount(w.db))
	tg.restore("--instance", tg.instance, "--database", w.db, "--point", res.TailLog.PointID, "--as-name", w.db+"_tail")
	assert.Equal(t, dTail, w.digestOf(w.db+"_tail"), "the tail-log backup holds the last writes")

	// Retention, dry run: judges the points by the policy — a daily-full policy keeps no
	// differentials, so the on-demand differential is the one point it would delete; the
	// fulls and logs are within its 30 days — and deletes nothing.
	points := tg.pointCount(w.db)
	out, err = tg.starter("retention", "--dry-run", "--json")
	require.NoError(t, err)
	var ret protocol.RetentionResult
	require.NoError(t, json.Unmarshal([]byte(out), &ret), out)
	assert.True(t, ret.DryRun)
	var ours []protocol.RetentionDecision
	for _, d := range ret.Deleted {
		if d.ItemID == full.ItemID {
			ours = append(ours, d)
		}
	}
	require.Len(t, ours, 1, "%+v", ret.Deleted)
	assert.Equal(t, diff.PointID, ours[0].PointID)
	assert.Contains(t, strings.Join(ours[0].Reasons, "; "), "differential")
	assert.GreaterOrEqual(t, ret.Kept, points-1)
	assert.Equal(t, points, tg.pointCount(w.db), "a dry run changes nothing")
}
