package query

import (
	"encoding/hex"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// frame is the row a compiled expression reads at run time, chained to the rows of the
// enclosing queries (a correlated subquery reads its outer row through outer).
type frame struct {
	row   []any
	outer *frame
}

func (f *frame) up(n int) *frame {
	for ; n > 0; n-- {
		f = f.outer
	}
	return f
}

// colInfo is one column of a scope's row: its source's exposed name and its description.
type colInfo struct {
	qual string
	col  sqltypes.Column
}

// scope is what names mean at one query level at compile time; frames mirror scopes one
// to one at run time (a column bound at depth d, index i is frame.up(d).row[i]).
type scope struct {
	env   Env
	cols  []colInfo
	quals []string // exposed names of this level's sources (aliases, else table names)
	outer *scope
	// group is set for the select list, HAVING and ORDER BY of a grouped query: their rows
	// are the GROUP BY keys followed by the aggregates' results.
	group *grouping
	// clause says where the expression being compiled sits, for the errors SQL Server
	// raises about aggregates and ungrouped columns there.
	clause string
	// refs, when set, counts the column references that bind at or above this scope (to
	// know whether a table-valued function's arguments depend on the row).
	refs *int
}

const (
	inSelect    = "select list"
	inHaving    = "HAVING clause"
	inOrderBy   = "ORDER BY clause"
	inWhere     = "WHERE clause"
	inGroupBy   = "GROUP BY clause"
	inAggregate = "aggregate"
)

// with returns a copy of s compiling the given clause.
func (s *scope) with(clause string) *scope {
	c := *s
	c.clause = clause
	return &c
}

// level returns the columns this level binds names to: before grouping, the FROM row.
func (s *scope) level() ([]colInfo, []string) {
	if s.group != nil {
		return s.group.pre.cols, s.group.pre.quals
	}
	return s.cols, s.quals
}

// lookup binds a column name at this level only. found is false when the name is not
// here and the search may go on outward; a qualifier naming a source here ends the search.
func (s *scope) lookup(parts []string) (idx int, found bool, err error) {
	cols, quals := s.level()
	name := parts[len(parts)-1]
	qual := ""
	if len(parts) > 1 {
		qual = parts[len(parts)-2]
		known := false
		for _, q := range quals {
			known = known || strings.EqualFold(q, qual)
		}
		if !known {
			return -1, false, nil
		}
	}
	idx = -1
	for i, c := range cols {
		if (qual == "" || strings.EqualFold(c.qual, qual)) && strings.EqualFold(c.col.Name, name) {
			if idx >= 0 {
				return -1, true, errAmbiguousColumn(name)
			}
			idx = i
		}
	}
	if idx < 0 && qual != "" {
		return -1, true, errInvalidColumn(name)
	}
	return idx, idx >= 0, nil
}

// binding is where a column reference reads its value.
type binding struct {
	depth, idx int
	col        sqltypes.Column
}

// resolve binds a (possibly qualified) column name, innermost scope first.
func (s *scope) resolve(parts []string) (binding, error) {
	depth := 0
	for sc := s; sc != nil; sc, depth = sc.outer, depth+1 {
		idx, found, err := sc.lookup(parts)
		if err != nil {
			return binding{}, err
		}
		if !found {
			continue
		}
		for c := s; c != sc.outer; c = c.outer {
			if c.refs != nil {
				*c.refs++
			}
		}
		if sc.group != nil {
			return sc.group.bind(sc, idx, depth)
		}
		cols, _ := sc.level()
		return binding{depth: depth, idx: idx, col: cols[idx].col}, nil
	}
	if len(parts) > 1 {
		return binding{}, errNotBound(strings.Join(parts, "."))
	}
	return binding{}, errInvalidColumn(parts[0])
}

// cexpr is a compiled scalar expression. col is its static type (Type tDynamic when only
// the run time knows); eval returns the value and its actual type.
type cexpr struct {
	col  sqltypes.Column
	eval func(f *frame) (any, sqltypes.Type, error)
}

// cpred is a compiled search condition.
type cpred func(f *frame) (Logic, error)

func constant(v any, col sqltypes.Column) *cexpr {
	return &cexpr{col: col, eval: func(*frame) (any, sqltypes.Type, error) { return v, col.Type, nil }}
}

// slot reads position i of the frame's own row (a column, a group key or an aggregate).
func slot(depth, i int, col sqltypes.Column) *cexpr {
	return &cexpr{col: col, eval: func(f *frame) (any, sqltypes.Type, error) {
		v := f.up(depth).row[i]
		return v, concrete(v, col.Type), nil
	}}
}

func unparen(e tsql.Expr) tsql.Expr {
	for {
		p, ok := e.(*tsql.Paren)
		if !ok {
			return e
		}
		e = p.Inner
	}
}

// exprText is a short rendering of an expression for error messages.
func exprText(e tsql.Expr) string {
	switch e := unparen(e).(type) {
	case *tsql.ColumnRef:
		return strings.Join(e.Name.Parts, ".")
	case *tsql.NumberLit:
		return e.Text
	case *tsql.StringLit:
		return e.Value
	case *tsql.Variable:
		return "@" + e.Name
	case *tsql.FuncCall:
		return strings.Join(e.Name.Parts, ".")
	}
	return ")"
}

func compileExpr(s *scope, e tsql.Expr) (*cexpr, error) {
	if s.group != nil {
		if c, ok := s.group.match(e); ok {
			return c, nil
		}
	}
	switch e := e.(type) {
	case *tsql.Paren:
		return compileExpr(s, e.Inner)
	case *tsql.StringLit:
		return constant(e.Value, sqltypes.Column{Type: sqltypes.NVarChar, Size: max(utf8.RuneCountInString(e.Value), 1)}), nil
	case *tsql.NumberLit:
		v, col, err := numberLiteral(e.Text)
		if err != nil {
			return nil, err
		}
		return constant(v, col), nil
	case *tsql.BinaryLit:
		h := e.Hex
		if len(h)%2 == 1 {
			h = "0" + h
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, errSyntax("0x" + e.Hex)
		}
		return constant(b, sqltypes.Column{Type: sqltypes.VarBinary, Size: max(len(b), 1)}), nil
	case *tsql.NullLit:
		return constant(nil, sqltypes.Column{Type: tNull}), nil
	case *tsql.Variable:
		v, t, ok := s.env.Variable(e.Name)
		if !ok {
			return nil, errf(137, "Must declare the scalar variable \"@%s\".", e.Name)
		}
		return constant(v, sqltypes.Column{Type: concrete(v, t)}), nil
	case *tsql.ColumnRef:
		b, err := s.resolve(e.Name.Parts)
		if err != nil {
			return nil, err
		}
		return slot(b.depth, b.idx, b.col), nil
	case *tsql.FuncCall:
		return compileFunc(s, e)
	case *tsql.Binary:
		if _, ok := opNames[e.Op]; ok {
			return compileArith(s, e)
		}
		return nil, errSyntax(e.Op)
	case *tsql.Unary:
		return compileUnary(s, e)
	case *tsql.Case:
		return compileCase(s, e)
	case *tsql.Cast:
		return compileCast(s, e)
	case *tsql.Subquery:
		return compileScalarSubquery(s, e.Select)
	case *tsql.Star:
		return nil, errSyntax("*")
	case *tsql.IsNull:
		return nil, errSyntax("IS")
	case *tsql.In:
		return nil, errSyntax("IN")
	case *tsql.Between:
		return nil, errSyntax("BETWEEN")
	case *tsql.Exists:
		return nil, errSyntax("EXISTS")
	}
	return nil, errf(102, "Incorrect syntax: unsupported expression %T.", e)
}

// runtimeCol is the column type of a value whose static type may be unknown.
func runtimeCol(static sqltypes.Column, v any, t sqltypes.Type) sqltypes.Column {
	if static.Type > 0 {
		return static
	}
	return sqltypes.Column{Type: concrete(v, t)}
}

func compileArith(s *scope, e *tsql.Binary) (*cexpr, error) {
	l, err := compileExpr(s, e.Left)
	if err != nil {
		return nil, err
	}
	r, err := compileExpr(s, e.Right)
	if err != nil {
		return nil, err
	}
	static := l.col.Type != tDynamic && r.col.Type != tDynamic
	res := sqltypes.Column{Type: tDynamic}
	if static {
		if res, err = arithType(e.Op, l.col, r.col); err != nil {
			return nil, err
		}
	}
	return &cexpr{col: res, eval: func(f *frame) (any, sqltypes.Type, error) {
		a, at, err := l.eval(f)
		if err != nil {
			return nil, 0, err
		}
		b, bt, err := r.eval(f)
		if err != nil {
			return nil, 0, err
		}
		rt := res
		if !static {
			if rt, err = arithType(e.Op, runtimeCol(l.col, a, at), runtimeCol(r.col, b, bt)); err != nil {
				return nil, 0, err
			}
		}
		v, err := arith(e.Op, rt, a, at, b, bt)
		return v, rt.Type, err
	}}, nil
}

func compileUnary(s *scope, e *tsql.Unary) (*cexpr, error) {
	if e.Op == "NOT" {
		return nil, errSyntax("NOT")
	}
	x, err := compileExpr(s, e.Operand)
	if err != nil {
		return nil, err
	}
	if e.Op == "+" {
		return x, nil
	}
	if t := x.col.Type; t > 0 && (!isNumber(t) || t == sqltypes.Bit) {
		return nil, errOperandInvalid(t, "minus")
	}
	col := x.col
	return &cexpr{col: col, eval: func(f *frame) (any, sqltypes.Type, error) {
		v, t, err := x.eval(f)
		if err != nil {
			return nil, 0, err
		}
		n, err := negate(v, t)
		return n, concrete(v, t), err
	}}, nil
}

// combineTypes is the result type of CASE, IIF and COALESCE: the branch type of highest
// precedence; NULL branches do not count, and lengths/precisions widen to hold every branch.
func combineTypes(cols []sqltypes.Column) sqltypes.Column {
	res := sqltypes.Column{Type: tNull}
	dynamic := false
	for _, c := range cols {
		switch {
		case c.Type == tDynamic:
			dynamic = true
		case c.Type > 0 && precedence(c.Type) > precedence(res.Type):
			res.Type = c.Type
		}
	}
	if res.Type == tNull && dynamic {
		return sqltypes.Column{Type: tDynamic}
	}
	intDigits, scale, size := 0, 0, 0
	for _, c := range cols {
		switch {
		case c.Type <= 0:
		case res.Type == sqltypes.Numeric && (isInteger(c.Type) || c.Type == sqltypes.Numeric):
			p, s := precisionOf(c)
			intDigits, scale = max(intDigits, int(p-s)), max(scale, int(s))
		case res.Type == sqltypes.NVarChar:
			if c.Type != sqltypes.NVarChar || c.Size == 0 {
				size = -1
			} else if size >= 0 {
				size = max(size, c.Size)
			}
		}
	}
	switch res.Type {
	case sqltypes.Numeric:
		res = numericCol(intDigits+scale, scale)
	case sqltypes.NVarChar:
		res.Size = max(size, 0)
	}
	return res
}

// toResult converts a branch value to the combined type (a CASE mixing 'abc' and 1 is int,
// and converting 'abc' fails with 245 as in SQL Server).
func toResult(v any, t sqltypes.Type, res sqltypes.Column) (any, sqltypes.Type, error) {
	t = concrete(v, t)
	if v == nil || res.Type <= 0 || t == res.Type {
		if t <= 0 {
			t = res.Type
		}
		return v, t, nil
	}
	target := sqltypes.Column{Type: res.Type, Precision: res.Precision, Scale: res.Scale}
	out, err := implicitConvert(v, t, target)
	return out, res.Type, err
}

func compileCase(s *scope, c *tsql.Case) (*cexpr, error) {
	var operand *cexpr
	var err error
	if c.Operand != nil {
		if operand, err = compileExpr(s, c.Operand); err != nil {
			return nil, err
		}
	}
	conds := make([]cpred, len(c.Whens))
	results := make([]*cexpr, len(c.Whens)+1)
	cols := make([]sqltypes.Column, 0, len(results))
	for i, w := range c.Whens {
		if operand != nil {
			when, err := compileExpr(s, w.Cond)
			if err != nil {
				return nil, err
			}
			conds[i] = comparePred("=", operand, when)
		} else if conds[i], err = compilePred(s, w.Cond); err != nil {
			return nil, err
		}
		if results[i], err = compileExpr(s, w.Result); err != nil {
			return nil, err
		}
		cols = append(cols, results[i].col)
	}
	results[len(c.Whens)] = constant(nil, sqltypes.Column{Type: tNull})
	if c.Else != nil {
		if results[len(c.Whens)], err = compileExpr(s, c.Else); err != nil {
			return nil, err
		}
		cols = append(cols, results[len(c.Whens)].col)
	}
	res := combineTypes(cols)
	return &cexpr{col: res, eval: func(f *frame) (any, sqltypes.Type, error) {
		pick := len(conds)
		for i, cond := range conds {
			l, err := cond(f)
			if err != nil {
				return nil, 0, err
			}
			if l == True {
				pick = i
				break
			}
		}
		v, t, err := results[pick].eval(f)
		if err != nil {
			return nil, 0, err
		}
		return toResult(v, t, res)
	}}, nil
}

func compileCast(s *scope, c *tsql.Cast) (*cexpr, error) {
	x, err := compileExpr(s, c.Operand)
	if err != nil {
		return nil, err
	}
	col, err := ColumnType(c.Type)
	if err != nil {
		return nil, err
	}
	var style *cexpr
	if c.Style != nil {
		if style, err = compileExpr(s, c.Style); err != nil {
			return nil, err
		}
	}
	dateOnly := strings.EqualFold(c.Type.Name, "date")
	return &cexpr{col: col, eval: func(f *frame) (any, sqltypes.Type, error) {
		v, t, err := x.eval(f)
		if err != nil {
			return nil, 0, err
		}
		st := 0
		if style != nil {
			sv, stt, err := style.eval(f)
			if err != nil {
				return nil, 0, err
			}
			n, err := convertValue(sv, stt, sqltypes.Column{Type: sqltypes.Int}, 0)
			if err != nil {
				return nil, 0, err
			}
			if n != nil {
				st = int(n.(int32))
			}
		}
		out, err := castValue(v, t, col, dateOnly, st)
		return out, col.Type, err
	}}, nil
}

func compileScalarSubquery(s *scope, sel *tsql.Select) (*cexpr, error) {
	p, err := compileSelect(s, sel)
	if err != nil {
		return nil, err
	}
	if len(p.cols) != 1 {
		return nil, errSubqueryColumns()
	}
	col := p.cols[0]
	col.Name = ""
	return &cexpr{col: col, eval: func(f *frame) (any, sqltypes.Type, error) {
		rows, err := p.run(f)
		switch {
		case err != nil:
			return nil, 0, err
		case len(rows) == 0:
			return nil, col.Type, nil
		case len(rows) > 1:
			return nil, 0, errSubqueryRows()
		}
		return rows[0][0], concrete(rows[0][0], col.Type), nil
	}}, nil
}

// ---- search conditions ----

var comparisons = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true, "!<": true, "!>": true}

