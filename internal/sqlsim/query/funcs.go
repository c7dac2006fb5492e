package query

import (
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// call is one evaluation of a built-in scalar function.
type call struct {
	args  []any
	types []sqltypes.Type   // actual types of args
	cols  []sqltypes.Column // static types of args (Type tDynamic when unknown)
	res   sqltypes.Column   // the result type
}

func (c *call) str(i int) (string, error) { return formatValue(c.args[i], c.types[i], 0) }

func (c *call) int(i int) (int64, error) {
	v, err := convertValue(c.args[i], c.types[i], sqltypes.Column{Type: sqltypes.BigInt}, 0)
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// scalarFunc describes a built-in the evaluator implements.
type scalarFunc struct {
	min, max int
	// keepNull: the function sees NULL arguments (ISNULL, CONCAT…); otherwise any NULL
	// argument makes the result NULL.
	keepNull bool
	typ      func(args []sqltypes.Column) (sqltypes.Column, error)
	fn       func(c *call) (any, error)
}

func fixed(t sqltypes.Type) func([]sqltypes.Column) (sqltypes.Column, error) {
	return func([]sqltypes.Column) (sqltypes.Column, error) { return sqltypes.Column{Type: t}, nil }
}

// sameString is the type of a function returning (a transformation of) its string argument.
func sameString(args []sqltypes.Column) (sqltypes.Column, error) {
	size := 0
	if args[0].Type == sqltypes.NVarChar {
		size = args[0].Size
	}
	return sqltypes.Column{Type: sqltypes.NVarChar, Size: size}, nil
}

func anyString([]sqltypes.Column) (sqltypes.Column, error) {
	return sqltypes.Column{Type: sqltypes.NVarChar}, nil
}

// numericArg is the type of ABS/ROUND/FLOOR/CEILING/SIGN's argument after SQL Server's
// implicit conversion: strings become float.
func numericArg(name string) func([]sqltypes.Column) (sqltypes.Column, error) {
	return func(args []sqltypes.Column) (sqltypes.Column, error) {
		a := args[0]
		switch {
		case a.Type == sqltypes.Bit:
			return sqltypes.Column{Type: sqltypes.Int}, nil
		case isNumber(a.Type):
			return a, nil
		case a.Type == sqltypes.NVarChar:
			return sqltypes.Column{Type: sqltypes.Float}, nil
		case a.Type <= 0:
			return sqltypes.Column{Type: sqltypes.Int}, nil
		}
		return sqltypes.Column{}, errf(8116, "Argument data type %s is invalid for argument 1 of %s function.", typeName(a.Type), strings.ToLower(name))
	}
}

var scalarFuncs = map[string]scalarFunc{
	"UPPER": {min: 1, max: 1, typ: sameString, fn: func(c *call) (any, error) {
		s, err := c.str(0)
		return strings.ToUpper(s), err
	}},
	"LOWER": {min: 1, max: 1, typ: sameString, fn: func(c *call) (any, error) {
		s, err := c.str(0)
		return strings.ToLower(s), err
	}},
	"LEN": {min: 1, max: 1, typ: fixed(sqltypes.Int), fn: func(c *call) (any, error) {
		s, err := c.str(0)
		return int32(utf8.RuneCountInString(strings.TrimRight(s, " "))), err
	}},
	"DATALENGTH": {min: 1, max: 1, typ: fixed(sqltypes.Int), fn: dataLength},
	"LTRIM": {min: 1, max: 1, typ: sameString, fn: func(c *call) (any, error) {
		s, err := c.str(0)
		return strings.TrimLeft(s, " "), err
	}},
	"RTRIM": {min: 1, max: 1, typ: sameString, fn: func(c *call) (any, error) {
		s, err := c.str(0)
		return strings.TrimRight(s, " "), err
	}},
	"TRIM": {min: 1, max: 1, typ: sameString, fn: func(c *call) (any, error) {
		s, err := c.str(0)
		return strings.Trim(s, " "), err
	}},
	"SUBSTRING": {min: 3, max: 3, typ: sameString, fn: func(c *call) (any, error) {
		return substring(c, "SUBSTRING")
	}},
	"LEFT": {min: 2, max: 2, typ: sameString, fn: func(c *call) (any, error) {
		return substring(c, "LEFT")
	}},
	"RIGHT": {min: 2, max: 2, typ: sameString, fn: func(c *call) (any, error) {
		return substring(c, "RIGHT")
	}},
	"CHARINDEX": {min: 2, max: 3, typ: fixed(sqltypes.Int), fn: charIndex},
	"REPLACE":   {min: 3, max: 3, typ: anyString, fn: replace},
	"CONCAT":    {min: 2, max: 254, keepNull: true, typ: anyString, fn: concat},
	"QUOTENAME": {min: 1, max: 2, typ: func([]sqltypes.Column) (sqltypes.Column, error) {
		return sqltypes.Column{Type: sqltypes.NVarChar, Size: 258}, nil
	}, fn: quoteName},
	"REPLICATE": {min: 2, max: 2, typ: anyString, fn: func(c *call) (any, error) {
		s, err := c.str(0)
		if err != nil {
			return nil, err
		}
		n, err := c.int(1)
		if err != nil || n < 0 {
			return nil, err
		}
		return strings.Repeat(s, int(min(n, maxNVarChar))), nil
	}},
	"SPACE": {min: 1, max: 1, typ: anyString, fn: func(c *call) (any, error) {
		n, err := c.int(0)
		if err != nil || n < 0 {
			return nil, err
		}
		return strings.Repeat(" ", int(min(n, maxNVarChar))), nil
	}},
	"REVERSE": {min: 1, max: 1, typ: sameString, fn: func(c *call) (any, error) {
		s, err := c.str(0)
		rs := []rune(s)
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), err
	}},
	"ISNULL": {min: 2, max: 2, keepNull: true, typ: func(args []sqltypes.Column) (sqltypes.Column, error) {
		if args[0].Type == tNull {
			return args[1], nil
		}
		return args[0], nil
	}, fn: func(c *call) (any, error) {
		// The replacement takes the first argument's type, length included:
		// ISNULL(nvarchar(3) column, 'abcdef') yields 'abc'.
		if c.args[0] != nil {
			return c.args[0], nil
		}
		if c.res.Type <= 0 || c.args[1] == nil {
			return c.args[1], nil
		}
		if !implicitOK(concrete(c.args[1], c.types[1]), c.res.Type) {
			return nil, errTypeClash(concrete(c.args[1], c.types[1]), c.res.Type)
		}
		return convertValue(c.args[1], c.types[1], c.res, 0)
	}},
	"COALESCE": {min: 2, max: 254, keepNull: true, typ: func(args []sqltypes.Column) (sqltypes.Column, error) {
		return combineTypes(args), nil
	}, fn: func(c *call) (any, error) {
		for i, v := range c.args {
			if v != nil {
				out, _, err := toResult(v, c.types[i], c.res)
				return out, err
			}
		}
		return nil, nil
	}},
	"NULLIF": {min: 2, max: 2, keepNull: true, typ: func(args []sqltypes.Column) (sqltypes.Column, error) {
		return args[0], nil
	}, fn: func(c *call) (any, error) {
		l, err := compare("=", c.args[0], c.types[0], c.args[1], c.types[1])
		if err != nil || l == True {
			return nil, err
		}
		return c.args[0], nil
	}},
	"ABS":     {min: 1, max: 1, typ: numericArg("ABS"), fn: abs},
	"SIGN":    {min: 1, max: 1, typ: numericArg("SIGN"), fn: sign},
	"ROUND":   {min: 2, max: 3, typ: numericArg("ROUND"), fn: round},
	"FLOOR":   {min: 1, max: 1, typ: floorType, fn: func(c *call) (any, error) { return floorCeil(c, false) }},
	"CEILING": {min: 1, max: 1, typ: floorType, fn: func(c *call) (any, error) { return floorCeil(c, true) }},
	"YEAR":    {min: 1, max: 1, typ: fixed(sqltypes.Int), fn: func(c *call) (any, error) { return datePartOf(c, "year") }},
	"MONTH":   {min: 1, max: 1, typ: fixed(sqltypes.Int), fn: func(c *call) (any, error) { return datePartOf(c, "month") }},
	"DAY":     {min: 1, max: 1, typ: fixed(sqltypes.Int), fn: func(c *call) (any, error) { return datePartOf(c, "day") }},
}

// compileFunc compiles a function call: aggregates, the built-ins above, the few whose
// arguments are not plain values (IIF's condition, DATEADD's datepart), and everything
// else — system functions, multi-part names — through the Env.
func compileFunc(s *scope, fc *tsql.FuncCall) (*cexpr, error) {
	if len(fc.Name.Parts) == 1 {
		name := strings.ToUpper(fc.Name.Parts[0])
		if aggregates[name] {
			return compileAggregate(s, name, fc)
		}
		switch name {
		case "IIF":
			if len(fc.Args) != 3 {
				return nil, errArgCount("iif", 3, 3)
			}
			return compileCase(s, &tsql.Case{Whens: []tsql.When{{Cond: fc.Args[0], Result: fc.Args[1]}}, Else: fc.Args[2]})
		case "DATEADD", "DATEDIFF", "DATEDIFF_BIG", "DATEPART":
			return compileDateFunc(s, name, fc)
		case "BINARY_CHECKSUM":
			return compileBinaryChecksum(s, fc)
		}
		if f, ok := scalarFuncs[name]; ok {
			return compileScalar(s, name, f, fc)
		}
	}
	return compileEnvFunc(s, fc)
}

func compileArgs(s *scope, args []tsql.Expr) ([]*cexpr, error) {
	out := make([]*cexpr, len(args))
	for i, a := range args {
		var err error
		if out[i], err = compileExpr(s, a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// evalArgs evaluates compiled arguments; hasNull reports a NULL among them.
func evalArgs(args []*cexpr, f *frame) (vals []any, types []sqltypes.Type, hasNull bool, err error) {
	vals = make([]any, len(args))
	types = make([]sqltypes.Type, len(args))
	for i, a := range args {
		if vals[i], types[i], err = a.eval(f); err != nil {
			return nil, nil, false, err
		}
		types[i] = concrete(vals[i], types[i])
		hasNull = hasNull || vals[i] == nil
	}
	return vals, types, hasNull, nil
}

func compileScalar(s *scope, name string, fn scalarFunc, fc *tsql.FuncCall) (*cexpr, error) {
	if len(fc.Args) < fn.min || len(fc.Args) > fn.max {
		return nil, errArgCount(strings.ToLower(name), fn.min, fn.max)
	}
	args, err := compileArgs(s, fc.Args)
	if err != nil {
		return nil, err
	}
	cols := make([]sqltypes.Column, len(args))
	static := true
	for i, a := range args {
		cols[i] = a.col
		static = static && a.col.Type != tDynamic
	}
	res := sqltypes.Column{Type: tDynamic}
	if static {
		if res, err = fn.typ(cols); err != nil {
			return nil, err
		}
	}
	return &cexpr{col: res, eval: func(f *frame) (any, sqltypes.Type, error) {
		vals, types, hasNull, err := evalArgs(args, f)
		if err != nil {
			return nil, 0, err
		}
		rt := res
		if !static {
			rcols := make([]sqltypes.Column, len(args))
			for i := range args {
				rcols[i] = runtimeCol(cols[i], vals[i], types[i])
			}
			if rt, err = fn.typ(rcols); err != nil {
				return nil, 0, err
			}
		}
		if hasNull && !fn.keepNull {
			return nil, rt.Type, nil
		}
		v, err := fn.fn(&call{args: vals, types: types, cols: cols, res: rt})
		if err != nil {
			return nil, 0, err
		}
		return v, concrete(v, rt.Type), nil
	}}, nil
}

func compileEnvFunc(s *scope, fc *tsql.FuncCall) (*cexpr, error) {
	for _, a := range fc.Args {
		if _, ok := a.(*tsql.Star); ok {
			return nil, errSyntax("*")
		}
	}
	args, err := compileArgs(s, fc.Args)
	if err != nil {
		return nil, err
	}
	env := s.env
	return &cexpr{col: sqltypes.Column{Type: tDynamic}, eval: func(f *frame) (any, sqltypes.Type, error) {
		vals, _, _, err := evalArgs(args, f)
		if err != nil {
			return nil, 0, err
		}
		v, t, ok, err := env.Function(fc.Name, vals)
		switch {
		case err != nil:
			return nil, 0, err
		case !ok && len(fc.Name.Parts) > 1:
			full := strings.Join(fc.Name.Parts, ".")
			return nil, 0, errf(4121, "Cannot find either column \"%s\" or the user-defined function or aggregate \"%s\", or the name is ambiguous.", fc.Name.Parts[0], full)
		case !ok:
			return nil, 0, errf(195, "'%s' is not a recognized built-in function name.", fc.Name.Parts[0])
		}
		return v, concrete(v, t), nil
	}}, nil
}

// ---- string functions ----

func substring(c *call, name string) (any, error) {
	s, err := c.str(0)
	if err != nil {
		return nil, err
	}
	rs := []rune(s)
	var start, length int64
	switch name {
	case "SUBSTRING":
		if start, err = c.int(1); err != nil {
			return nil, err
		}
		if length, err = c.int(2); err != nil {
			return nil, err
		}
	case "LEFT":
		start = 1
		if length, err = c.int(1); err != nil {
			return nil, err
		}
	case "RIGHT":
		if length, err = c.int(1); err != nil {
			return nil, err
		}
		if length < 0 {
			return nil, errf(536, "Invalid length parameter passed to the RIGHT function.")
		}
		start = int64(len(rs)) - length + 1
	}
	if length < 0 {
		return nil, errf(537, "Invalid length parameter passed to the LEFT or SUBSTRING function.")
	}
	// Characters start … start+length-1 (1-based), clipped to the string: SUBSTRING('abc', 0, 2) is 'a'.
	from := max(start, 1)
	to := min(start+length, int64(len(rs))+1)
	if to <= from {
		return "", nil
	}
	return string(rs[from-1 : to-1]), nil
}

func foldRunes(s string) []rune {
	rs := []rune(s)
	for i, r := range rs {
		rs[i] = foldRune(r)
	}
	return rs
}

// indexFold finds needle in hay (both folded) at or after position from.
func indexFold(hay, needle []rune, from int) int {
	for i := from; i+len(needle) <= len(hay); i++ {
		match := true
		for j := range needle {
			if hay[i+j] != needle[j] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// charIndex is CHARINDEX(find, s[, start]); the search follows the collation, so it is
// case-insensitive.
func charIndex(c *call) (any, error) {
	find, err := c.str(0)
	if err != nil {
		return nil, err
	}
	s, err := c.str(1)
	if err != nil {
		return nil, err
	}
	start := int64(1)
	if len(c.args) == 3 {
		if start, err = c.int(2); err != nil {
			return nil, err
		}
		start = max(start, 1)
	}
	if find == "" {
		return int32(0), nil
	}
	hay := foldRunes(s)
	if start > int64(len(hay)) {
		return int32(0), nil
	}
	return int32(indexFold(hay, foldRunes(find), int(start-1)) + 1), nil
}

// replace is REPLACE(s, find, with), matching find case-insensitively like the collation.
func replace(c *call) (any, error) {
	var s [3]string
	for i := range s {
		var err error
		if s[i], err = c.str(i); err != nil {
			return nil, err
		}
	}
	if s[1] == "" {
		return s[0], nil
	}
	orig := []rune(s[0])
	hay, needle := foldRunes(s[0]), foldRunes(s[1])
	var sb strings.Builder
	pos := 0
	for {
		i := indexFold(hay, needle, pos)
		if i < 0 {
			break
		}
		sb.WriteString(string(orig[pos:i]))
		sb.WriteString(s[2])
		pos = i + len(needle)
	}
	sb.WriteString(string(orig[pos:]))
	return sb.String(), nil
}

func concat(c *call) (any, error) {
	var sb strings.Builder
	for i, v := range c.args {
		if v == nil {
			continue // CONCAT treats NULL as ''
		}
		s, err := c.str(i)
		if err != nil {
			return nil, err
		}
		sb.WriteString(s)
	}
	return sb.String(), nil
}

// quoteName is QUOTENAME(s[, q]): a delimited identifier with the closing delimiter
// doubled; NULL for input over 128 characters or an unsupported quote character.
func quoteName(c *call) (any, error) {
	s, err := c.str(0)
	if err != nil {
		return nil, err
	}
	q := "["
	if len(c.args) == 2 {
		if q, err = c.str(1); err != nil {
			return nil, err
		}
		if q == "" {
			return nil, nil
		}
		q = string([]rune(q)[:1])
	}
	pairs := map[string][2]string{
		"[": {"[", "]"}, "]": {"[", "]"}, "'": {"'", "'"}, `"`: {`"`, `"`},
		"(": {"(", ")"}, ")": {"(", ")"}, "<": {"<", ">"}, ">": {"<", ">"},
		"{": {"{", "}"}, "}": {"{", "}"}, "`": {"`", "`"},
	}
	p, ok := pairs[q]
	if !ok || utf8.RuneCountInString(s) > 128 {
		return nil, nil
	}
	return p[0] + strings.ReplaceAll(s, p[1], p[1]+p[1]) + p[1], nil
}

func dataLength(c *call) (any, error) {
	v, t := c.args[0], c.types[0]
	switch t {
	case sqltypes.NVarChar:
		return int32(2 * len(utf16.Encode([]rune(v.(string))))), nil
	case sqltypes.VarBinary:
		return int32(len(v.([]byte))), nil
	case sqltypes.Int:
		return int32(4), nil
	case sqltypes.BigInt, sqltypes.Float, sqltypes.DateTime, sqltypes.DateTime2:
		return int32(8), nil
	case sqltypes.SmallInt:
		return int32(2), nil
	case sqltypes.TinyInt, sqltypes.Bit:
		return int32(1), nil
	case sqltypes.UniqueIdentifier:
		return int32(16), nil
	case sqltypes.Numeric:
		p, _ := precisionOf(runtimeCol(c.cols[0], v, t))
		switch {
		case p <= 9:
			return int32(5), nil
		case p <= 19:
			return int32(9), nil
		case p <= 28:
			return int32(13), nil
		}
		return int32(17), nil
	}
	return nil, nil
}

// ---- math ----

// asNumber brings a math function's argument to the result type's family (strings to float).
func asNumber(c *call) (any, sqltypes.Type, error) {
	t := c.res.Type
	if t == sqltypes.Numeric {
		v, err := convertValue(c.args[0], c.types[0], sqltypes.Column{Type: sqltypes.Numeric}, 0)
		return v, t, err
	}
	v, err := convertValue(c.args[0], c.types[0], sqltypes.Column{Type: t}, 0)
	return v, t, err
}

func abs(c *call) (any, error) {
	v, t, err := asNumber(c)
	if err != nil {
		return nil, err
	}
	switch {
	case isInteger(t):
		return checkedInt(new(big.Int).Abs(big.NewInt(intValue(v))), t, func() error { return errOverflow(typeName(t)) })
	case t == sqltypes.Numeric:
		d := v.(sqltypes.Decimal)
		return sqltypes.Decimal{Unscaled: new(big.Int).Abs(unscaled(d)), Scale: d.Scale}, nil
	}
	return math.Abs(v.(float64)), nil
}

func sign(c *call) (any, error) {
	v, t, err := asNumber(c)
	if err != nil {
		return nil, err
	}
	switch {
	case isInteger(t):
		return intOf(int64(big.NewInt(intValue(v)).Sign()), t), nil
	case t == sqltypes.Numeric:
		d := v.(sqltypes.Decimal)
		return rescale(decimalFromInt(int64(unscaled(d).Sign())), d.Scale), nil
	}
	f := v.(float64)
	switch {
	case f > 0:
		return 1.0, nil
	case f < 0:
		return -1.0, nil
	}
	return 0.0, nil
}

// round is ROUND(x, length[, function]): the result keeps x's type and scale
// (ROUND(1.2345, 2) is 1.2300); a non-zero function truncates instead. Rounding up past
// the precision is an overflow, as in SQL Server (ROUND(748.58, -3) on numeric(5,2)).
func round(c *call) (any, error) {
	v, t, err := asNumber(c)
	if err != nil {
		return nil, err
	}
	n, err := c.int(1)
	if err != nil {
		return nil, err
	}
	trunc := false
	if len(c.args) == 3 {
		f, err := c.int(2)
		if err != nil {
			return nil, err
		}
		trunc = f != 0
	}
	switch {
	case isInteger(t):
		if n >= 0 {
			return v, nil
		}
		r := ratDecimal(new(big.Rat).SetFrac(big.NewInt(intValue(v)), pow10(int(-n))), 0, trunc)
		return checkedInt(new(big.Int).Mul(r.Unscaled, pow10(int(-n))), t, func() error { return errOverflow(typeName(t)) })
	case t == sqltypes.Numeric:
		d := v.(sqltypes.Decimal)
		if n >= int64(d.Scale) {
			return d, nil
		}
		shift := int(int64(d.Scale) - n)
		if shift > 76 {
			return sqltypes.Decimal{Unscaled: new(big.Int), Scale: d.Scale}, nil
		}
		r := ratDecimal(new(big.Rat).SetFrac(unscaled(d), pow10(shift)), 0, trunc)
		out := sqltypes.Decimal{Unscaled: new(big.Int).Mul(r.Unscaled, pow10(shift)), Scale: d.Scale}
		if p, _ := precisionOf(runtimeCol(c.res, v, t)); !fitsPrecision(out, p) {
			return nil, errOverflow("numeric")
		}
		return out, nil
	}
	f, scale := v.(float64), math.Pow(10, float64(n))
	if trunc {
		return math.Trunc(f*scale) / scale, nil
	}
	return math.Round(f*scale) / scale, nil
}

func floorType(args []sqltypes.Column) (sqltypes.Column, error) {
	col, err := numericArg("FLOOR")(args)
	if err == nil && col.Type == sqltypes.Numeric {
		p, _ := precisionOf(col)
		col = numericCol(int(p), 0)
	}
	return col, err
}

func floorCeil(c *call, ceil bool) (any, error) {
	v, t, err := asNumber(c)
	if err != nil {
		return nil, err
	}
	switch {
	case isInteger(t):
		return v, nil
	case t == sqltypes.Numeric:
		d := v.(sqltypes.Decimal)
		q, m := new(big.Int).QuoRem(unscaled(d), pow10(int(d.Scale)), new(big.Int))
		if ceil && m.Sign() > 0 {
			q.Add(q, big.NewInt(1))
		} else if !ceil && m.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		}
		return sqltypes.Decimal{Unscaled: q}, nil
	}
	if ceil {
		return math.Ceil(v.(float64)), nil
	}
	return math.Floor(v.(float64)), nil
}

// ---- dates ----

// dateArg reads a date argument: a date type as is, a string parsed as datetime (SQL
// Server converts it implicitly), a number as datetime days.
func dateArg(v any, t sqltypes.Type) (time.Time, sqltypes.Type, error) {
	t = concrete(v, t)
	if isDate(t) {
		return v.(time.Time), t, nil
	}
	if t != sqltypes.NVarChar && !isNumber(t) {
		return time.Time{}, 0, errTypeClash(t, sqltypes.DateTime)
	}
	d, err := toDate(v, t, sqltypes.DateTime)
	if err != nil {
		return time.Time{}, 0, err
	}
	return d.(time.Time), sqltypes.DateTime, nil
}

func datePartOf(c *call, part string) (any, error) {
	d, _, err := dateArg(c.args[0], c.types[0])
	if err != nil {
		return nil, err
	}
	return int32(datePart(part, d)), nil
}

// datePartName reads DATEADD/DATEDIFF/DATEPART's first argument, an unquoted keyword the
// parser hands over as a column reference.
func datePartName(fn string, e tsql.Expr) (string, error) {
	var word string
	switch e := unparen(e).(type) {
	case *tsql.ColumnRef:
		word = strings.Join(e.Name.Parts, ".")
	case *tsql.StringLit:
		word = e.Value
	default:
		return "", errf(1023, "Invalid parameter 1 specified for %s.", fn)
	}
	part, ok := datePartNames[strings.ToLower(word)]
	if !ok {
		return "", errf(155, "'%s' is not a recognized %s option.", word, fn)
	}
	return part, nil
}

func compileDateFunc(s *scope, name string, fc *tsql.FuncCall) (*cexpr, error) {
	fn := strings.ToLower(name)
	want := 3
	if name == "DATEPART" {
		want = 2
	}
	if len(fc.Args) != want {
		return nil, errArgCount(fn, want, want)
	}
	partFn := fn
	if name == "DATEDIFF_BIG" {
		partFn = "datediff"
	}
	part, err := datePartName(partFn, fc.Args[0])
	if err != nil {
		return nil, err
	}
	args, err := compileArgs(s, fc.Args[1:])
	if err != nil {
		return nil, err
	}
	res := sqltypes.Column{Type: sqltypes.Int}
	switch name {
	case "DATEDIFF_BIG":
		res.Type = sqltypes.BigInt
	case "DATEADD":
		res.Type = args[1].col.Type
		if !isDate(res.Type) {
			res.Type = sqltypes.DateTime
		}
	}
	return &cexpr{col: res, eval: func(f *frame) (any, sqltypes.Type, error) {
		vals, types, hasNull, err := evalArgs(args, f)
		if err != nil || hasNull {
			return nil, res.Type, err
		}
		var v any
		switch name {
		case "DATEPART":
			v, err = datePartOf(&call{args: vals, types: types}, part)
		case "DATEADD":
			v, err = evalDateAdd(part, vals, types)
		default:
			v, err = evalDateDiff(part, vals, types, res.Type)
		}
		if err != nil {
			return nil, 0, err
		}
		return v, concrete(v, res.Type), nil
	}}, nil
}

func evalDateAdd(part string, vals []any, types []sqltypes.Type) (any, error) {
	n, err := convertValue(vals[0], types[0], sqltypes.Column{Type: sqltypes.Int}, 0)
	if err != nil {
		return nil, err
	}
	d, dt, err := dateArg(vals[1], types[1])
	if err != nil {
		return nil, err
	}
	out := dateAdd(part, int64(n.(int32)), d)
	minYear := 1
	if dt == sqltypes.DateTime {
		out = roundDatetime(out)
		minYear = 1753
	}
	if out.Year() < minYear || out.Year() > 9999 {
		return nil, errf(517, "Adding a value to a '%s' column caused an overflow.", typeName(dt))
	}
	return out, nil
}

func evalDateDiff(part string, vals []any, types []sqltypes.Type, res sqltypes.Type) (any, error) {
	a, _, err := dateArg(vals[0], types[0])
	if err != nil {
		return nil, err
	}
	b, _, err := dateArg(vals[1], types[1])
	if err != nil {
		return nil, err
	}
	n, ok := dateDiff(part, a, b)
	overflow := errf(535, "The datediff function resulted in an overflow. The number of dateparts separating two date/time instances is too large. Try to use datediff with a less precise datepart.")
	if !ok {
		return nil, overflow
	}
	if res == sqltypes.Int {
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, overflow
		}
		return int32(n), nil
	}
	return n, nil
}
