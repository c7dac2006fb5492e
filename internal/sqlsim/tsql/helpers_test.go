package tsql

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Small constructors keep the expected ASTs in the tables readable.

func name(dotted string) Name { return Name{Parts: strings.Split(dotted, ".")} }

func col(dotted string) *ColumnRef { return &ColumnRef{Name: name(dotted)} }

func num(s string) *NumberLit { return &NumberLit{Text: s} }

func str(s string) *StringLit { return &StringLit{Value: s} }

func nstr(s string) *StringLit { return &StringLit{Value: s, Unicode: true} }

func vr(n string) *Variable { return &Variable{Name: n} }

func bin(op string, l, r Expr) *Binary { return &Binary{Op: op, Left: l, Right: r} }

func fn(dotted string, args ...Expr) *FuncCall { return &FuncCall{Name: name(dotted), Args: args} }

func tbl(dotted, alias string) *TableRef { return &TableRef{Name: name(dotted), Alias: alias} }

func item(e Expr, alias string) SelectItem { return SelectItem{Expr: e, Alias: alias} }

func items(exprs ...Expr) []SelectItem {
	out := make([]SelectItem, len(exprs))
	for i, e := range exprs {
		out[i] = SelectItem{Expr: e}
	}
	return out
}

func opt(n string, v Expr) Option { return Option{Name: n, Value: v} }

func flags(names ...string) []Option {
	out := make([]Option, len(names))
	for i, n := range names {
		out[i] = Option{Name: n}
	}
	return out
}

// parseCase is one input and the statements it must produce.
type parseCase struct {
	name string
	sql  string
	want []Statement
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(tc.sql)
			require.NoError(t, err)
			assert.Equal(t, tc.want, b.Statements)
		})
	}
}

// allSQL collects every input of the tables, for the fuzz seed corpus.
func allSQL() []string {
	var out []string
	for _, cases := range [][]parseCase{selectCases, sessionCases, databaseCases, securityCases, backupCases, maintenanceCases, lexerCases} {
		for _, c := range cases {
			out = append(out, c.sql)
		}
	}
	for _, c := range errorCases {
		out = append(out, c.sql)
	}
	for _, c := range unsupportedCases {
		out = append(out, c.sql)
	}
	return out
}
