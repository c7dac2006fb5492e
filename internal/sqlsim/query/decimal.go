package query

import (
	"math/big"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// Exact numeric helpers. numeric values are sqltypes.Decimal (a big unscaled integer and a
// scale) so that numeric(25,0) LSNs beyond int64 stay exact through comparison and arithmetic.

var bigTen = big.NewInt(10)

func pow10(n int) *big.Int { return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil) }

func unscaled(d sqltypes.Decimal) *big.Int {
	if d.Unscaled == nil {
		return new(big.Int)
	}
	return d.Unscaled
}

func decimalFromInt(n int64) sqltypes.Decimal {
	return sqltypes.Decimal{Unscaled: big.NewInt(n)}
}

func decimalRat(d sqltypes.Decimal) *big.Rat {
	return new(big.Rat).SetFrac(unscaled(d), pow10(int(d.Scale)))
}

// ratDecimal rounds r to scale digits, half away from zero (SQL Server's rounding for
// numeric conversions), or truncates toward zero when trunc is set.
func ratDecimal(r *big.Rat, scale uint8, trunc bool) sqltypes.Decimal {
	num := new(big.Int).Mul(r.Num(), pow10(int(scale)))
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	if !trunc && m.Sign() != 0 {
		// |m|*2 >= denom → round away from zero.
		if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(r.Denom()) >= 0 {
			if num.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return sqltypes.Decimal{Unscaled: q, Scale: scale}
}

// rescale changes d's scale, rounding when digits are dropped.
func rescale(d sqltypes.Decimal, scale uint8) sqltypes.Decimal {
	switch {
	case scale == d.Scale:
		return sqltypes.Decimal{Unscaled: new(big.Int).Set(unscaled(d)), Scale: scale}
	case scale > d.Scale:
		return sqltypes.Decimal{Unscaled: new(big.Int).Mul(unscaled(d), pow10(int(scale-d.Scale))), Scale: scale}
	}
	return ratDecimal(decimalRat(d), scale, false)
}

// digits is the number of decimal digits of d's unscaled value (the precision it needs).
func digits(d sqltypes.Decimal) int {
	u := unscaled(d)
	if u.Sign() == 0 {
		return 0
	}
	return len(new(big.Int).Abs(u).String())
}

// fitsPrecision reports whether d (already at its target scale) fits numeric(p, d.Scale).
func fitsPrecision(d sqltypes.Decimal, p uint8) bool { return digits(d) <= int(p) }

func decimalCmp(a, b sqltypes.Decimal) int {
	s := max(a.Scale, b.Scale)
	return unscaled(rescale(a, s)).Cmp(unscaled(rescale(b, s)))
}

// decimalFloat converts exactly enough for float comparisons and arithmetic.
func decimalFloat(d sqltypes.Decimal) float64 {
	f, _ := decimalRat(d).Float64()
	return f
}

// normalize drops trailing fractional zeros so equal values have one spelling (grouping keys).
func normalize(d sqltypes.Decimal) sqltypes.Decimal {
	u := new(big.Int).Set(unscaled(d))
	s := d.Scale
	m := new(big.Int)
	for s > 0 {
		q, r := new(big.Int).QuoRem(u, bigTen, m)
		if r.Sign() != 0 {
			break
		}
		u, s = q, s-1
	}
	return sqltypes.Decimal{Unscaled: u, Scale: s}
}
