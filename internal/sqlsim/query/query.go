// Package query evaluates SELECT statements and scalar expressions of the T-SQL AST
// (package tsql) the way SQL Server does, over virtual tables the engine supplies: name
// binding with SQL Server's errors, three-valued logic, the default collation
// SQL_Latin1_General_CP1_CI_AS (case-insensitive, trailing blanks ignored), data type
// precedence and implicit conversion, exact numeric arithmetic (numeric(25,0) LSNs beyond
// int64 included), joins, APPLY, subqueries, grouping, DISTINCT, ORDER BY and TOP.
//
// Every error is a *sqltypes.Error with SQL Server's number and message text.
//
// A statement is first compiled — FROM tables fetched from the Env, every name bound, types
// inferred — and then run, so binding errors (207, 209, 4104, 8120) surface even when no
// row would be read, as they do in SQL Server.
package query

import (
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// Table is a materialized (virtual) table or a result.
type Table struct {
	Columns []sqltypes.Column
	Rows    [][]any // sqltypes Go representation; nil = NULL
}

// Env supplies what lives outside the evaluator (the engine implements it).
type Env interface {
	// Table resolves a FROM item: name as written (e.g. {"msdb","dbo","backupset"},
	// {"sys","databases"}, {"backupset"}), args for a table-valued function (already
	// evaluated; nil for a plain table). Unknown → *sqltypes.Error 208.
	//
	// A table-valued function whose arguments depend on the row (CROSS APPLY
	// sys.dm_db_log_stats(d.database_id)) is also called once at compile time with every
	// argument NULL, to learn its columns before any row exists.
	Table(name tsql.Name, args []any) (*Table, error)
	// Function evaluates scalar functions the evaluator does not implement itself
	// (SERVERPROPERTY, DB_ID, GETDATE, sys.fn_hadr_backup_is_preferred_replica, …).
	// ok=false → 195 "'%s' is not a recognized built-in function name." (4121 for a
	// multi-part name).
	Function(name tsql.Name, args []any) (value any, typ sqltypes.Type, ok bool, err error)
	// Variable returns @name (without @; @@X arrives as "@X").
	// ok=false → 137 "Must declare the scalar variable \"@%s\".".
	Variable(name string) (value any, typ sqltypes.Type, ok bool)
}

// Logic is SQL's three-valued truth.
type Logic int8

const (
	Unknown Logic = iota // a comparison with NULL
	False
	True
)

func (l Logic) not() Logic {
	switch l {
	case True:
		return False
	case False:
		return True
	}
	return Unknown
}

func logicOf(b bool) Logic {
	if b {
		return True
	}
	return False
}

// Select runs a SELECT and returns its result set.
func Select(sel *tsql.Select, env Env) (*Table, error) {
	root := &scope{env: env}
	p, err := compileSelect(root, sel)
	if err != nil {
		return nil, err
	}
	out, err := p.exec(&frame{})
	if err != nil {
		return nil, err
	}
	cols := make([]sqltypes.Column, len(p.cols))
	for i, c := range p.cols {
		cols[i] = outputColumn(c, out, i)
	}
	rows := make([][]any, len(out))
	for i, r := range out {
		rows[i] = r.vals
	}
	return &Table{Columns: cols, Rows: rows}, nil
}

// outputColumn settles the declared type of a result column whose type was only known at
// run time (an Env function: the type of its first non-NULL value, nvarchar if none) or is
// the NULL literal's (int, as in SQL Server).
func outputColumn(c sqltypes.Column, rows []outRow, i int) sqltypes.Column {
	switch {
	case c.Type == tNull:
		c.Type = sqltypes.Int
	case c.Type == tDynamic:
		c.Type = sqltypes.NVarChar
		for _, r := range rows {
			if r.vals[i] != nil {
				c.Type = concrete(r.vals[i], r.types[i])
				break
			}
		}
	}
	if c.Type == sqltypes.Numeric && c.Precision == 0 {
		c.Precision = 38
		for _, r := range rows {
			if d, ok := r.vals[i].(sqltypes.Decimal); ok {
				c.Scale = max(c.Scale, d.Scale)
			}
		}
	}
	return c
}

// Eval evaluates a scalar expression with no row in scope (SET @x = …, EXEC arguments,
// BACKUP … TO URL = @u). A predicate (IF EXISTS (…), @n > 0) is accepted too and yields a
// bit: true, false, or NULL for unknown.
func Eval(e tsql.Expr, env Env) (any, sqltypes.Type, error) {
	root := &scope{env: env}
	if isPredicate(e) {
		p, err := compilePred(root, e)
		if err != nil {
			return nil, 0, err
		}
		l, err := p(&frame{})
		if err != nil || l == Unknown {
			return nil, sqltypes.Bit, err
		}
		return l == True, sqltypes.Bit, nil
	}
	c, err := compileExpr(root, e)
	if err != nil {
		return nil, 0, err
	}
	v, t, err := c.eval(&frame{})
	if err != nil {
		return nil, 0, err
	}
	if t <= 0 {
		t = concrete(v, c.col.Type)
		if t <= 0 {
			t = sqltypes.Int
		}
	}
	return v, t, nil
}

// Truth evaluates a search condition (IF, WHILE) with no row in scope. IF runs its THEN
// branch only for True; Unknown behaves like False there.
func Truth(cond tsql.Expr, env Env) (Logic, error) {
	p, err := compilePred(&scope{env: env}, cond)
	if err != nil {
		return Unknown, err
	}
	return p(&frame{})
}
