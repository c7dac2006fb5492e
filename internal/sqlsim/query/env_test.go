package query

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// fakeEnv is a small SQL Server catalog: sys.databases, msdb's backup history and a
// table-valued function, plus a few system functions and variables.
type fakeEnv struct {
	tables map[string]*Table
	vars   map[string]any
	now    time.Time
	// tvfCalls records the argument lists sys.dm_db_log_stats was called with.
	tvfCalls [][]any
}

func lsn(s string) sqltypes.Decimal {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return sqltypes.NewDecimalInt(v)
}

func ts(s string) time.Time {
	t, ok := parseDateTime(s)
	if !ok {
		panic(s)
	}
	return t
}

func nv(name string, size int) sqltypes.Column {
	return sqltypes.Column{Name: name, Type: sqltypes.NVarChar, Size: size}
}

func typed(name string, t sqltypes.Type) sqltypes.Column {
	c := sqltypes.Column{Name: name, Type: t}
	if t == sqltypes.Numeric {
		c.Precision = 25
	}
	return c
}

// LSNs beyond int64 (2^63 ≈ 9.22e18): the history below is 23 digits long.
const (
	fullFirst = "98765432109876543200001"
	fullLast  = "98765432109876543200101"
	fullCkpt  = "98765432109876543200050"
	log1Last  = "98765432109876543200201"
	diffLast  = "98765432109876543200301"
	log2Last  = "98765432109876543200401"
)

func newFakeEnv() *fakeEnv {
	databases := &Table{
		Columns: []sqltypes.Column{nv("name", 128), typed("database_id", sqltypes.Int), nv("state_desc", 60),
			nv("recovery_model_desc", 60), typed("is_read_only", sqltypes.Bit), typed("source_database_id", sqltypes.Int)},
		Rows: [][]any{
			{"master", int32(1), "ONLINE", "SIMPLE", false, nil},
			{"tempdb", int32(2), "ONLINE", "SIMPLE", false, nil},
			{"model", int32(3), "ONLINE", "FULL", false, nil},
			{"msdb", int32(4), "ONLINE", "SIMPLE", false, nil},
			{"MyDb", int32(5), "ONLINE", "FULL", false, nil},
			{"Sales_2024", int32(6), "ONLINE", "BULK_LOGGED", true, nil},
			{"MyDb_snap", int32(7), "ONLINE", "FULL", true, int32(5)},
			{"Restoring1", int32(8), "RESTORING", "FULL", false, nil},
		},
	}
	backupset := &Table{
		Columns: []sqltypes.Column{typed("backup_set_id", sqltypes.Int), nv("database_name", 128), nv("type", 1),
			typed("is_copy_only", sqltypes.Bit), typed("first_lsn", sqltypes.Numeric), typed("last_lsn", sqltypes.Numeric),
			typed("checkpoint_lsn", sqltypes.Numeric), typed("database_backup_lsn", sqltypes.Numeric),
			typed("backup_finish_date", sqltypes.DateTime), typed("media_set_id", sqltypes.Int)},
		Rows: [][]any{
			{int32(1), "MyDb", "D", false, lsn(fullFirst), lsn(fullLast), lsn(fullCkpt), lsn("0"), ts("2026-11-25T22:00:00"), int32(1)},
			{int32(2), "MyDb", "L", false, lsn(fullFirst), lsn(log1Last), lsn(fullCkpt), lsn(fullCkpt), ts("2026-11-26T00:15:00"), int32(2)},
			{int32(3), "MyDb", "I", false, lsn(log1Last), lsn(diffLast), lsn("98765432109876543200250"), lsn(fullCkpt), ts("2026-11-26T06:00:00"), int32(3)},
			{int32(4), "MyDb", "L", false, lsn(log1Last), lsn(log2Last), lsn(fullCkpt), lsn(fullCkpt), ts("2026-11-26T10:15:30.123"), int32(4)},
			{int32(5), "mydb", "D", true, lsn(log2Last), lsn("98765432109876543200501"), lsn("98765432109876543200450"), lsn(fullCkpt), ts("2026-11-26T12:00:00"), int32(5)},
			{int32(6), "Sales_2024", "D", false, lsn("34000000012300001"), lsn("34000000015600001"), lsn("34000000014500001"), nil, ts("2026-11-20T08:30:00"), int32(6)},
		},
	}
	mediafamily := &Table{
		Columns: []sqltypes.Column{typed("media_set_id", sqltypes.Int), nv("physical_device_name", 260), typed("family_sequence_number", sqltypes.TinyInt)},
		Rows: [][]any{
			{int32(1), "https://acct.blob.core.windows.net/bk/MyDb_full_1.bak", uint8(1)},
			{int32(1), "https://acct.blob.core.windows.net/bk/MyDb_full_2.bak", uint8(2)},
			{int32(2), "https://acct.blob.core.windows.net/bk/MyDb_log_1.trn", uint8(1)},
			{int32(3), "https://acct.blob.core.windows.net/bk/MyDb_diff.bak", uint8(1)},
			{int32(4), "https://acct.blob.core.windows.net/bk/MyDb_log_2.trn", uint8(1)},
			{int32(5), "D:\\Backups\\mydb_copy.bak", uint8(1)},
			{int32(6), "https://acct.blob.core.windows.net/bk/Sales_2024.bak", uint8(1)},
			{int32(9), "https://acct.blob.core.windows.net/bk/orphan.bak", uint8(1)},
		},
	}
	e := &fakeEnv{
		tables: map[string]*Table{},
		vars: map[string]any{
			"db":       "MyDb",
			"lsn":      lsn(fullLast),
			"n":        int32(2),
			"nothing":  nil,
			"@VERSION": "Microsoft SQL Server 2022 (simulated)",
		},
		now: ts("2026-11-26T12:34:56.789"),
	}
	for _, k := range []string{"sys.databases", "master.sys.databases"} {
		e.tables[k] = databases
	}
	for _, k := range []string{"msdb.dbo.backupset", "msdb..backupset", "backupset"} {
		e.tables[k] = backupset
	}
	for _, k := range []string{"msdb.dbo.backupmediafamily", "msdb..backupmediafamily", "backupmediafamily"} {
		e.tables[k] = mediafamily
	}
	return e
}

