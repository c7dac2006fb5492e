package query

import (
	"math"
	"math/big"
	"time"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

var opNames = map[string]string{"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo"}

// arithType is the result type of l op r: string + string concatenates; otherwise the
// operand of higher precedence decides, with SQL Server's numeric precision/scale rules.
// Types SQL Server refuses to combine raise 402.
func arithType(op string, l, r sqltypes.Column) (sqltypes.Column, error) {
	switch {
	case l.Type <= 0 && r.Type <= 0:
		return sqltypes.Column{Type: sqltypes.Int}, nil
	case l.Type <= 0:
		l = r
	case r.Type <= 0:
		r = l
	}
	lt, rt := l.Type, r.Type
	incompatible := errf(402, "The data types %s and %s are incompatible in the %s operator.", typeName(lt), typeName(rt), opNames[op])
	if lt == sqltypes.NVarChar && rt == sqltypes.NVarChar {
		if op != "+" {
			return sqltypes.Column{}, incompatible
		}
		size := 0
		if l.Size > 0 && r.Size > 0 && l.Size+r.Size <= maxNVarChar {
			size = l.Size + r.Size
		}
		return sqltypes.Column{Type: sqltypes.NVarChar, Size: size}, nil
	}
	t := higher(lt, rt)
	switch {
	case lt == sqltypes.UniqueIdentifier, rt == sqltypes.UniqueIdentifier,
		lt == sqltypes.VarBinary, rt == sqltypes.VarBinary, t == sqltypes.DateTime2:
		return sqltypes.Column{}, incompatible
	case t == sqltypes.DateTime:
		if op != "+" && op != "-" {
			return sqltypes.Column{}, incompatible
		}
		return sqltypes.Column{Type: sqltypes.DateTime}, nil
	case t == sqltypes.Float:
		if op == "%" {
			return sqltypes.Column{}, incompatible
		}
		return sqltypes.Column{Type: sqltypes.Float}, nil
	case t == sqltypes.Numeric:
		p1, s1 := precisionOf(l)
		p2, s2 := precisionOf(r)
		P1, S1, P2, S2 := int(p1), int(s1), int(p2), int(s2)
		var p, s int
		switch op {
		case "+", "-":
			s = max(S1, S2)
			p = max(P1-S1, P2-S2) + s + 1
		case "*":
			p, s = P1+P2+1, S1+S2
		case "/":
			s = max(6, S1+P2+1)
			p = P1 - S1 + S2 + s
		case "%":
			s = max(S1, S2)
			p = min(P1-S1, P2-S2) + s
		}
		return numericCol(p, s), nil
	case t == sqltypes.Bit:
		return sqltypes.Column{Type: sqltypes.Int}, nil
	}
	return sqltypes.Column{Type: t}, nil
}

// arith evaluates a op b for a result type from arithType; NULL in, NULL out.
func arith(op string, res sqltypes.Column, a any, at sqltypes.Type, b any, bt sqltypes.Type) (any, error) {
	if a == nil || b == nil {
		return nil, nil
	}
	switch {
	case res.Type == sqltypes.NVarChar:
		sa, err := formatValue(a, at, 0)
		if err != nil {
			return nil, err
		}
		sb, err := formatValue(b, bt, 0)
		if err != nil {
			return nil, err
		}
		return sa + sb, nil
	case res.Type == sqltypes.DateTime:
		return dateArith(op, a, at, b, bt)
	case res.Type == sqltypes.Float:
		return floatArith(op, a, at, b, bt)
	case res.Type == sqltypes.Numeric:
		return numericArith(op, res, a, at, b, bt)
	case isInteger(res.Type):
		return intArith(op, res.Type, a, at, b, bt)
	}
	return nil, errf(402, "The data types %s and %s are incompatible in the %s operator.", typeName(at), typeName(bt), opNames[op])
}

func intArith(op string, t sqltypes.Type, a any, at sqltypes.Type, b any, bt sqltypes.Type) (any, error) {
	col := sqltypes.Column{Type: t}
	ca, err := convertValue(a, at, col, 0)
	if err != nil {
		return nil, err
	}
	cb, err := convertValue(b, bt, col, 0)
	if err != nil {
		return nil, err
	}
	x, y := big.NewInt(intValue(ca)), big.NewInt(intValue(cb))
	switch op {
	case "+":
		x.Add(x, y)
	case "-":
		x.Sub(x, y)
	case "*":
		x.Mul(x, y)
	case "/", "%":
		if y.Sign() == 0 {
			return nil, errDivideByZero()
		}
		if op == "/" {
			x.Quo(x, y) // truncates toward zero, like SQL Server
		} else {
			x.Rem(x, y) // sign of the dividend, like SQL Server
		}
	}
	return checkedInt(x, t, func() error { return errOverflow(typeName(t)) })
}

func floatArith(op string, a any, at sqltypes.Type, b any, bt sqltypes.Type) (any, error) {
	fa, err := toFloat(a, concrete(a, at))
	if err != nil {
		return nil, err
	}
	fb, err := toFloat(b, concrete(b, bt))
	if err != nil {
		return nil, err
	}
	x, y := fa.(float64), fb.(float64)
	var r float64
	switch op {
	case "+":
		r = x + y
	case "-":
		r = x - y
	case "*":
		r = x * y
	case "/":
		if y == 0 {
			return nil, errDivideByZero()
		}
		r = x / y
	}
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return nil, errOverflow("float")
	}
	return r, nil
}

