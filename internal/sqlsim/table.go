package sqlsim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/media"
	"github.com/sqlvault/sqlvault/internal/sqlsim/query"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// User tables: CREATE TABLE and INSERT … VALUES write rows that backups carry and restores
// bring back as of the restored point, so a workload written in plain T-SQL (the acceptance
// suite's) can be checked after a restore with a query that runs on real SQL Server too.
//
// A table change is a log record like any other write (it changes a page, so content
// digests move too) plus a media.TableOp tied to that record's LSN, kept in the database's
// sharedState. The table as of any LSN is the replay of the ops before it, which is how
// backups carry tables (media.Header.TableOps) and how a point-in-time restore stops in the
// middle of them. Tables are meant for small test workloads: every SELECT replays the ops.

// tableColumnTypes are the column types a table may have; others are refused as unmodelled.
var tableColumnTypes = map[string]bool{"int": true, "integer": true, "bigint": true, "smallint": true, "tinyint": true,
	"bit": true, "nvarchar": true, "varchar": true, "nchar": true, "char": true, "datetime2": true, "datetime": true}

// userTable is a table's state: its columns and rows (sqltypes values).
type userTable struct {
	schema, name string
	defs         []media.TableColumn
	cols         []sqltypes.Column
	rows         [][]any
}

func tableKey(schema, name string) string {
	return strings.ToLower(schema) + "." + strings.ToLower(name)
}

// tablesAt replays ops into tables (ops are in LSN order).
func tablesAt(ops []media.TableOp) (map[string]*userTable, error) {
	out := map[string]*userTable{}
	for _, op := range ops {
		k := tableKey(op.Schema, op.Table)
		if op.Create != nil {
			t := &userTable{schema: op.Schema, name: op.Table, defs: op.Create}
			for _, d := range op.Create {
				c, err := query.ColumnType(tsql.TypeName{Name: d.Type, Args: d.Args, Max: d.Max})
				if err != nil {
					return nil, err
				}
				c.Name = d.Name
				t.cols = append(t.cols, c)
			}
			out[k] = t
			continue
		}
		t := out[k]
		if t == nil {
			return nil, fmt.Errorf("sqlsim: table op at LSN %d for unknown table %s", op.LSN, k)
		}
		for _, r := range op.Rows {
			row := make([]any, len(r))
			for i, s := range r {
				v, err := decodeCell(s, t.cols[i].Type)
				if err != nil {
					return nil, err
				}
				row[i] = v
			}
			t.rows = append(t.rows, row)
		}
	}
	return out, nil
}

// opsBetween returns the ops with from <= LSN < to.
func opsBetween(ops []media.TableOp, from, to content.LSN) []media.TableOp {
	var out []media.TableOp
	for _, op := range ops {
		if op.LSN >= from && op.LSN < to {
			out = append(out, op)
		}
	}
	return out
}

func encodeCell(v any) *string {
	var s string
	switch v := v.(type) {
	case nil:
		return nil
	case int32:
		s = strconv.FormatInt(int64(v), 10)
	case int64:
		s = strconv.FormatInt(v, 10)
	case int16:
		s = strconv.FormatInt(int64(v), 10)
	case uint8:
		s = strconv.FormatUint(uint64(v), 10)
	case bool:
		s = "0"
		if v {
			s = "1"
		}
	case string:
		s = v
	case time.Time:
		s = v.Format(time.RFC3339Nano)
	default:
		s = fmt.Sprint(v)
	}
	return &s
}

func decodeCell(s *string, t sqltypes.Type) (any, error) {
	if s == nil {
		return nil, nil
	}
	switch t {
	case sqltypes.Int:
		n, err := strconv.ParseInt(*s, 10, 32)
		return int32(n), err
	case sqltypes.BigInt:
		return strconv.ParseInt(*s, 10, 64)
	case sqltypes.SmallInt:
		n, err := strconv.ParseInt(*s, 10, 16)
		return int16(n), err
	case sqltypes.TinyInt:
		n, err := strconv.ParseUint(*s, 10, 8)
		return uint8(n), err
	case sqltypes.Bit:
		return *s == "1", nil
	case sqltypes.DateTime, sqltypes.DateTime2:
		return time.Parse(time.RFC3339Nano, *s)
	}
	return *s, nil
}