func (e *fakeEnv) Table(name tsql.Name, args []any) (*Table, error) {
	key := strings.ToLower(strings.Join(name.Parts, "."))
	if key == "sys.dm_db_log_stats" {
		e.tvfCalls = append(e.tvfCalls, args)
		t := &Table{Columns: []sqltypes.Column{typed("database_id", sqltypes.Int), typed("log_backup_lsn", sqltypes.Numeric)}}
		if len(args) == 1 && args[0] != nil {
			id := intValue(args[0])
			if id == 5 {
				t.Rows = append(t.Rows, []any{int32(5), lsn(log2Last)})
			}
		}
		return t, nil
	}
	if args != nil {
		return nil, errf(208, "Invalid object name '%s'.", strings.Join(name.Parts, "."))
	}
	if t, ok := e.tables[key]; ok {
		return t, nil
	}
	return nil, errf(208, "Invalid object name '%s'.", strings.Join(name.Parts, "."))
}

func (e *fakeEnv) Function(name tsql.Name, args []any) (any, sqltypes.Type, bool, error) {
	switch strings.ToLower(strings.Join(name.Parts, ".")) {
	case "getdate":
		return e.now, sqltypes.DateTime, true, nil
	case "sysutcdatetime":
		return e.now, sqltypes.DateTime2, true, nil
	case "is_srvrolemember":
		return int32(1), sqltypes.Int, true, nil
	case "db_id":
		for _, r := range e.tables["sys.databases"].Rows {
			if s, ok := args[0].(string); ok && strings.EqualFold(r[0].(string), s) {
				return r[1], sqltypes.Int, true, nil
			}
		}
		return nil, sqltypes.Int, true, nil
	case "serverproperty":
		if s, _ := args[0].(string); strings.EqualFold(s, "Edition") {
			return "Developer Edition (64-bit)", sqltypes.NVarChar, true, nil
		}
		return nil, sqltypes.NVarChar, true, nil
	case "sys.fn_hadr_backup_is_preferred_replica":
		return int32(1), sqltypes.Int, true, nil
	}
	return nil, 0, false, nil
}

func (e *fakeEnv) Variable(name string) (any, sqltypes.Type, bool) {
	v, ok := e.vars[name]
	if !ok {
		return nil, 0, false
	}
	if v == nil {
		return nil, sqltypes.Int, true
	}
	return v, typeOfValue(v), true
}

// parseSelect parses one SELECT statement with the project's parser.
func parseSelect(t *testing.T, sql string) *tsql.Select {
	t.Helper()
	b, err := tsql.Parse(sql)
	require.NoError(t, err, sql)
	require.Len(t, b.Statements, 1, sql)
	sel, ok := b.Statements[0].(*tsql.Select)
	require.True(t, ok, "%s is not a SELECT", sql)
	return sel
}

// parseExpr parses the single expression of "SELECT <expr>" (or the condition of IF).
func parseExpr(t *testing.T, expr string) tsql.Expr {
	t.Helper()
	b, err := tsql.Parse("IF " + expr + " PRINT 1")
	if err == nil {
		if st, ok := b.Statements[0].(*tsql.If); ok {
			return st.Cond
		}
	}
	sel := parseSelect(t, "SELECT "+expr)
	require.Len(t, sel.List, 1)
	return sel.List[0].Expr
}

// sqlErrNumber extracts the SQL Server error number (0 when err is not a *sqltypes.Error).
func sqlErrNumber(err error) int32 {
	if e, ok := err.(*sqltypes.Error); ok {
		return e.Number
	}
	return 0
}
