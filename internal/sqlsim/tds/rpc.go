package tds

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// Param is one RPC parameter.
type Param struct {
	Name   string        // without @; empty for positional parameters
	Type   sqltypes.Type // as declared by the client
	Value  any           // sqltypes Go representation; nil for NULL
	Output bool
}

// procSpExecuteSQL is sp_executesql's well-known id in an RPC request (ProcIDSwitch).
const procSpExecuteSQL = 10

// wellKnownProcs names the other special procedure ids so that an RPC by id can still be
// reported to the engine as "EXEC name".
var wellKnownProcs = map[uint16]string{
	1: "sp_cursor", 2: "sp_cursoropen", 3: "sp_cursorprepare", 4: "sp_cursorexecute",
	5: "sp_cursorprepexec", 6: "sp_cursorunprepare", 7: "sp_cursorfetch", 8: "sp_cursoroption",
	9: "sp_cursorclose", 10: "sp_executesql", 11: "sp_prepare", 12: "sp_execute",
	13: "sp_prepexec", 14: "sp_prepexecrpc", 15: "sp_unprepare",
}

// rpcCall is a decoded RPC request in the shape Session.Exec takes.
type rpcCall struct {
	sql    string
	params []Param
}

// rpcError is the message SQL Server answers a malformed RPC stream with.
func rpcError(format string, args ...any) *Message {
	return &Message{Number: 8009, State: 1, Class: 16,
		Text: "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. " + fmt.Sprintf(format, args...)}
}

// parseRPC decodes an RPC request. sp_executesql (by id or name) becomes its @stmt with
// the remaining parameters; any other procedure becomes "EXEC name" with all of them.
// loc is the zone given to datetime/datetime2 values, which carry none on the wire.
func parseRPC(data []byte, loc *time.Location, allHeaders bool) (rpcCall, error) {
	r := &byteReader{b: data}
	if allHeaders {
		r.skipAllHeaders()
	}
	var name string
	if n := r.u16(); n == 0xFFFF {
		id := r.u16()
		name = wellKnownProcs[id]
		if name == "" {
			name = fmt.Sprintf("proc id %d", id)
		}
	} else {
		name = r.ucs2(int(n))
	}
	r.u16() // option flags (WithRecomp, NoMetaData, ReuseMetaData): nothing to do for the simulator
	if r.err != nil {
		return rpcCall{}, rpcError("%v", r.err)
	}
	params := []Param{}
	for r.remaining() > 0 {
		p, err := readParam(r, loc, len(params)+1)
		if err != nil {
			return rpcCall{}, err
		}
		params = append(params, p)
	}
	if !isSpExecuteSQL(name) {
		return rpcCall{sql: "EXEC " + name, params: params}, nil
	}
	// go-mssqldb sends @stmt and @params unnamed, in that order; others may name them.
	call := rpcCall{params: params}
	if len(params) > 0 && (params[0].Name == "" || strings.EqualFold(params[0].Name, "stmt")) {
		s, ok := params[0].Value.(string)
		if !ok {
			return rpcCall{}, &Message{Number: 214, State: 2, Class: 16, Proc: "sp_executesql",
				Text: "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'."}
		}
		call.sql = s
		call.params = params[1:]
	}
	if len(call.params) > 0 && (call.params[0].Name == "" || strings.EqualFold(call.params[0].Name, "params")) {
		call.params = call.params[1:]
	}
	return call, nil
}

func isSpExecuteSQL(name string) bool {
	n := strings.ToLower(strings.NewReplacer("[", "", "]", "").Replace(name))
	return n == "sp_executesql" || n == "sys.sp_executesql" || n == "master.sys.sp_executesql"
}