// tableTarget resolves a table name as written ([db.][schema.]name) against the session.
func (x *executor) tableTarget(n tsql.Name) (db *Database, schema, name string, err error) {
	parts := n.Parts
	dbName := x.s.currentDB()
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		schema, name = parts[0], parts[1]
	case 3:
		if parts[0] != "" {
			dbName = parts[0]
		}
		schema, name = parts[1], parts[2]
	default:
		return nil, "", "", sqlErr(117, "The object name '%s' contains more than the maximum number of prefixes. The maximum is 2.", strings.Join(parts, "."))
	}
	if schema == "" {
		schema = "dbo"
	}
	d, ok := x.s.in.Database(dbName)
	if !ok {
		return nil, "", "", sqlErr(911, "Database '%s' does not exist. Make sure that the name is entered correctly.", dbName)
	}
	if !strings.EqualFold(schema, "dbo") {
		return nil, "", "", sqlErr(2760, "The specified schema name \"%s\" either does not exist or you do not have permission to use it.", schema)
	}
	return d, "dbo", name, nil
}

// readTables is the database's tables now; nil when the database is not readable.
func (db *Database) readTables() (map[string]*userTable, error) {
	sh := db.sharedState()
	sh.mu.Lock()
	ops := slices.Clone(sh.tables)
	sh.mu.Unlock()
	return tablesAt(ops)
}

// appendTableOp logs a table change: one page write, and op tied to its LSN.
func (db *Database) appendTableOp(op media.TableOp) {
	sh := db.sharedState()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	op.LSN = sh.content.Write(db.in.sim.Now(), 1)
	sh.tables = append(sh.tables, op)
}

func (x *executor) createTable(st *tsql.CreateTable) error {
	db, schema, name, err := x.tableTarget(st.Name)
	if err != nil {
		return err
	}
	if db.id <= 4 {
		return &tsql.UnsupportedError{Statement: "CREATE TABLE in system database " + db.Name()}
	}
	sh := db.sharedState()
	sh.tableMu.Lock()
	defer sh.tableMu.Unlock()
	if err := db.writable(); err != nil {
		return err
	}
	tables, err := db.readTables()
	if err != nil {
		return err
	}
	if _, dup := tables[tableKey(schema, name)]; dup {
		return sqlErr(2714, "There is already an object named '%s' in the database.", name)
	}
	seen := map[string]bool{}
	var defs []media.TableColumn
	for _, c := range st.Columns {
		if seen[strings.ToLower(c.Name)] {
			return sqlErr(2705, "Column names in each table must be unique. Column name '%s' in table '%s' is specified more than once.", c.Name, name)
		}
		seen[strings.ToLower(c.Name)] = true
		if !tableColumnTypes[c.Type.Name] {
			return &tsql.UnsupportedError{Statement: "CREATE TABLE column type " + c.Type.Name}
		}
		if _, err := query.ColumnType(c.Type); err != nil {
			return err
		}
		defs = append(defs, media.TableColumn{Name: c.Name, Type: c.Type.Name, Args: c.Type.Args, Max: c.Type.Max,
			NotNull: c.NotNull, PrimaryKey: c.PrimaryKey})
	}
	db.appendTableOp(media.TableOp{Schema: schema, Table: name, Create: defs})
	return x.done(0, false)
}