// isPredicate reports whether e is a search condition rather than a value.
func isPredicate(e tsql.Expr) bool {
	switch e := unparen(e).(type) {
	case *tsql.Binary:
		return comparisons[e.Op] || e.Op == "AND" || e.Op == "OR" || e.Op == "LIKE" || e.Op == "NOT LIKE"
	case *tsql.Unary:
		return e.Op == "NOT"
	case *tsql.IsNull, *tsql.In, *tsql.Between, *tsql.Exists:
		return true
	}
	return false
}

func compilePred(s *scope, e tsql.Expr) (cpred, error) {
	switch e := e.(type) {
	case *tsql.Paren:
		return compilePred(s, e.Inner)
	case *tsql.Binary:
		switch {
		case e.Op == "AND" || e.Op == "OR":
			return compileLogical(s, e)
		case comparisons[e.Op], e.Op == "LIKE", e.Op == "NOT LIKE":
			l, err := compileExpr(s, e.Left)
			if err != nil {
				return nil, err
			}
			r, err := compileExpr(s, e.Right)
			if err != nil {
				return nil, err
			}
			if e.Op == "LIKE" || e.Op == "NOT LIKE" {
				return likePred(l, r, e.Op == "NOT LIKE"), nil
			}
			if lt, rt := l.col.Type, r.col.Type; !implicitOK(lt, rt) {
				if precedence(lt) > precedence(rt) {
					lt, rt = rt, lt
				}
				return nil, errTypeClash(lt, rt)
			}
			return comparePred(e.Op, l, r), nil
		}
	case *tsql.Unary:
		if e.Op == "NOT" {
			p, err := compilePred(s, e.Operand)
			if err != nil {
				return nil, err
			}
			return func(f *frame) (Logic, error) {
				l, err := p(f)
				return l.not(), err
			}, nil
		}
	case *tsql.IsNull:
		x, err := compileExpr(s, e.Operand)
		if err != nil {
			return nil, err
		}
		return func(f *frame) (Logic, error) {
			v, _, err := x.eval(f)
			return logicOf((v == nil) != e.Not), err
		}, nil
	case *tsql.In:
		return compileIn(s, e)
	case *tsql.Between:
		return compileBetween(s, e)
	case *tsql.Exists:
		p, err := compileSelect(s, e.Select)
		if err != nil {
			return nil, err
		}
		return func(f *frame) (Logic, error) {
			rows, err := p.run(f)
			return logicOf((len(rows) > 0) != e.Not), err
		}, nil
	}
	return nil, errf(4145, "An expression of non-boolean type specified in a context where a condition is expected, near '%s'.", exprText(e))
}

