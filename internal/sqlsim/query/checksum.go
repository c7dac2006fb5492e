package query

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// BINARY_CHECKSUM and CHECKSUM_AGG, as Microsoft documents them
// (https://learn.microsoft.com/en-us/sql/t-sql/functions/binary-checksum-transact-sql,
// https://learn.microsoft.com/en-us/sql/t-sql/functions/checksum-agg-transact-sql): an int
// over a row or a list of expressions that is the same for equal values of the same types
// (NULLs of a type alike) and order-sensitive; an int aggregate over integers that ignores
// NULLs and does not depend on row order. SQL Server's algorithms are not documented, so the
// simulator's values differ from SQL Server's: only equality between two computations means
// anything, which is all a digest compared across a backup and a restore needs.

// compileBinaryChecksum compiles BINARY_CHECKSUM(*) or BINARY_CHECKSUM(expr, …). The * form
// covers every column of the FROM row in table order.
func compileBinaryChecksum(s *scope, fc *tsql.FuncCall) (*cexpr, error) {
	if len(fc.Args) == 0 {
		return nil, errArgCount("binary_checksum", 1, 1)
	}
	args := fc.Args
	if _, ok := args[0].(*tsql.Star); ok {
		if len(args) > 1 {
			return nil, errSyntax("*")
		}
		cols := s.cols
		if s.group != nil {
			cols = s.group.pre.cols
		}
		args = make([]tsql.Expr, len(cols))
		for i, c := range cols {
			args[i] = &tsql.ColumnRef{Name: tsql.Name{Parts: []string{c.qual, c.col.Name}}}
		}
	}
	cargs, err := compileArgs(s, args)
	if err != nil {
		return nil, err
	}
	return &cexpr{col: sqltypes.Column{Type: sqltypes.Int}, eval: func(f *frame) (any, sqltypes.Type, error) {
		vals, types, _, err := evalArgs(cargs, f)
		if err != nil {
			return nil, 0, err
		}
		h := fnv.New32a()
		var buf [8]byte
		for i, v := range vals {
			h.Write([]byte{byte(types[i])})
			if v == nil {
				h.Write([]byte{0})
				continue
			}
			h.Write([]byte{1})
			h.Write(checksumBytes(v, buf[:0]))
		}
		return int32(h.Sum32()), sqltypes.Int, nil
	}}, nil
}

// checksumBytes is a value's byte representation for BINARY_CHECKSUM: case-sensitive for
// strings (unlike CHECKSUM), trailing blanks ignored as the = operator ignores them.
func checksumBytes(v any, b []byte) []byte {
	switch v := v.(type) {
	case int32:
		return binary.LittleEndian.AppendUint64(b, uint64(int64(v)))
	case int64:
		return binary.LittleEndian.AppendUint64(b, uint64(v))
	case int16:
		return binary.LittleEndian.AppendUint64(b, uint64(int64(v)))
	case uint8:
		return binary.LittleEndian.AppendUint64(b, uint64(v))
	case bool:
		if v {
			return append(b, 1)
		}
		return append(b, 0)
	case float64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	case string:
		out := b
		for _, u := range utf16.Encode([]rune(strings.TrimRight(v, " "))) {
			out = binary.LittleEndian.AppendUint16(out, u)
		}
		return out
	case time.Time:
		return binary.LittleEndian.AppendUint64(b, uint64(v.UnixNano()))
	case sqltypes.Decimal:
		return append(b, v.String()...)
	case sqltypes.UUID:
		return append(b, v[:]...)
	case []byte:
		return append(b, v...)
	}
	return b
}

// checksumAgg is CHECKSUM_AGG over the non-NULL integer values of a group (NULL for none).
func checksumAgg(vals []any, types []sqltypes.Type) (any, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	var x int32
	for i, v := range vals {
		n, err := convertValue(v, types[i], sqltypes.Column{Type: sqltypes.Int}, 0)
		if err != nil {
			return nil, err
		}
		x ^= n.(int32)
	}
	return x, nil
}
