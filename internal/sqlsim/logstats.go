package sqlsim

import (
	"strings"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/media"
	"github.com/sqlvault/sqlvault/internal/sqlsim/query"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// logStatsMinBuild is the first SQL Server 2016 build with sys.dm_db_log_stats (2016 SP2,
// 13.0.5026); every 2017 (14.x) and later build has it. Earlier builds answer 208.
const logStatsMinBuild = 5026

// logStats is sys.dm_db_log_stats(database_id), as Microsoft documents it (a subset of its
// columns): the log's total and active size, and log_since_last_log_backup_mb, the log a
// BACKUP LOG would take now. On an availability-group secondary only database_id and
// recovery_model come back; the sizes are NULL ("only a subset of the fields", the page's
// remarks). args[0] NULL means the current database.
func (x *executor) logStats(args []any) (*query.Table, error) {
	in := x.s.in
	major, _, build := parseVersion(in.cfg.Version)
	if major < 13 || (major == 13 && build < logStatsMinBuild) {
		return nil, sqlErr(208, "Invalid object name 'sys.dm_db_log_stats'.")
	}
	t := &query.Table{Columns: []sqltypes.Column{
		col("database_id", sqltypes.Int), nvarchar("recovery_model", 60),
		col("total_log_size_mb", sqltypes.Float), col("active_log_size_mb", sqltypes.Float),
		col("log_since_last_log_backup_mb", sqltypes.Float),
	}}
	in.mu.Lock()
	defer in.mu.Unlock()
	var db *Database
	if len(args) == 0 || args[0] == nil {
		db = in.dbs[strings.ToUpper(x.s.currentDB())]
	} else if id, ok := toInt64(args[0]); ok {
		for _, d := range in.dbs {
			if int64(d.id) == id {
				db = d
			}
		}
	}
	if db == nil || db.snapshotOf != 0 {
		return t, nil
	}
	row := []any{db.id, db.recovery, nil, nil, nil}
	if db.ag == nil || db.ag.isPrimaryLocked(in) {
		var logPages int64
		for _, f := range db.files {
			if f.typ == 1 {
				logPages += f.pages
			}
		}
		total := float64(logPages*content.PageSize) / (1 << 20)
		sh := db.shared
		sh.mu.Lock()
		since := int64(len(sh.content.Records(sh.lastLogBackup, sh.content.NextLSN()))) * media.LogItemBytes
		sh.mu.Unlock()
		row[2], row[3], row[4] = total, float64(since)/(1<<20), float64(since)/(1<<20)
	}
	t.Rows = append(t.Rows, row)
	return t, nil
}