func compileLogical(s *scope, e *tsql.Binary) (cpred, error) {
	l, err := compilePred(s, e.Left)
	if err != nil {
		return nil, err
	}
	r, err := compilePred(s, e.Right)
	if err != nil {
		return nil, err
	}
	and := e.Op == "AND"
	return func(f *frame) (Logic, error) {
		a, err := l(f)
		if err != nil {
			return Unknown, err
		}
		// FALSE AND x is FALSE and TRUE OR x is TRUE whatever x is: skip evaluating it.
		if and && a == False || !and && a == True {
			return a, nil
		}
		b, err := r(f)
		if err != nil {
			return Unknown, err
		}
		switch {
		case and && b == False, !and && b == True:
			return b, nil
		case a == Unknown || b == Unknown:
			return Unknown, nil
		}
		return b, nil
	}, nil
}

// compare evaluates one comparison of two values with NULL → Unknown.
func compare(op string, a any, at sqltypes.Type, b any, bt sqltypes.Type) (Logic, error) {
	if a == nil || b == nil {
		return Unknown, nil
	}
	c, err := compareValues(a, at, b, bt)
	if err != nil {
		return Unknown, err
	}
	switch op {
	case "=":
		return logicOf(c == 0), nil
	case "<>", "!=":
		return logicOf(c != 0), nil
	case "<":
		return logicOf(c < 0), nil
	case ">":
		return logicOf(c > 0), nil
	case "<=", "!>":
		return logicOf(c <= 0), nil
	}
	return logicOf(c >= 0), nil // ">=", "!<"
}