func (x *executor) insert(st *tsql.Insert) error {
	db, schema, name, err := x.tableTarget(st.Table)
	if err != nil {
		return err
	}
	sh := db.sharedState()
	sh.tableMu.Lock()
	defer sh.tableMu.Unlock()
	tables, err := db.readTables()
	if err != nil {
		return err
	}
	t := tables[tableKey(schema, name)]
	if t == nil {
		return sqlErr(208, "Invalid object name '%s'.", strings.Join(st.Table.Parts, "."))
	}
	if err := db.writable(); err != nil {
		return err
	}
	// Which table column each value goes to.
	target := make([]int, 0, len(t.cols))
	if st.Columns == nil {
		for i := range t.cols {
			target = append(target, i)
		}
	} else {
		for _, c := range st.Columns {
			i := slices.IndexFunc(t.cols, func(tc sqltypes.Column) bool { return strings.EqualFold(tc.Name, c) })
			if i < 0 {
				return sqlErr(207, "Invalid column name '%s'.", c)
			}
			if slices.Contains(target, i) {
				return sqlErr(264, "The column name '%s' is specified more than once in the SET clause or column list of an INSERT. A column cannot be assigned more than one value in the same clause. Modify the clause to make sure that a column is updated only once. If this statement updates or inserts columns into a view, column aliasing can conceal the duplication in your code.", c)
			}
			target = append(target, i)
		}
	}
	keyOf := func(row []any) string {
		var b strings.Builder
		for i, d := range t.defs {
			if d.PrimaryKey {
				fmt.Fprintf(&b, "%v\x00", keyPart(row[i]))
			}
		}
		return b.String()
	}
	hasKey := slices.ContainsFunc(t.defs, func(d media.TableColumn) bool { return d.PrimaryKey })
	keys := map[string]bool{}
	if hasKey {
		for _, r := range t.rows {
			keys[keyOf(r)] = true
		}
	}
	var rows [][]*string
	for _, exprs := range st.Rows {
		switch {
		case len(exprs) > len(target):
			return sqlErr(110, "There are fewer columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.")
		case len(exprs) < len(target):
			return sqlErr(109, "There are more columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.")
		}
		row := make([]any, len(t.cols))
		for j, e := range exprs {
			v, typ, err := query.Eval(e, x.env())
			if err != nil {
				return err
			}
			i := target[j]
			if row[i], err = columnValue(db.Name(), t, i, v, typ); err != nil {
				return err
			}
		}
		for i, d := range t.defs {
			if d.NotNull && row[i] == nil {
				return sqlErr(515, "Cannot insert the value NULL into column '%s', table '%s.%s.%s'; column does not allow nulls. INSERT fails.", d.Name, db.Name(), schema, name)
			}
		}
		if hasKey {
			k := keyOf(row)
			if keys[k] {
				return sqlErr(2627, "Violation of PRIMARY KEY constraint 'PK_%s'. Cannot insert duplicate key in object '%s.%s'. The duplicate key value is (%s).", name, schema, name, strings.TrimSuffix(strings.ReplaceAll(k, "\x00", ", "), ", "))
			}
			keys[k] = true
		}
		cells := make([]*string, len(row))
		for i, v := range row {
			cells[i] = encodeCell(v)
		}
		rows = append(rows, cells)
	}
	db.appendTableOp(media.TableOp{Schema: schema, Table: name, Rows: rows})
	return x.done(int64(len(rows)), true)
}

// keyPart is a primary-key value's identity under the default case-insensitive collation.
func keyPart(v any) any {
	if s, ok := v.(string); ok {
		return strings.ToUpper(strings.TrimRight(s, " "))
	}
	return v
}

// columnValue converts an inserted value to column i's type, refusing what would not fit
// (SQL Server 2019+ message 2628 for strings).
func columnValue(dbName string, t *userTable, i int, v any, typ sqltypes.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	d := t.defs[i]
	tn := tsql.TypeName{Name: d.Type, Args: d.Args, Max: d.Max}
	if t.cols[i].Type == sqltypes.NVarChar {
		tn = tsql.TypeName{Name: "nvarchar", Max: true}
	}
	out, _, err := query.Convert(v, typ, tn)
	if err != nil {
		return nil, err
	}
	if s, ok := out.(string); ok && t.cols[i].Size > 0 && utf8.RuneCountInString(strings.TrimRight(s, " ")) > t.cols[i].Size {
		trunc := []rune(s)[:t.cols[i].Size]
		return nil, sqlErr(2628, "String or binary data would be truncated in table '%s.%s.%s', column '%s'. Truncated value: '%s'.",
			dbName, t.schema, t.name, d.Name, string(trunc))
	}
	return out, nil
}

// userTableView is a user table as the query evaluator sees it (nil: no such table).
func (in *Instance) userTableView(dbName, schema, object string) (*query.Table, error) {
	db, ok := in.Database(dbName)
	if !ok || db.id <= 4 {
		return nil, nil
	}
	if schema == "" {
		schema = "dbo"
	}
	if schema != "dbo" {
		return nil, nil
	}
	tables, err := db.readTables()
	if err != nil {
		return nil, err
	}
	t := tables[tableKey(schema, object)]
	if t == nil {
		return nil, nil
	}
	switch st := db.State(); st {
	case StateOnline:
	case StateRestoring:
		return nil, sqlErr(927, "Database '%s' cannot be opened. It is in the middle of a restore.", db.Name())
	default:
		return nil, sqlErr(942, "Database '%s' cannot be opened because it is %s.", db.Name(), strings.ToLower(st))
	}
	return &query.Table{Columns: slices.Clone(t.cols), Rows: t.rows}, nil
}
