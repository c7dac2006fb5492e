package query

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// render spells a result value for comparison: NULL, decimals in plain notation, dates with
// milliseconds, bits as 0/1.
func render(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case sqltypes.Decimal:
		return v.String()
	case time.Time:
		return v.Format("2006-01-02 15:04:05.000")
	case bool:
		if v {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

func renderRows(rows [][]any) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			out[i][j] = render(v)
		}
	}
	return out
}

func runSQL(t *testing.T, env Env, sql string) (*Table, error) {
	t.Helper()
	return Select(parseSelect(t, sql), env)
}

func TestSelectQueries(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		cols []string
		rows [][]string
	}{
		{
			name: "case-insensitive name match",
			sql:  "SELECT name, database_id FROM sys.databases WHERE name = N'MYDB'",
			cols: []string{"name", "database_id"},
			rows: [][]string{{"MyDb", "5"}},
		},
		{
			name: "trailing spaces are ignored in comparisons",
			sql:  "SELECT database_id FROM sys.databases WHERE name = 'msdb   '",
			cols: []string{"database_id"},
			rows: [][]string{{"4"}},
		},
		{
			name: "bit compared with 1 and a NULL-able column",
			sql:  "SELECT d.name FROM sys.databases AS d WHERE d.is_read_only = 1 AND d.source_database_id IS NULL",
			cols: []string{"name"},
			rows: [][]string{{"Sales_2024"}},
		},
		{
			name: "= NULL is unknown, never true",
			sql:  "SELECT name FROM sys.databases WHERE source_database_id = NULL OR source_database_id <> 5",
			cols: []string{"name"},
			rows: nil,
		},
		{
			name: "NOT IN with a NULL in the list keeps nothing",
			sql:  "SELECT name FROM sys.databases WHERE database_id NOT IN (1, 2, NULL)",
			cols: []string{"name"},
			rows: nil,
		},
		{
			name: "IN list and BETWEEN",
			sql:  "SELECT name FROM sys.databases WHERE database_id IN (1, 5, 99) OR database_id BETWEEN 7 AND 8 ORDER BY database_id",
			cols: []string{"name"},
			rows: [][]string{{"master"}, {"MyDb"}, {"MyDb_snap"}, {"Restoring1"}},
		},
		{
			name: "LIKE with a set, a range and a negated set",
			sql: `SELECT name FROM sys.databases
			      WHERE name LIKE 'm[sy]%' AND name NOT LIKE '%[_]snap' AND name LIKE '[^t]%' ORDER BY name`,
			cols: []string{"name"},
			rows: [][]string{{"msdb"}, {"MyDb"}},
		},
		{
			name: "LIKE _ and a character range, case-insensitive",
			sql:  "SELECT name FROM sys.databases WHERE name LIKE 'SALES[_]20[0-9]_'",
			cols: []string{"name"},
			rows: [][]string{{"Sales_2024"}},
		},
		{
			name: "latest full backup with its devices: join, TOP 1, ORDER BY date DESC",
			sql: `SELECT TOP (1) b.backup_set_id, b.checkpoint_lsn, b.backup_finish_date, m.physical_device_name
			      FROM msdb.dbo.backupset AS b
			      INNER JOIN msdb.dbo.backupmediafamily AS m ON m.media_set_id = b.media_set_id
			      WHERE b.database_name = @db AND b.type = 'D' AND b.is_copy_only = 0
			      ORDER BY b.backup_finish_date DESC, m.family_sequence_number`,
			cols: []string{"backup_set_id", "checkpoint_lsn", "backup_finish_date", "physical_device_name"},
			rows: [][]string{{"1", fullCkpt, "2026-11-25 22:00:00.000", "https://acct.blob.core.windows.net/bk/MyDb_full_1.bak"}},
		},
		{
			name: "LSN comparison beyond int64, with a numeric literal and a string",
			sql: `SELECT backup_set_id FROM msdb.dbo.backupset
			      WHERE first_lsn <= 98765432109876543200101 AND last_lsn > '98765432109876543200101' AND type = 'L'`,
			cols: []string{"backup_set_id"},
			rows: [][]string{{"2"}},
		},
		{
			name: "LSN comparison with a variable",
			sql:  "SELECT backup_set_id FROM msdb..backupset WHERE last_lsn = @lsn OR first_lsn > @lsn + 99 ORDER BY 1",
			cols: []string{"backup_set_id"},
			rows: [][]string{{"1"}, {"3"}, {"4"}, {"5"}},
		},
		{
			name: "differential base: database_backup_lsn equals the full's checkpoint_lsn",
			sql: `SELECT d.backup_set_id FROM msdb.dbo.backupset f, msdb.dbo.backupset d
			      WHERE f.type = 'D' AND d.type = 'I' AND d.database_backup_lsn = f.checkpoint_lsn`,
			cols: []string{"backup_set_id"},
			rows: [][]string{{"3"}},
		},
		{
			name: "datetime compared with ISO and ODBC string literals",
			sql: `SELECT backup_set_id FROM msdb.dbo.backupset
			      WHERE backup_finish_date >= '2026-11-26T10:15:30' AND backup_finish_date < '2026-11-26 10:15:30.200'`,
			cols: []string{"backup_set_id"},
			rows: [][]string{{"4"}},
		},
		{
			name: "LEFT JOIN keeps databases without history, RIGHT JOIN keeps orphan media",
			sql: `SELECT d.name, COUNT(b.backup_set_id) AS backups
			      FROM sys.databases d LEFT JOIN msdb.dbo.backupset b ON b.database_name = d.name
			      WHERE d.database_id >= 5 GROUP BY d.name ORDER BY backups DESC, d.name`,
			cols: []string{"name", "backups"},
			rows: [][]string{{"MyDb", "5"}, {"Sales_2024", "1"}, {"MyDb_snap", "0"}, {"Restoring1", "0"}},
		},
		{
			name: "RIGHT JOIN",
			sql: `SELECT b.backup_set_id, m.physical_device_name FROM msdb.dbo.backupset b
			      RIGHT OUTER JOIN msdb.dbo.backupmediafamily m ON m.media_set_id = b.media_set_id
			      WHERE b.backup_set_id IS NULL`,
			cols: []string{"backup_set_id", "physical_device_name"},
			rows: [][]string{{"NULL", "https://acct.blob.core.windows.net/bk/orphan.bak"}},
		},
		{
			name: "GROUP BY with COUNT(*), COUNT(DISTINCT), MIN, MAX, HAVING",
			sql: `SELECT database_name, COUNT(*) AS n, COUNT(DISTINCT type) AS kinds, MIN(first_lsn) AS lo, MAX(backup_finish_date) AS latest
			      FROM msdb.dbo.backupset GROUP BY database_name HAVING COUNT(*) > 1`,
			cols: []string{"database_name", "n", "kinds", "lo", "latest"},
			rows: [][]string{{"MyDb", "5", "3", fullFirst, "2026-11-26 12:00:00.000"}},
		},
		{
			name: "aggregates over no rows: COUNT is 0, MAX and SUM are NULL",
			sql:  "SELECT COUNT(*), COUNT(last_lsn), MAX(last_lsn), SUM(backup_set_id) FROM msdb.dbo.backupset WHERE database_name = 'nope'",
			cols: []string{"", "", "", ""},
			rows: [][]string{{"0", "0", "NULL", "NULL"}},
		},
		{
			name: "SUM and AVG of int are int (AVG truncates); numeric division keeps 6 decimals at precision 38",
			sql:  "SELECT SUM(database_id), AVG(database_id), SUM(CAST(database_id AS numeric(10,2))) / 8 FROM sys.databases",
			cols: []string{"", "", ""},
			rows: [][]string{{"36", "4", "4.500000"}},
		},
		{
			name: "GROUP BY with no group",
			sql:  "SELECT type, COUNT(*) FROM msdb.dbo.backupset WHERE database_name = 'nope' GROUP BY type",
			cols: []string{"type", ""},
			rows: nil,
		},
		{
			name: "GROUP BY on an expression, selected as written",
			sql: `SELECT CONVERT(nvarchar(10), backup_finish_date, 120) AS day, COUNT(*) AS n FROM msdb.dbo.backupset
			      WHERE database_name = 'MyDb' GROUP BY CONVERT(nvarchar(10), backup_finish_date, 120) ORDER BY day`,
			cols: []string{"day", "n"},
			rows: [][]string{{"2026-11-25", "1"}, {"2026-11-26", "4"}},
		},
		{
			name: "DISTINCT is case-insensitive",
			sql:  "SELECT DISTINCT database_name FROM msdb.dbo.backupset ORDER BY database_name",
			cols: []string{"database_name"},
			rows: [][]string{{"MyDb"}, {"Sales_2024"}},
		},
		{
			name: "ORDER BY ordinal, alias and NULLs first ascending",
			sql:  "SELECT name AS db, source_database_id FROM sys.databases WHERE database_id > 5 ORDER BY 2, db DESC",
			cols: []string{"db", "source_database_id"},
			rows: [][]string{{"Sales_2024", "NULL"}, {"Restoring1", "NULL"}, {"MyDb_snap", "5"}},
		},
		{
			name: "ORDER BY a column not in the select list",
			sql:  "SELECT TOP 2 name FROM sys.databases ORDER BY database_id DESC",
			cols: []string{"name"},
			rows: [][]string{{"Restoring1"}, {"MyDb_snap"}},
		},
		{
			name: "TOP with a variable",
			sql:  "SELECT TOP (@n) name FROM sys.databases ORDER BY name",
			cols: []string{"name"},
			rows: [][]string{{"master"}, {"model"}},
		},
		{
			name: "star and qualified star",
			sql:  "SELECT m.*, b.type FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily m ON m.media_set_id = b.media_set_id WHERE b.backup_set_id = 3",
			cols: []string{"media_set_id", "physical_device_name", "family_sequence_number", "type"},
			rows: [][]string{{"3", "https://acct.blob.core.windows.net/bk/MyDb_diff.bak", "1", "I"}},
		},
		{
			name: "scalar subquery, correlated",
			sql: `SELECT d.name, (SELECT MAX(b.backup_finish_date) FROM msdb.dbo.backupset b WHERE b.database_name = d.name AND b.type = 'L') AS last_log
			      FROM sys.databases d WHERE d.recovery_model_desc = 'FULL' ORDER BY d.database_id`,
			cols: []string{"name", "last_log"},
			rows: [][]string{{"model", "NULL"}, {"MyDb", "2026-11-26 10:15:30.123"}, {"MyDb_snap", "NULL"}, {"Restoring1", "NULL"}},
		},
		{
			name: "EXISTS and NOT EXISTS, correlated",
			sql: `SELECT name FROM sys.databases d
			      WHERE EXISTS (SELECT * FROM msdb.dbo.backupset b WHERE b.database_name = d.name)
			        AND NOT EXISTS (SELECT 1 FROM msdb.dbo.backupset b WHERE b.database_name = d.name AND b.type = 'I')`,
			cols: []string{"name"},
			rows: [][]string{{"Sales_2024"}},
		},
		{
			name: "IN (subquery), uncorrelated",
			sql:  "SELECT physical_device_name FROM msdb.dbo.backupmediafamily WHERE media_set_id IN (SELECT media_set_id FROM msdb.dbo.backupset WHERE type = 'L') ORDER BY 1",
			cols: []string{"physical_device_name"},
			rows: [][]string{{"https://acct.blob.core.windows.net/bk/MyDb_log_1.trn"}, {"https://acct.blob.core.windows.net/bk/MyDb_log_2.trn"}},
		},
		{
			name: "derived table",
			sql: `SELECT x.database_name, x.n FROM (SELECT database_name, COUNT(*) AS n FROM msdb.dbo.backupset GROUP BY database_name) AS x
			      WHERE x.n = 1`,
			cols: []string{"database_name", "n"},
			rows: [][]string{{"Sales_2024", "1"}},
		},
		{
			name: "CROSS APPLY a correlated TOP 1 derived table",
			sql: `SELECT d.name, last.backup_set_id FROM sys.databases d
			      CROSS APPLY (SELECT TOP 1 b.backup_set_id FROM msdb.dbo.backupset b WHERE b.database_name = d.name ORDER BY b.backup_finish_date DESC) AS last
			      ORDER BY d.name`,
			cols: []string{"name", "backup_set_id"},
			rows: [][]string{{"MyDb", "5"}, {"Sales_2024", "6"}},
		},
		{
			name: "OUTER APPLY a correlated table-valued function",
			sql: `SELECT d.name, ls.log_backup_lsn FROM sys.databases d
			      OUTER APPLY sys.dm_db_log_stats(d.database_id) AS ls WHERE d.database_id IN (4, 5) ORDER BY d.database_id`,
			cols: []string{"name", "log_backup_lsn"},
			rows: [][]string{{"msdb", "NULL"}, {"MyDb", log2Last}},
		},
		{
			name: "SELECT without FROM: functions and variables",
			sql:  "SELECT @@VERSION AS v, IS_SRVROLEMEMBER('sysadmin') AS sa, sys.fn_hadr_backup_is_preferred_replica(@db) AS pref, DB_ID(N'mydb') AS id",
			cols: []string{"v", "sa", "pref", "id"},
			rows: [][]string{{"Microsoft SQL Server 2022 (simulated)", "1", "1", "5"}},
		},
		{
			name: "WHERE on a SELECT without FROM",
			sql:  "SELECT 1 AS one WHERE 1 = 0",
			cols: []string{"one"},
			rows: nil,
		},
		{
			name: "CASE with NULL branch and ISNULL on a NULL column",
			sql: `SELECT name, CASE WHEN source_database_id IS NOT NULL THEN 'snapshot' WHEN is_read_only = 1 THEN 'read-only' ELSE NULL END AS kind,
			             ISNULL(source_database_id, 0) AS src
			      FROM sys.databases WHERE database_id IN (5, 6, 7) ORDER BY database_id`,
			cols: []string{"name", "kind", "src"},
			rows: [][]string{{"MyDb", "NULL", "0"}, {"Sales_2024", "read-only", "0"}, {"MyDb_snap", "snapshot", "5"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := runSQL(t, newFakeEnv(), tc.sql)
			require.NoError(t, err)
			names := make([]string, len(res.Columns))
			for i, c := range res.Columns {
				names[i] = c.Name
			}
			assert.Equal(t, tc.cols, names)
			if tc.rows == nil {
				assert.Empty(t, res.Rows)
				return
			}
			assert.Equal(t, tc.rows, renderRows(res.Rows))
		})
	}
}
