package query

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// Hand-built ASTs: the evaluator's contract is the AST, not the parser's coverage, so these
// tests reach constructs independently of tsql.Parse.

func cref(parts ...string) *tsql.ColumnRef { return &tsql.ColumnRef{Name: tsql.Name{Parts: parts}} }
func str(s string) *tsql.StringLit         { return &tsql.StringLit{Value: s, Unicode: true} }
func num(s string) *tsql.NumberLit         { return &tsql.NumberLit{Text: s} }
func bin(op string, l, r tsql.Expr) *tsql.Binary {
	return &tsql.Binary{Op: op, Left: l, Right: r}
}
func fcall(name string, args ...tsql.Expr) *tsql.FuncCall {
	return &tsql.FuncCall{Name: tsql.Name{Parts: []string{name}}, Args: args}
}
func table(alias string, parts ...string) *tsql.TableRef {
	return &tsql.TableRef{Name: tsql.Name{Parts: parts}, Alias: alias}
}
func item(e tsql.Expr, alias string) tsql.SelectItem { return tsql.SelectItem{Expr: e, Alias: alias} }

func TestHandBuiltQueries(t *testing.T) {
	dbs := table("d", "sys", "databases")
	tests := []struct {
		name string
		sel  *tsql.Select
		rows [][]string
	}{
		{
			name: "FULL JOIN keeps unmatched rows of both sides",
			sel: &tsql.Select{
				List: []tsql.SelectItem{item(cref("d", "database_id"), ""), item(cref("x", "database_id"), "")},
				From: []tsql.TableSource{&tsql.Join{
					Kind: "FULL",
					Left: &tsql.DerivedTable{Alias: "d", Select: &tsql.Select{
						List:  []tsql.SelectItem{item(cref("database_id"), "")},
						From:  []tsql.TableSource{table("", "sys", "databases")},
						Where: bin("<=", cref("database_id"), num("2")),
					}},
					Right: &tsql.DerivedTable{Alias: "x", Select: &tsql.Select{
						List:  []tsql.SelectItem{item(cref("database_id"), "")},
						From:  []tsql.TableSource{table("", "sys", "databases")},
						Where: &tsql.In{Operand: cref("database_id"), List: []tsql.Expr{num("2"), num("3")}},
					}},
					On: bin("=", cref("x", "database_id"), cref("d", "database_id")),
				}},
				OrderBy: []tsql.OrderItem{{Expr: cref("d", "database_id")}, {Expr: cref("x", "database_id")}},
			},
			rows: [][]string{{"NULL", "3"}, {"1", "NULL"}, {"2", "2"}},
		},
		{
			name: "CROSS JOIN with a LIKE filter and IIF",
			sel: &tsql.Select{
				List: []tsql.SelectItem{
					item(cref("d", "name"), ""),
					item(fcall("IIF", bin(">", cref("d", "database_id"), num("2")), str("user"), str("system")), "kind"),
				},
				From: []tsql.TableSource{&tsql.Join{Kind: "CROSS", Left: dbs, Right: &tsql.DerivedTable{Alias: "one",
					Select: &tsql.Select{List: []tsql.SelectItem{item(num("1"), "n")}}}}},
				Where:   bin("LIKE", cref("d", "name"), str("m%")),
				OrderBy: []tsql.OrderItem{{Expr: cref("name"), Desc: true}},
			},
			rows: [][]string{{"MyDb_snap", "user"}, {"MyDb", "user"}, {"msdb", "user"}, {"model", "user"}, {"master", "system"}},
		},
		{
			name: "log chain: first log after the full (LSN range beyond int64)",
			sel: &tsql.Select{
				Top:  num("1"),
				List: []tsql.SelectItem{item(cref("l", "backup_set_id"), "")},
				From: []tsql.TableSource{table("l", "msdb", "dbo", "backupset")},
				Where: bin("AND", bin("AND",
					bin("<=", cref("l", "first_lsn"), num(fullLast)),
					bin("<", num(fullLast), cref("l", "last_lsn"))),
					bin("=", cref("l", "type"), str("l"))),
				OrderBy: []tsql.OrderItem{{Expr: cref("l", "backup_finish_date")}},
			},
			rows: [][]string{{"2"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Select(tc.sel, newFakeEnv())
			require.NoError(t, err)
			assert.Equal(t, tc.rows, renderRows(res.Rows))
		})
	}
}

func TestHandBuiltErrors(t *testing.T) {
	// A non-boolean search condition.
	_, err := Select(&tsql.Select{
		List:  []tsql.SelectItem{item(num("1"), "")},
		From:  []tsql.TableSource{table("", "sys", "databases")},
		Where: cref("name"),
	}, newFakeEnv())
	assert.Equal(t, int32(4145), sqlErrNumber(err))

	// A comparison where a value is expected.
	_, _, err = Eval(bin("+", num("1"), bin("=", num("1"), num("1"))), newFakeEnv())
	assert.Equal(t, int32(102), sqlErrNumber(err))

	// Ambiguous ORDER BY alias.
	_, err = Select(&tsql.Select{
		List:    []tsql.SelectItem{item(cref("name"), "x"), item(cref("state_desc"), "x")},
		From:    []tsql.TableSource{table("", "sys", "databases")},
		OrderBy: []tsql.OrderItem{{Expr: cref("x")}},
	}, newFakeEnv())
	assert.Equal(t, int32(209), sqlErrNumber(err))
}

func TestTableValuedFunctionCalls(t *testing.T) {
	env := newFakeEnv()
	// Correlated: called once with NULL to learn the columns, then once per outer row.
	sel := parseSelect(t, `SELECT d.database_id, s.log_backup_lsn FROM sys.databases d
		CROSS APPLY sys.dm_db_log_stats(d.database_id) s`)
	res, err := Select(sel, env)
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"5", log2Last}}, renderRows(res.Rows))
	require.Len(t, env.tvfCalls, 9)
	assert.Equal(t, []any{nil}, env.tvfCalls[0])

	// Constant arguments: called once.
	env = newFakeEnv()
	res, err = Select(parseSelect(t, "SELECT log_backup_lsn FROM sys.dm_db_log_stats(DB_ID(@db))"), env)
	require.NoError(t, err)
	assert.Equal(t, [][]string{{log2Last}}, renderRows(res.Rows))
	assert.Equal(t, [][]any{{int32(5)}}, env.tvfCalls)
}