func comparePred(op string, l, r *cexpr) cpred {
	return func(f *frame) (Logic, error) {
		a, at, err := l.eval(f)
		if err != nil {
			return Unknown, err
		}
		b, bt, err := r.eval(f)
		if err != nil {
			return Unknown, err
		}
		return compare(op, a, at, b, bt)
	}
}

func likePred(l, r *cexpr, not bool) cpred {
	return func(f *frame) (Logic, error) {
		a, at, err := l.eval(f)
		if err != nil {
			return Unknown, err
		}
		b, bt, err := r.eval(f)
		if err != nil || a == nil || b == nil {
			return Unknown, err
		}
		s, err := formatValue(a, at, 0)
		if err != nil {
			return Unknown, err
		}
		p, err := formatValue(b, bt, 0)
		if err != nil {
			return Unknown, err
		}
		return logicOf(like(s, p) != not), nil
	}
}

// inResult folds the comparisons of x IN (…): TRUE if one matches, else UNKNOWN if one was
// NULL, else FALSE; NOT IN negates (so NOT IN with a NULL in the list is never TRUE).
func inResult(x any, xt sqltypes.Type, values func(yield func(any, sqltypes.Type) (bool, error)) error, not bool) (Logic, error) {
	if x == nil {
		return Unknown, nil
	}
	res := False
	err := values(func(v any, t sqltypes.Type) (bool, error) {
		l, err := compare("=", x, xt, v, t)
		if err != nil {
			return false, err
		}
		if l == True {
			res = True
			return false, nil
		}
		if l == Unknown {
			res = Unknown
		}
		return true, nil
	})
	if err != nil {
		return Unknown, err
	}
	if not {
		return res.not(), nil
	}
	return res, nil
}