// readParam decodes ParamMetaData (name, status, TYPE_INFO) and the value that follows.
func readParam(r *byteReader, loc *time.Location, ordinal int) (Param, error) {
	p := Param{Name: strings.TrimPrefix(r.bVarChar(), "@")}
	p.Output = r.u8()&0x01 != 0 // fByRefValue: an OUTPUT parameter
	typ := r.u8()
	if r.err != nil {
		return p, rpcError("Parameter %d: %v", ordinal, r.err)
	}
	var (
		data        []byte
		null        bool
		maxLen      int
		prec, scale byte
	)
	switch typ {
	case typeNull:
		null = true
	case typeInt1, typeBit:
		data = r.take(1)
	case typeInt2:
		data = r.take(2)
	case typeInt4, typeDateTim4, typeFlt4, typeMoney4:
		data = r.take(4)
	case typeInt8, typeDateTime, typeFlt8, typeMoney:
		data = r.take(8)
	case typeGUID, typeIntN, typeBitN, typeFltN, typeMoneyN, typeDateTimeN,
		typeDecimalN, typeNumericN, typeDecimal, typeNumeric:
		maxLen = int(r.u8())
		if typ == typeDecimalN || typ == typeNumericN || typ == typeDecimal || typ == typeNumeric {
			prec, scale = r.u8(), r.u8()
		}
		data = r.take(int(r.u8()))
		null = len(data) == 0
	case typeDateN:
		data = r.take(int(r.u8()))
		null = len(data) == 0
	case typeTimeN, typeDateTime2N, typeDateTimeOffsetN:
		scale = r.u8()
		data = r.take(int(r.u8()))
		null = len(data) == 0
	case typeBigVarBin, typeBigBinary, typeBigVarChar, typeBigChar, typeNVarChar, typeNChar:
		maxLen = int(r.u16())
		if typ == typeBigVarChar || typ == typeBigChar || typ == typeNVarChar || typ == typeNChar {
			r.take(5) // collation: the simulator compares strings itself
		}
		if maxLen == varLenMax {
			data, null = readPLP(r)
		} else if n := r.u16(); n == shortLenNull {
			null = true
		} else {
			data = r.take(int(n))
		}
	default:
		return p, rpcError("Parameter %d (\"@%s\"): Data type 0x%02X is unknown.", ordinal, p.Name, typ)
	}
	if r.err != nil {
		return p, rpcError("Parameter %d (\"@%s\"): %v", ordinal, p.Name, r.err)
	}
	p.Type = paramType(typ, maxLen)
	if null {
		return p, nil
	}
	v, err := decodeParamValue(typ, data, prec, scale, loc)
	if err != nil {
		return p, rpcError("Parameter %d (\"@%s\"): %v", ordinal, p.Name, err)
	}
	p.Value = v
	return p, nil
}

// readPLP reads a PLP value: total length (or NULL marker), then chunks up to a zero chunk.
func readPLP(r *byteReader) (data []byte, null bool) {
	if r.u64() == plpNull {
		return nil, true
	}
	data = []byte{}
	for r.err == nil {
		n := r.u32()
		if n == 0 {
			break
		}
		data = append(data, r.take(int(n))...)
	}
	return data, false
}

// paramType maps a TDS type to the sqltypes type the engine sees.
func paramType(typ byte, maxLen int) sqltypes.Type {
	switch typ {
	case typeInt1:
		return sqltypes.TinyInt
	case typeInt2:
		return sqltypes.SmallInt
	case typeInt4:
		return sqltypes.Int
	case typeInt8:
		return sqltypes.BigInt
	case typeIntN:
		switch maxLen {
		case 1:
			return sqltypes.TinyInt
		case 2:
			return sqltypes.SmallInt
		case 4:
			return sqltypes.Int
		}
		return sqltypes.BigInt
	case typeBit, typeBitN:
		return sqltypes.Bit
	case typeFlt4, typeFlt8, typeFltN:
		return sqltypes.Float
	case typeMoney, typeMoney4, typeMoneyN, typeDecimalN, typeNumericN, typeDecimal, typeNumeric:
		return sqltypes.Numeric
	case typeDateTime, typeDateTim4, typeDateTimeN:
		return sqltypes.DateTime
	case typeDateN, typeTimeN, typeDateTime2N, typeDateTimeOffsetN:
		return sqltypes.DateTime2
	case typeGUID:
		return sqltypes.UniqueIdentifier
	case typeBigVarBin, typeBigBinary:
		return sqltypes.VarBinary
	}
	// NVARCHAR, NCHAR, VARCHAR, CHAR, and the untyped NULL (go-mssqldb declares it nvarchar(1)).
	return sqltypes.NVarChar
}