func numericArith(op string, res sqltypes.Column, a any, at sqltypes.Type, b any, bt sqltypes.Type) (any, error) {
	exact := sqltypes.Column{Type: sqltypes.Numeric}
	ca, err := convertValue(a, at, exact, 0)
	if err != nil {
		return nil, err
	}
	cb, err := convertValue(b, bt, exact, 0)
	if err != nil {
		return nil, err
	}
	x, y := decimalRat(ca.(sqltypes.Decimal)), decimalRat(cb.(sqltypes.Decimal))
	r := new(big.Rat)
	switch op {
	case "+":
		r.Add(x, y)
	case "-":
		r.Sub(x, y)
	case "*":
		r.Mul(x, y)
	case "/", "%":
		if y.Sign() == 0 {
			return nil, errDivideByZero()
		}
		r.Quo(x, y)
		if op == "%" {
			// x - y*trunc(x/y)
			q := new(big.Int).Quo(r.Num(), r.Denom())
			r.Sub(x, new(big.Rat).Mul(y, new(big.Rat).SetInt(q)))
		}
	}
	d := ratDecimal(r, res.Scale, false)
	if !fitsPrecision(d, res.Precision) {
		return nil, errOverflow("numeric")
	}
	return d, nil
}

// dateArith is datetime ± number (days, fractions allowed) and datetime - datetime, the
// only date arithmetic SQL Server allows with operators.
func dateArith(op string, a any, at sqltypes.Type, b any, bt sqltypes.Type) (any, error) {
	days := func(v any, t sqltypes.Type) (float64, error) {
		t = concrete(v, t)
		if t == sqltypes.NVarChar {
			d, err := toDate(v, t, sqltypes.DateTime)
			if err != nil {
				return 0, err
			}
			v, t = d, sqltypes.DateTime
		}
		if isDate(t) {
			return datetimeDays(v.(time.Time)), nil
		}
		f, err := toFloat(v, t)
		if err != nil {
			return 0, err
		}
		return f.(float64), nil
	}
	x, err := days(a, at)
	if err != nil {
		return nil, err
	}
	y, err := days(b, bt)
	if err != nil {
		return nil, err
	}
	r := x + y
	if op == "-" {
		r = x - y
	}
	t := roundDatetime(daysDatetime(r))
	if t.Year() < 1753 || t.Year() > 9999 {
		return nil, errf(517, "Adding a value to a 'datetime' column caused an overflow.")
	}
	if tm, ok := a.(time.Time); ok {
		t = rewall(t, tm.Location())
	}
	return t, nil
}

// negate is unary minus.
func negate(v any, t sqltypes.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	t = concrete(v, t)
	switch {
	case t == sqltypes.Bit, t == sqltypes.NVarChar, !isNumber(t):
		return nil, errOperandInvalid(t, "minus")
	case isInteger(t):
		return checkedInt(new(big.Int).Neg(big.NewInt(intValue(v))), t, func() error { return errOverflow(typeName(t)) })
	case t == sqltypes.Numeric:
		d := v.(sqltypes.Decimal)
		return sqltypes.Decimal{Unscaled: new(big.Int).Neg(unscaled(d)), Scale: d.Scale}, nil
	}
	return -v.(float64), nil
}
