package query

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// Strings compare under SQL_Latin1_General_CP1_CI_AS: case-insensitive, accent-sensitive,
// and trailing spaces ignored (ANSI padding: 'abc' = 'abc  '). The ordering is per folded
// code point, which matches the collation for the identifiers and paths the simulator
// holds, not for every punctuation character.

func foldRune(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }

func collateCompare(a, b string) int {
	a, b = strings.TrimRight(a, " "), strings.TrimRight(b, " ")
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if c := cmp.Compare(foldRune(ra), foldRune(rb)); c != 0 {
			return c
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// foldString is the collation key of a string: equal under the collation ⇔ equal keys.
func foldString(s string) string {
	return strings.Map(foldRune, strings.TrimRight(s, " "))
}

// compareValues orders two non-NULL values: the one of lower precedence is converted to
// the other's type first (comparing nvarchar with int converts the string, and fails with
// 245 if it is not a number), as SQL Server does.
func compareValues(a any, at sqltypes.Type, b any, bt sqltypes.Type) (int, error) {
	at, bt = concrete(a, at), concrete(b, bt)
	if at != bt {
		t := higher(at, bt)
		if !implicitOK(at, bt) {
			lo := at
			if lo == t {
				lo = bt
			}
			return 0, errTypeClash(lo, t)
		}
		target := sqltypes.Column{Type: t} // Numeric with Precision 0: convert exactly
		var err error
		if a, err = convertValue(a, at, target, 0); err != nil {
			return 0, err
		}
		if b, err = convertValue(b, bt, target, 0); err != nil {
			return 0, err
		}
		at = t
	}
	return compareSame(a, b, at), nil
}

// compareSame orders two non-NULL values of the same type t.
func compareSame(a, b any, t sqltypes.Type) int {
	switch {
	case t == sqltypes.NVarChar:
		return collateCompare(a.(string), b.(string))
	case isInteger(t):
		return cmp.Compare(intValue(a), intValue(b))
	case t == sqltypes.Numeric:
		return decimalCmp(a.(sqltypes.Decimal), b.(sqltypes.Decimal))
	case t == sqltypes.Float:
		return cmp.Compare(a.(float64), b.(float64))
	case isDate(t):
		return wall(a.(time.Time)).Compare(wall(b.(time.Time)))
	case t == sqltypes.UniqueIdentifier:
		return compareUUID(a.(sqltypes.UUID), b.(sqltypes.UUID))
	case t == sqltypes.VarBinary:
		return bytes.Compare(a.([]byte), b.([]byte))
	}
	return 0
}

// compareUUID is SQL Server's uniqueidentifier order: the last six bytes are most
// significant, then bytes 8-9, 6-7, 4-5 and 0-3.
func compareUUID(a, b sqltypes.UUID) int {
	for _, r := range [][2]int{{10, 16}, {8, 10}, {6, 8}, {4, 6}, {0, 4}} {
		if c := bytes.Compare(a[r[0]:r[1]], b[r[0]:r[1]]); c != 0 {
			return c
		}
	}
	return 0
}

// groupKey is a value's identity for GROUP BY, DISTINCT and COUNT(DISTINCT): values equal
// under SQL comparison (collation, numeric scale, int vs bigint) get the same key; NULLs
// form one group.
func groupKey(v any, t sqltypes.Type) string {
	if v == nil {
		return "\x00"
	}
	t = concrete(v, t)
	switch {
	case t == sqltypes.NVarChar:
		return "s" + foldString(v.(string))
	case isInteger(t):
		return "n" + strconv.FormatInt(intValue(v), 10)
	case t == sqltypes.Numeric:
		return "n" + normalize(v.(sqltypes.Decimal)).String()
	case t == sqltypes.Float:
		return "f" + strconv.FormatFloat(v.(float64), 'g', -1, 64)
	case isDate(t):
		return "t" + wall(v.(time.Time)).Format(time.RFC3339Nano)
	case t == sqltypes.UniqueIdentifier:
		return "u" + v.(sqltypes.UUID).String()
	case t == sqltypes.VarBinary:
		return "b" + hex.EncodeToString(v.([]byte))
	}
	return "?"
}

func rowKey(vals []any, types []sqltypes.Type) string {
	var sb strings.Builder
	for i, v := range vals {
		sb.WriteString(groupKey(v, types[i]))
		sb.WriteByte(0x1f)
	}
	return sb.String()
}

// ---- LIKE ----

// likeToken is one element of a LIKE pattern; every kind but '%' matches one character.
type likeToken struct {
	kind   byte // 'c' literal, '_' any one, '%' any run, '[' set
	r      rune
	neg    bool
	ranges [][2]rune // set members as inclusive ranges (folded)
}

func parseLike(p string) []likeToken {
	rs := []rune(p)
	var toks []likeToken
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '%':
			toks = append(toks, likeToken{kind: '%'})
		case '_':
			toks = append(toks, likeToken{kind: '_'})
		case '[':
			end := -1
			for j := i + 2; j < len(rs); j++ { // "[]…]" : a ] right after [ is a member
				if rs[j] == ']' {
					end = j
					break
				}
			}
			if end < 0 {
				toks = append(toks, likeToken{kind: 'c', r: foldRune('[')})
				continue
			}
			set := rs[i+1 : end]
			t := likeToken{kind: '['}
			if len(set) > 0 && set[0] == '^' && len(set) > 1 {
				t.neg, set = true, set[1:]
			}
			for k := 0; k < len(set); k++ {
				lo, hi := set[k], set[k]
				if k+2 < len(set) && set[k+1] == '-' {
					hi = set[k+2]
					k += 2
				}
				t.ranges = append(t.ranges, [2]rune{foldRune(lo), foldRune(hi)})
			}
			toks = append(toks, t)
			i = end
		default:
			toks = append(toks, likeToken{kind: 'c', r: foldRune(rs[i])})
		}
	}
	return toks
}

func (t likeToken) matches(r rune) bool {
	r = foldRune(r)
	switch t.kind {
	case '_':
		return true
	case 'c':
		return r == t.r
	}
	in := false
	for _, rg := range t.ranges {
		if r >= rg[0] && r <= rg[1] {
			in = true
			break
		}
	}
	return in != t.neg
}

// like matches s against a LIKE pattern case-insensitively. Since every token but % eats
// exactly one character, backtracking to the last % is enough (no exponential search).
func like(s, pattern string) bool {
	toks := parseLike(pattern)
	rs := []rune(s)
	si, ti := 0, 0
	star, starSi := -1, 0
	for si < len(rs) {
		switch {
		case ti < len(toks) && toks[ti].kind == '%':
			star, starSi = ti, si
			ti++
		case ti < len(toks) && toks[ti].matches(rs[si]):
			si++
			ti++
		case star >= 0:
			starSi++
			si, ti = starSi, star+1
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].kind == '%' {
		ti++
	}
	return ti == len(toks)
}