func decodeParamValue(typ byte, b []byte, prec, scale byte, loc *time.Location) (any, error) {
	bad := func() (any, error) { return nil, fmt.Errorf("invalid length %d for type 0x%02X", len(b), typ) }
	switch typ {
	case typeInt1, typeInt2, typeInt4, typeInt8, typeIntN:
		switch len(b) {
		case 1:
			return b[0], nil
		case 2:
			return int16(binary.LittleEndian.Uint16(b)), nil
		case 4:
			return int32(binary.LittleEndian.Uint32(b)), nil
		case 8:
			return int64(binary.LittleEndian.Uint64(b)), nil
		}
		return bad()
	case typeBit, typeBitN:
		if len(b) != 1 {
			return bad()
		}
		return b[0] != 0, nil
	case typeFlt4, typeFlt8, typeFltN:
		switch len(b) {
		case 4:
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
		case 8:
			return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
		}
		return bad()
	case typeMoney, typeMoney4, typeMoneyN:
		var units int64
		switch len(b) {
		case 4:
			units = int64(int32(binary.LittleEndian.Uint32(b)))
		case 8: // high 32 bits first
			units = int64(binary.LittleEndian.Uint32(b))<<32 | int64(binary.LittleEndian.Uint32(b[4:]))
		default:
			return bad()
		}
		return sqltypes.Decimal{Unscaled: big.NewInt(units), Scale: 4}, nil
	case typeDecimalN, typeNumericN, typeDecimal, typeNumeric:
		if len(b) < 2 {
			return bad()
		}
		mag := make([]byte, len(b)-1)
		for i := range mag { // little-endian on the wire, big.Int wants big-endian
			mag[i] = b[len(b)-1-i]
		}
		v := new(big.Int).SetBytes(mag)
		if b[0] == 0 {
			v.Neg(v)
		}
		return sqltypes.Decimal{Unscaled: v, Scale: scale}, nil
	case typeDateTime, typeDateTimeN, typeDateTim4:
		switch len(b) {
		case 8:
			days := int32(binary.LittleEndian.Uint32(b))
			ticks := int64(binary.LittleEndian.Uint32(b[4:]))
			// SQL Server shows datetime to the millisecond (.000/.003/.007); round the same way.
			ms := (ticks*10 + 1) / 3
			return time.Date(1900, 1, 1+int(days), 0, 0, 0, int(ms)*1e6, loc), nil
		case 4:
			days := binary.LittleEndian.Uint16(b)
			mins := binary.LittleEndian.Uint16(b[2:])
			return time.Date(1900, 1, 1+int(days), 0, int(mins), 0, 0, loc), nil
		}
		return bad()
	case typeDateN:
		if len(b) != 3 {
			return bad()
		}
		return time.Date(1, 1, 1+int(uint24(b)), 0, 0, 0, 0, loc), nil
	case typeTimeN:
		ns, err := timeOfDay(b, scale)
		if err != nil {
			return nil, err
		}
		return time.Date(1, 1, 1, 0, 0, 0, 0, loc).Add(time.Duration(ns)), nil
	case typeDateTime2N, typeDateTimeOffsetN:
		dateAt := len(b) - 3
		if typ == typeDateTimeOffsetN {
			dateAt -= 2 // the zone offset follows; date and time are already in UTC
			loc = time.UTC
		}
		if dateAt < 3 {
			return bad()
		}
		ns, err := timeOfDay(b[:dateAt], scale)
		if err != nil {
			return nil, err
		}
		return time.Date(1, 1, 1+int(uint24(b[dateAt:])), 0, 0, 0, 0, loc).Add(time.Duration(ns)), nil
	case typeGUID:
		if len(b) != 16 {
			return bad()
		}
		return guidFromWire(b), nil
	case typeBigVarBin, typeBigBinary:
		return append([]byte{}, b...), nil
	case typeNVarChar, typeNChar:
		return decodeUCS2(b), nil
	case typeBigVarChar, typeBigChar:
		// go-mssqldb sends mssql.VarChar as the Go string's bytes; keep valid UTF-8 as it
		// is and read anything else as Latin-1 (the default collation's code page, near enough).
		if utf8.Valid(b) {
			return string(b), nil
		}
		rs := make([]rune, len(b))
		for i, c := range b {
			rs[i] = rune(c)
		}
		return string(rs), nil
	}
	return nil, fmt.Errorf("data type 0x%02X is unknown", typ)
}

// timeOfDay decodes a TIME value of the given scale into nanoseconds since midnight.
func timeOfDay(b []byte, scale byte) (int64, error) {
	if scale > 7 || len(b) < 3 || len(b) > 5 {
		return 0, fmt.Errorf("invalid time of %d bytes at scale %d", len(b), scale)
	}
	var units uint64
	for i := len(b) - 1; i >= 0; i-- {
		units = units<<8 | uint64(b[i])
	}
	ns := int64(units)
	for i := scale; i < 9; i++ {
		ns *= 10
	}
	return ns, nil
}

func uint24(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }
