package query

import (
	"math"
	"math/big"
	"strings"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

var aggregates = map[string]bool{"COUNT": true, "COUNT_BIG": true, "SUM": true, "AVG": true, "MIN": true, "MAX": true, "CHECKSUM_AGG": true}

// grouping is a grouped query's GROUP BY keys and aggregates. After grouping, a row is the
// key values followed by the aggregate results; the select list, HAVING and ORDER BY
// compile against it: a column must be a key (8120) unless it sits inside an aggregate.
type grouping struct {
	pre     *scope      // the FROM row's scope, where keys and aggregate arguments bind
	keys    []tsql.Expr // as written
	keyRefs []int       // for a key that is a plain column of the FROM row, its index; else -1
	keyCols []*cexpr    // compiled against pre
	aggs    []*aggregate
}

type aggregate struct {
	name     string
	star     bool // COUNT(*)
	distinct bool
	arg      *cexpr // compiled against pre
	col      sqltypes.Column
}

// bind maps a column of the FROM row to its group key.
func (g *grouping) bind(sc *scope, idx, depth int) (binding, error) {
	for i, ref := range g.keyRefs {
		if ref == idx {
			return binding{depth: depth, idx: i, col: g.keyCols[i].col}, nil
		}
	}
	c := g.pre.cols[idx]
	name := c.qual + "." + c.col.Name
	switch sc.clause {
	case inHaving:
		return binding{}, errf(8121, "Column '%s' is invalid in the HAVING clause because it is not contained in either an aggregate function or the GROUP BY clause.", name)
	case inOrderBy:
		return binding{}, errf(8127, "Column \"%s\" is invalid in the ORDER BY clause because it is not contained in either an aggregate function or the GROUP BY clause.", name)
	}
	return binding{}, errf(8120, "Column '%s' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.", name)
}

// match finds an expression written exactly like a (non-column) GROUP BY key:
// GROUP BY YEAR(d) lets the select list say YEAR(d).
func (g *grouping) match(e tsql.Expr) (*cexpr, bool) {
	if _, ok := unparen(e).(*tsql.ColumnRef); ok {
		return nil, false // columns go through bind, which also accepts other spellings
	}
	for i, k := range g.keys {
		if g.keyRefs[i] < 0 && sameExpr(k, e) {
			return slot(0, i, g.keyCols[i].col), true
		}
	}
	return nil, false
}

// containsAggregate reports an aggregate call in e outside any subquery (a subquery's
// aggregates belong to the subquery).
func containsAggregate(e tsql.Expr) bool {
	found := false
	var walk func(e tsql.Expr)
	walk = func(e tsql.Expr) {
		if e == nil || found {
			return
		}
		switch e := e.(type) {
		case *tsql.FuncCall:
			if len(e.Name.Parts) == 1 && aggregates[strings.ToUpper(e.Name.Parts[0])] {
				found = true
				return
			}
			for _, a := range e.Args {
				walk(a)
			}
		case *tsql.Binary:
			walk(e.Left)
			walk(e.Right)
		case *tsql.Unary:
			walk(e.Operand)
		case *tsql.Paren:
			walk(e.Inner)
		case *tsql.IsNull:
			walk(e.Operand)
		case *tsql.In:
			walk(e.Operand)
			for _, x := range e.List {
				walk(x)
			}
		case *tsql.Between:
			walk(e.Operand)
			walk(e.Lo)
			walk(e.Hi)
		case *tsql.Case:
			walk(e.Operand)
			for _, w := range e.Whens {
				walk(w.Cond)
				walk(w.Result)
			}
			walk(e.Else)
		case *tsql.Cast:
			walk(e.Operand)
			walk(e.Style)
		}
	}
	walk(e)
	return found
}

// aggregateError is what SQL Server says about an aggregate where none may be.
func aggregateError(clause string) error {
	switch clause {
	case inGroupBy:
		return errf(144, "Cannot use an aggregate or a subquery in an expression used for the group by list of a GROUP BY clause.")
	case inAggregate:
		return errf(130, "Cannot perform an aggregate function on an expression containing an aggregate or a subquery.")
	}
	return errf(147, "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.")
}

func compileAggregate(s *scope, name string, fc *tsql.FuncCall) (*cexpr, error) {
	g := s.group
	if g == nil {
		return nil, aggregateError(s.clause)
	}
	if len(fc.Args) != 1 {
		return nil, errArgCount(strings.ToLower(name), 1, 1)
	}
	a := &aggregate{name: name, distinct: fc.Distinct}
	if _, ok := fc.Args[0].(*tsql.Star); ok {
		if name != "COUNT" && name != "COUNT_BIG" {
			return nil, errSyntax("*")
		}
		a.star = true
	} else {
		arg, err := compileExpr(g.pre.with(inAggregate), fc.Args[0])
		if err != nil {
			return nil, err
		}
		a.arg = arg
	}
	var err error
	if a.col, err = a.resultType(); err != nil {
		return nil, err
	}
	g.aggs = append(g.aggs, a)
	return slot(0, len(g.keys)+len(g.aggs)-1, a.col), nil
}

func (a *aggregate) argType() sqltypes.Column {
	if a.arg == nil {
		return sqltypes.Column{Type: sqltypes.Int}
	}
	return a.arg.col
}

// resultType follows SQL Server: COUNT is int, SUM/AVG of int is int, of numeric(p,s)
// numeric(38,s) (AVG: at least 6 decimals), MIN/MAX keep their argument's type.
func (a *aggregate) resultType() (sqltypes.Column, error) {
	return aggResultType(a.name, a.argType())
}

func aggResultType(name string, c sqltypes.Column) (sqltypes.Column, error) {
	switch name {
	case "COUNT":
		return sqltypes.Column{Type: sqltypes.Int}, nil
	case "COUNT_BIG":
		return sqltypes.Column{Type: sqltypes.BigInt}, nil
	case "MIN", "MAX":
		if c.Type == sqltypes.Bit {
			return sqltypes.Column{}, errOperandInvalid(c.Type, strings.ToLower(name))
		}
		return c, nil
	case "CHECKSUM_AGG":
		// An integer expression; the result is int.
		switch c.Type {
		case sqltypes.Int, sqltypes.SmallInt, sqltypes.TinyInt, tDynamic, tNull:
			return sqltypes.Column{Type: sqltypes.Int}, nil
		}
		return sqltypes.Column{}, errOperandInvalid(c.Type, "checksum_agg")
	}
	switch c.Type {
	case tDynamic, tNull:
		return sqltypes.Column{Type: c.Type}, nil
	case sqltypes.Int, sqltypes.SmallInt, sqltypes.TinyInt:
		return sqltypes.Column{Type: sqltypes.Int}, nil
	case sqltypes.BigInt, sqltypes.Float:
		return sqltypes.Column{Type: c.Type}, nil
	case sqltypes.Numeric:
		_, s := precisionOf(c)
		if name == "AVG" {
			s = max(s, 6)
		}
		return numericCol(38, int(s)), nil
	}
	return sqltypes.Column{}, errOperandInvalid(c.Type, strings.ToLower(name))
}

// compute evaluates the aggregate over one group's FROM rows.
func (a *aggregate) compute(rows [][]any, outer *frame) (any, error) {
	if a.star {
		return countResult(int64(len(rows)), a.name)
	}
	var vals []any
	var types []sqltypes.Type
	seen := map[string]bool{}
	for _, r := range rows {
		v, t, err := a.arg.eval(&frame{row: r, outer: outer})
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue // aggregates ignore NULLs
		}
		t = concrete(v, t)
		if a.distinct {
			k := groupKey(v, t)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		vals, types = append(vals, v), append(types, t)
	}
	switch a.name {
	case "COUNT", "COUNT_BIG":
		return countResult(int64(len(vals)), a.name)
	case "MIN", "MAX":
		return extreme(vals, types, a.name == "MAX")
	case "CHECKSUM_AGG":
		return checksumAgg(vals, types)
	}
	if len(vals) == 0 {
		return nil, nil // SUM and AVG of nothing are NULL
	}
	col := a.col
	if col.Type <= 0 {
		var err error
		if col, err = aggResultType(a.name, sqltypes.Column{Type: types[0]}); err != nil {
			return nil, err
		}
	}
	return sumAvg(a.name == "AVG", col, vals, types)
}

func countResult(n int64, name string) (any, error) {
	if name == "COUNT_BIG" {
		return n, nil
	}
	if n > math.MaxInt32 {
		return nil, errOverflow("int")
	}
	return int32(n), nil
}

func extreme(vals []any, types []sqltypes.Type, isMax bool) (any, error) {
	var best any
	var bestT sqltypes.Type
	for i, v := range vals {
		if best == nil {
			best, bestT = v, types[i]
			continue
		}
		c, err := compareValues(v, types[i], best, bestT)
		if err != nil {
			return nil, err
		}
		if (isMax && c > 0) || (!isMax && c < 0) {
			best, bestT = v, types[i]
		}
	}
	return best, nil
}

func sumAvg(avg bool, col sqltypes.Column, vals []any, types []sqltypes.Type) (any, error) {
	n := int64(len(vals))
	switch {
	case isInteger(col.Type):
		sum := new(big.Int)
		for i, v := range vals {
			x, err := convertValue(v, types[i], sqltypes.Column{Type: sqltypes.BigInt}, 0)
			if err != nil {
				return nil, err
			}
			sum.Add(sum, big.NewInt(x.(int64)))
		}
		if avg {
			sum.Quo(sum, big.NewInt(n)) // AVG of integers is an integer, truncated
		}
		return checkedInt(sum, col.Type, func() error { return errOverflow(typeName(col.Type)) })
	case col.Type == sqltypes.Numeric:
		sum := new(big.Rat)
		for i, v := range vals {
			x, err := convertValue(v, types[i], sqltypes.Column{Type: sqltypes.Numeric}, 0)
			if err != nil {
				return nil, err
			}
			sum.Add(sum, decimalRat(x.(sqltypes.Decimal)))
		}
		if avg {
			sum.Quo(sum, new(big.Rat).SetInt64(n))
		}
		d := ratDecimal(sum, col.Scale, false)
		if !fitsPrecision(d, 38) {
			return nil, errOverflow("numeric")
		}
		return d, nil
	}
	sum := 0.0
	for i, v := range vals {
		x, err := toFloat(v, types[i])
		if err != nil {
			return nil, err
		}
		sum += x.(float64)
	}
	if avg {
		sum /= float64(n)
	}
	return sum, nil
}
