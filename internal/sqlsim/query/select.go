package query

import (
	"sort"
	"strconv"
	"strings"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// plan is a compiled SELECT: its result columns, and a function producing its rows given
// the frame of the scope it was compiled in (the outer row of a correlated subquery).
type plan struct {
	cols []sqltypes.Column
	exec func(outer *frame) ([]outRow, error)
}

// run returns the result rows' values.
func (p *plan) run(outer *frame) ([][]any, error) {
	out, err := p.exec(outer)
	if err != nil {
		return nil, err
	}
	rows := make([][]any, len(out))
	for i, r := range out {
		rows[i] = r.vals
	}
	return rows, nil
}

// orderKey is one ORDER BY item: a select-list position or an expression.
type orderKey struct {
	out  int // index into the select list, or -1
	expr *cexpr
	desc bool
}

func compileSelect(outer *scope, sel *tsql.Select) (*plan, error) {
	src, err := compileFrom(outer, sel.From)
	if err != nil {
		return nil, err
	}
	s := &scope{env: outer.env, cols: src.cols, quals: src.quals, outer: outer}

	var where cpred
	if sel.Where != nil {
		if where, err = compilePred(s.with(inWhere), sel.Where); err != nil {
			return nil, err
		}
	}

	// The select list, HAVING and ORDER BY see either the FROM row or, for a grouped query
	// (GROUP BY, HAVING, or an aggregate anywhere in them), the groups.
	ls := s
	var g *grouping
	if isGrouped(sel) {
		if g, err = compileGrouping(s, sel.GroupBy); err != nil {
			return nil, err
		}
		ls = &scope{env: outer.env, outer: outer, group: g}
	}

	items, names, err := compileSelectList(ls.with(inSelect), sel, len(sel.From) > 0)
	if err != nil {
		return nil, err
	}
	cols := make([]sqltypes.Column, len(items))
	for i, it := range items {
		cols[i] = it.col
		cols[i].Name = names[i]
	}

	var having cpred
	if sel.Having != nil {
		if having, err = compilePred(ls.with(inHaving), sel.Having); err != nil {
			return nil, err
		}
	}
	order, err := compileOrderBy(ls.with(inOrderBy), sel, names)
	if err != nil {
		return nil, err
	}
	var top *cexpr
	if sel.Top != nil {
		if top, err = compileExpr(outer, sel.Top); err != nil {
			return nil, err
		}
	}

	exec := func(of *frame) ([]outRow, error) {
		rows, err := src.rows(of)
		if err != nil {
			return nil, err
		}
		frames := make([]*frame, 0, len(rows))
		for _, r := range rows {
			f := &frame{row: r, outer: of}
			if where != nil {
				l, err := where(f)
				if err != nil {
					return nil, err
				}
				if l != True {
					continue
				}
			}
			frames = append(frames, f)
		}
		if g != nil {
			if frames, err = g.groups(frames, of); err != nil {
				return nil, err
			}
		}
		out, err := project(frames, items, having, order)
		if err != nil {
			return nil, err
		}
		if sel.Distinct {
			out = distinct(out)
		}
		if len(order) > 0 {
			if err := sortRows(out, order); err != nil {
				return nil, err
			}
		}
		if top != nil {
			n, err := topCount(top, of)
			if err != nil {
				return nil, err
			}
			if int64(len(out)) > n {
				out = out[:n]
			}
		}
		return out, nil
	}
	return &plan{cols: cols, exec: exec}, nil
}

func isGrouped(sel *tsql.Select) bool {
	if len(sel.GroupBy) > 0 || sel.Having != nil {
		return true
	}
	for _, it := range sel.List {
		if containsAggregate(it.Expr) {
			return true
		}
	}
	for _, o := range sel.OrderBy {
		if containsAggregate(o.Expr) {
			return true
		}
	}
	return false
}

func compileGrouping(s *scope, keys []tsql.Expr) (*grouping, error) {
	g := &grouping{pre: s, keys: keys}
	gs := s.with(inGroupBy)
	for _, k := range keys {
		c, err := compileExpr(gs, k)
		if err != nil {
			return nil, err
		}
		ref := -1
		if cr, ok := unparen(k).(*tsql.ColumnRef); ok {
			if b, err := s.resolve(cr.Name.Parts); err == nil && b.depth == 0 {
				ref = b.idx
			}
		}
		g.keyRefs = append(g.keyRefs, ref)
		g.keyCols = append(g.keyCols, c)
	}
	return g, nil
}

// groups turns the filtered FROM rows into one frame per group: key values, then the
// aggregates. Without GROUP BY the whole input is one group, even when empty (COUNT(*) = 0).
func (g *grouping) groups(rows []*frame, outer *frame) ([]*frame, error) {
	type group struct {
		keys []any
		rows [][]any
	}
	var groups []*group
	index := map[string]*group{}
	for _, f := range rows {
		vals := make([]any, len(g.keyCols))
		types := make([]sqltypes.Type, len(g.keyCols))
		for i, k := range g.keyCols {
			var err error
			if vals[i], types[i], err = k.eval(f); err != nil {
				return nil, err
			}
		}
		key := rowKey(vals, types)
		grp, ok := index[key]
		if !ok {
			grp = &group{keys: vals}
			index[key] = grp
			groups = append(groups, grp)
		}
		grp.rows = append(grp.rows, f.row)
	}
	if len(g.keys) == 0 && len(groups) == 0 {
		groups = append(groups, &group{})
	}
	out := make([]*frame, len(groups))
	for i, grp := range groups {
		row := append([]any(nil), grp.keys...)
		for _, a := range g.aggs {
			v, err := a.compute(grp.rows, outer)
			if err != nil {
				return nil, err
			}
			row = append(row, v)
		}
		out[i] = &frame{row: row, outer: outer}
	}
	return out, nil
}

// compileSelectList expands * and t.* and compiles each item; names are the output column
// names: the alias, else a column reference's name as written, else "".
func compileSelectList(s *scope, sel *tsql.Select, hasFrom bool) ([]*cexpr, []string, error) {
	var items []*cexpr
	var names []string
	for _, it := range sel.List {
		star, ok := it.Expr.(*tsql.Star)
		if !ok {
			c, err := compileExpr(s, it.Expr)
			if err != nil {
				return nil, nil, err
			}
			name := it.Alias
			if cr, ok := unparen(it.Expr).(*tsql.ColumnRef); ok && name == "" {
				name = cr.Name.Last()
			}
			items, names = append(items, c), append(names, name)
			continue
		}
		if !hasFrom {
			return nil, nil, errf(263, "Must specify table to select from.")
		}
		cols, _ := s.level()
		matched := false
		for i, c := range cols {
			if star.Qualifier != "" && !strings.EqualFold(c.qual, star.Qualifier) {
				continue
			}
			matched = true
			e, err := s.columnAt(i)
			if err != nil {
				return nil, nil, err
			}
			items, names = append(items, e), append(names, c.col.Name)
		}
		if !matched {
			return nil, nil, errf(107, "The column prefix '%s' does not match with a table name or alias name used in the query.", star.Qualifier)
		}
	}
	return items, names, nil
}

// columnAt compiles a reference to column i of this level (for * expansion).
func (s *scope) columnAt(i int) (*cexpr, error) {
	if s.group != nil {
		b, err := s.group.bind(s, i, 0)
		if err != nil {
			return nil, err
		}
		return slot(0, b.idx, b.col), nil
	}
	return slot(0, i, s.cols[i].col), nil
}

func compileOrderBy(s *scope, sel *tsql.Select, names []string) ([]orderKey, error) {
	var keys []orderKey
	for _, o := range sel.OrderBy {
		k := orderKey{out: -1, desc: o.Desc}
		e := unparen(o.Expr)
		switch x := e.(type) {
		case *tsql.NumberLit:
			n, err := strconv.Atoi(x.Text)
			if err != nil || n < 1 || n > len(names) {
				return nil, errf(108, "The ORDER BY position number %s is out of range of the number of items in the select list.", x.Text)
			}
			k.out = n - 1
		case *tsql.ColumnRef:
			if len(x.Name.Parts) == 1 {
				for i, it := range sel.List {
					if it.Alias != "" && strings.EqualFold(it.Alias, x.Name.Parts[0]) {
						if k.out >= 0 {
							return nil, errAmbiguousColumn(x.Name.Parts[0])
						}
						k.out = i
					}
				}
			}
		}
		if k.out < 0 && sel.Distinct {
			// With DISTINCT the sort can only use what the select list produced.
			for i, it := range sel.List {
				if sameExpr(it.Expr, e) {
					k.out = i
					break
				}
			}
			if k.out < 0 {
				return nil, errf(145, "ORDER BY items must appear in the select list if SELECT DISTINCT is specified.")
			}
		}
		if k.out < 0 {
			c, err := compileExpr(s, o.Expr)
			if err != nil {
				return nil, err
			}
			k.expr = c
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// outRow is a result row with its sort keys.
type outRow struct {
	vals     []any
	types    []sqltypes.Type
	keys     []any
	keyTypes []sqltypes.Type
}

func project(frames []*frame, items []*cexpr, having cpred, order []orderKey) ([]outRow, error) {
	out := make([]outRow, 0, len(frames))
	for _, f := range frames {
		if having != nil {
			l, err := having(f)
			if err != nil {
				return nil, err
			}
			if l != True {
				continue
			}
		}
		r := outRow{vals: make([]any, len(items)), types: make([]sqltypes.Type, len(items))}
		for i, it := range items {
			var err error
			if r.vals[i], r.types[i], err = it.eval(f); err != nil {
				return nil, err
			}
		}
		for _, k := range order {
			if k.out >= 0 {
				r.keys, r.keyTypes = append(r.keys, r.vals[k.out]), append(r.keyTypes, r.types[k.out])
				continue
			}
			v, t, err := k.expr.eval(f)
			if err != nil {
				return nil, err
			}
			r.keys, r.keyTypes = append(r.keys, v), append(r.keyTypes, t)
		}
		out = append(out, r)
	}
	return out, nil
}

// distinct keeps the first of each set of rows equal under SQL comparison (so 'MyDb' and
// 'MYDB' are one row under the case-insensitive collation).
func distinct(rows []outRow) []outRow {
	seen := map[string]bool{}
	out := rows[:0]
	for _, r := range rows {
		k := rowKey(r.vals, r.types)
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// sortRows orders by the keys; NULL sorts first ascending (last descending), like SQL Server.
func sortRows(rows []outRow, order []orderKey) error {
	var firstErr error
	sort.SliceStable(rows, func(i, j int) bool {
		for k, o := range order {
			a, b := rows[i].keys[k], rows[j].keys[k]
			var c int
			switch {
			case a == nil && b == nil:
				continue
			case a == nil:
				c = -1
			case b == nil:
				c = 1
			default:
				var err error
				if c, err = compareValues(a, rows[i].keyTypes[k], b, rows[j].keyTypes[k]); err != nil {
					if firstErr == nil {
						firstErr = err
					}
					return false
				}
			}
			if c == 0 {
				continue
			}
			return (c < 0) != o.desc
		}
		return false
	})
	return firstErr
}

func topCount(top *cexpr, f *frame) (int64, error) {
	v, t, err := top.eval(f)
	if err != nil {
		return 0, err
	}
	n, err := convertValue(v, t, sqltypes.Column{Type: sqltypes.BigInt}, 0)
	if err != nil {
		return 0, err
	}
	if n == nil || n.(int64) < 0 {
		return 0, errf(1060, "The number of rows provided for a TOP or FETCH clauses row count parameter must be an integer.")
	}
	return n.(int64), nil
}
