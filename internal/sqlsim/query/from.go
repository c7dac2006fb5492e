package query

import (
	"strings"

	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// source is a compiled FROM item: the columns it contributes and a function producing its
// rows given the frame of the scope it was compiled in.
type source struct {
	cols  []colInfo
	quals []string
	rows  func(outer *frame) ([][]any, error)
}

// compileFrom compiles a FROM list; comma-separated items are cross joined. No FROM is one
// empty row, so SELECT 1 returns one row.
func compileFrom(outer *scope, items []tsql.TableSource) (*source, error) {
	if len(items) == 0 {
		return &source{rows: func(*frame) ([][]any, error) { return [][]any{{}}, nil }}, nil
	}
	var src *source
	for _, it := range items {
		s, err := compileSource(outer, it)
		if err != nil {
			return nil, err
		}
		if src == nil {
			src = s
		} else {
			src = joined(src, s, nil, "CROSS")
		}
	}
	for i, q := range src.quals {
		for _, p := range src.quals[:i] {
			if strings.EqualFold(p, q) {
				return nil, errf(1013, "The objects \"%s\" and \"%s\" in the FROM clause have the same exposed names. Use correlation names to distinguish them.", p, q)
			}
		}
	}
	return src, nil
}

func compileSource(sc *scope, ts tsql.TableSource) (*source, error) {
	switch ts := ts.(type) {
	case *tsql.TableRef:
		return compileTableRef(sc, ts)
	case *tsql.DerivedTable:
		return compileDerived(sc, ts)
	case *tsql.Join:
		return compileJoin(sc, ts)
	}
	return nil, errf(102, "Incorrect syntax: unsupported table source %T.", ts)
}

func tableCols(qual string, t *Table) []colInfo {
	cols := make([]colInfo, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = colInfo{qual: qual, col: c}
	}
	return cols
}

func compileTableRef(sc *scope, ts *tsql.TableRef) (*source, error) {
	qual := ts.Alias
	if qual == "" {
		qual = ts.Name.Last()
	}
	env := sc.env
	if ts.Args == nil {
		t, err := env.Table(ts.Name, nil)
		if err != nil {
			return nil, err
		}
		return &source{cols: tableCols(qual, t), quals: []string{qual},
			rows: func(*frame) ([][]any, error) { return t.Rows, nil }}, nil
	}
	// A table-valued function: count the column references its arguments make to see
	// whether it must be called again for every outer row.
	refs := 0
	as := *sc
	as.refs = &refs
	args, err := compileArgs(&as, ts.Args)
	if err != nil {
		return nil, err
	}
	if refs == 0 {
		vals, _, _, err := evalArgs(args, &frame{})
		if err != nil {
			return nil, err
		}
		t, err := env.Table(ts.Name, vals)
		if err != nil {
			return nil, err
		}
		return &source{cols: tableCols(qual, t), quals: []string{qual},
			rows: func(*frame) ([][]any, error) { return t.Rows, nil }}, nil
	}
	// Correlated: learn the columns from a call with NULL arguments.
	t0, err := env.Table(ts.Name, make([]any, len(args)))
	if err != nil {
		return nil, err
	}
	return &source{cols: tableCols(qual, t0), quals: []string{qual}, rows: func(f *frame) ([][]any, error) {
		vals, _, _, err := evalArgs(args, f)
		if err != nil {
			return nil, err
		}
		t, err := env.Table(ts.Name, vals)
		if err != nil {
			return nil, err
		}
		return t.Rows, nil
	}}, nil
}

func compileDerived(sc *scope, ts *tsql.DerivedTable) (*source, error) {
	p, err := compileSelect(sc, ts.Select)
	if err != nil {
		return nil, err
	}
	cols := make([]colInfo, len(p.cols))
	for i, c := range p.cols {
		if c.Name == "" {
			return nil, errf(8155, "No column name was specified for column %d of '%s'.", i+1, ts.Alias)
		}
		for _, prev := range cols[:i] {
			if strings.EqualFold(prev.col.Name, c.Name) {
				return nil, errf(8156, "The column '%s' was specified multiple times for '%s'.", c.Name, ts.Alias)
			}
		}
		cols[i] = colInfo{qual: ts.Alias, col: c}
	}
	return &source{cols: cols, quals: []string{ts.Alias}, rows: p.run}, nil
}

func compileJoin(sc *scope, j *tsql.Join) (*source, error) {
	kind := strings.ToUpper(j.Kind)
	left, err := compileSource(sc, j.Left)
	if err != nil {
		return nil, err
	}
	if kind == "CROSS APPLY" || kind == "OUTER APPLY" {
		// The right side sees the left row: it is compiled one scope further in and run
		// once per left row.
		ls := &scope{env: sc.env, cols: left.cols, quals: left.quals, outer: sc}
		right, err := compileSource(ls, j.Right)
		if err != nil {
			return nil, err
		}
		outerApply := kind == "OUTER APPLY"
		width := len(right.cols)
		return &source{cols: concatCols(left.cols, right.cols), quals: concatQuals(left.quals, right.quals),
			rows: func(f *frame) ([][]any, error) {
				lrows, err := left.rows(f)
				if err != nil {
					return nil, err
				}
				var out [][]any
				for _, l := range lrows {
					rrows, err := right.rows(&frame{row: l, outer: f})
					if err != nil {
						return nil, err
					}
					for _, r := range rrows {
						out = append(out, concatRow(l, r))
					}
					if len(rrows) == 0 && outerApply {
						out = append(out, concatRow(l, make([]any, width)))
					}
				}
				return out, nil
			}}, nil
	}
	right, err := compileSource(sc, j.Right)
	if err != nil {
		return nil, err
	}
	var on cpred
	if j.On != nil {
		js := &scope{env: sc.env, cols: concatCols(left.cols, right.cols), quals: concatQuals(left.quals, right.quals), outer: sc, clause: inWhere}
		if on, err = compilePred(js, j.On); err != nil {
			return nil, err
		}
	}
	switch kind {
	case "INNER", "LEFT", "RIGHT", "FULL", "CROSS":
	default:
		return nil, errf(102, "Incorrect syntax near '%s'.", j.Kind)
	}
	return joined(left, right, on, kind), nil
}

// joined is a nested-loop join of two independent sources.
func joined(left, right *source, on cpred, kind string) *source {
	lw, rw := len(left.cols), len(right.cols)
	return &source{cols: concatCols(left.cols, right.cols), quals: concatQuals(left.quals, right.quals),
		rows: func(f *frame) ([][]any, error) {
			lrows, err := left.rows(f)
			if err != nil {
				return nil, err
			}
			rrows, err := right.rows(f)
			if err != nil {
				return nil, err
			}
			var out [][]any
			rightMatched := make([]bool, len(rrows))
			for _, l := range lrows {
				matched := false
				for ri, r := range rrows {
					row := concatRow(l, r)
					if on != nil {
						ok, err := on(&frame{row: row, outer: f})
						if err != nil {
							return nil, err
						}
						if ok != True {
							continue
						}
					}
					matched, rightMatched[ri] = true, true
					out = append(out, row)
				}
				if !matched && (kind == "LEFT" || kind == "FULL") {
					out = append(out, concatRow(l, make([]any, rw)))
				}
			}
			if kind == "RIGHT" || kind == "FULL" {
				for ri, r := range rrows {
					if !rightMatched[ri] {
						out = append(out, concatRow(make([]any, lw), r))
					}
				}
			}
			return out, nil
		}}
}

func concatCols(a, b []colInfo) []colInfo { return append(append([]colInfo(nil), a...), b...) }

func concatQuals(a, b []string) []string { return append(append([]string(nil), a...), b...) }

func concatRow(a, b []any) []any { return append(append(make([]any, 0, len(a)+len(b)), a...), b...) }