func compileIn(s *scope, e *tsql.In) (cpred, error) {
	x, err := compileExpr(s, e.Operand)
	if err != nil {
		return nil, err
	}
	if len(e.List) == 1 {
		if sub, ok := e.List[0].(*tsql.Subquery); ok {
			p, err := compileSelect(s, sub.Select)
			if err != nil {
				return nil, err
			}
			if len(p.cols) != 1 {
				return nil, errSubqueryColumns()
			}
			t := p.cols[0].Type
			return func(f *frame) (Logic, error) {
				v, vt, err := x.eval(f)
				if err != nil {
					return Unknown, err
				}
				rows, err := p.run(f)
				if err != nil {
					return Unknown, err
				}
				return inResult(v, vt, func(yield func(any, sqltypes.Type) (bool, error)) error {
					for _, r := range rows {
						if more, err := yield(r[0], t); err != nil || !more {
							return err
						}
					}
					return nil
				}, e.Not)
			}, nil
		}
	}
	list := make([]*cexpr, len(e.List))
	for i, item := range e.List {
		if list[i], err = compileExpr(s, item); err != nil {
			return nil, err
		}
	}
	return func(f *frame) (Logic, error) {
		v, vt, err := x.eval(f)
		if err != nil {
			return Unknown, err
		}
		return inResult(v, vt, func(yield func(any, sqltypes.Type) (bool, error)) error {
			for _, item := range list {
				w, wt, err := item.eval(f)
				if err != nil {
					return err
				}
				if more, err := yield(w, wt); err != nil || !more {
					return err
				}
			}
			return nil
		}, e.Not)
	}, nil
}

func compileBetween(s *scope, e *tsql.Between) (cpred, error) {
	var c [3]*cexpr
	for i, x := range []tsql.Expr{e.Operand, e.Lo, e.Hi} {
		var err error
		if c[i], err = compileExpr(s, x); err != nil {
			return nil, err
		}
	}
	return func(f *frame) (Logic, error) {
		var v [3]any
		var t [3]sqltypes.Type
		for i := range c {
			var err error
			if v[i], t[i], err = c[i].eval(f); err != nil {
				return Unknown, err
			}
		}
		lo, err := compare(">=", v[0], t[0], v[1], t[1])
		if err != nil {
			return Unknown, err
		}
		hi, err := compare("<=", v[0], t[0], v[2], t[2])
		if err != nil {
			return Unknown, err
		}
		res := hi
		switch {
		case lo == False || hi == False:
			res = False
		case lo == Unknown:
			res = Unknown
		}
		if e.Not {
			res = res.not()
		}
		return res, nil
	}, nil
}

// sameExpr reports whether two expressions are written alike (GROUP BY matching).
func sameExpr(a, b tsql.Expr) bool { return reflect.DeepEqual(unparen(a), unparen(b)) }
