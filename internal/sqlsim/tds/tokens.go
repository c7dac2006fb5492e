package tds

import (
	"encoding/binary"
	"strconv"
)

// Token types (MS-TDS 2.2.7).
const (
	tokReturnStatus = 0x79
	tokColMetadata  = 0x81
	tokError        = 0xAA
	tokInfo         = 0xAB
	tokLoginAck     = 0xAD
	tokRow          = 0xD1
	tokEnvChange    = 0xE3
	tokDone         = 0xFD
	tokDoneProc     = 0xFE
	tokDoneInProc   = 0xFF
)

// DONE status bits.
const (
	doneFinal = 0x00
	doneMore  = 0x01
	doneError = 0x02
	doneCount = 0x10
	doneAttn  = 0x20
)

// curCmdSelect is the DONE CurCmd of a SELECT; go-mssqldb only reports a SELECT's
// row count as "rows affected" to message-queue readers when a result set came with it.
const curCmdSelect = 0xC1

// ENVCHANGE types.
const (
	envDatabase      = 1
	envLanguage      = 2
	envPacketSize    = 4
	envSQLCollation  = 7
	envBeginTran     = 8
	envCommitTran    = 9
	envRollbackTran  = 10
	envResetConnAck  = 18
	loginAckSQLTSQL  = 1
	tdsVersion74     = 0x74000004
	tdsVersion73A    = 0x730A0003
	tdsVersion73B    = 0x730B0003
	tdsVersion72     = 0x72090002
	tdsVersion71     = 0x71000001
	progNameSQLServe = "Microsoft SQL Server"
)

// collationLatin1CIAS is SQL_Latin1_General_CP1_CI_AS as 5 wire bytes: LCID 0x0409 with
// the ignore-case/kana/width flags (0x00D00409 little-endian) and SQL sort id 52.
var collationLatin1CIAS = []byte{0x09, 0x04, 0xD0, 0x00, 0x34}

// tokenBuf builds token bytes with append; encoding never fails.
type tokenBuf []byte

func (b *tokenBuf) u8(v byte)    { *b = append(*b, v) }
func (b *tokenBuf) u16(v uint16) { *b = binary.LittleEndian.AppendUint16(*b, v) }
func (b *tokenBuf) u32(v uint32) { *b = binary.LittleEndian.AppendUint32(*b, v) }
func (b *tokenBuf) u64(v uint64) { *b = binary.LittleEndian.AppendUint64(*b, v) }
func (b *tokenBuf) raw(v []byte) { *b = append(*b, v...) }

// bVarChar writes a B_VARCHAR, cutting the text at 255 UTF-16 units (the format's limit).
func (b *tokenBuf) bVarChar(s string) {
	u := encodeUCS2(s)
	if len(u) > 2*255 {
		u = u[:2*255]
	}
	b.u8(byte(len(u) / 2))
	b.raw(u)
}

// usVarChar writes a US_VARCHAR (two-byte character count).
func (b *tokenBuf) usVarChar(s string) {
	u := encodeUCS2(s)
	if len(u) > 2*0xFFFF {
		u = u[:2*0xFFFF]
	}
	b.u16(uint16(len(u) / 2))
	b.raw(u)
}

// withLength writes a token whose body is preceded by its USHORT length.
func (b *tokenBuf) withLength(tok byte, body func(*tokenBuf)) {
	var inner tokenBuf
	body(&inner)
	b.u8(tok)
	b.u16(uint16(len(inner)))
	b.raw(inner)
}

// done writes DONE, DONEPROC or DONEINPROC. narrow: the row count is a LONG, as TDS 7.1
// clients read it (a ULONGLONG since 7.2, MS-TDS 2.2.7.6).
func (b *tokenBuf) done(tok byte, status, curCmd uint16, rows uint64, narrow bool) {
	b.u8(tok)
	b.u16(status)
	b.u16(curCmd)
	if narrow {
		b.u32(uint32(min(rows, 1<<31-1)))
	} else {
		b.u64(rows)
	}
}

// message writes an INFO or ERROR token.
// message writes INFO or ERROR. shortLine: the line number is a USHORT, as TDS 7.1 clients
// read it (a LONG since 7.2, MS-TDS 2.2.7.10).
func (b *tokenBuf) message(m Message, shortLine bool) {
	tok := byte(tokInfo)
	if m.isError() {
		tok = tokError
	}
	b.withLength(tok, func(t *tokenBuf) {
		t.u32(uint32(m.Number))
		t.u8(m.State)
		t.u8(m.Class)
		t.usVarChar(m.Text)
		t.bVarChar(m.Server)
		t.bVarChar(m.Proc)
		if shortLine {
			t.u16(uint16(m.Line))
		} else {
			t.u32(uint32(m.Line))
		}
	})
}

// envChangeString writes an ENVCHANGE whose values are B_VARCHARs (database,
// language, packet size).
func (b *tokenBuf) envChangeString(typ byte, newValue, oldValue string) {
	b.withLength(tokEnvChange, func(t *tokenBuf) {
		t.u8(typ)
		t.bVarChar(newValue)
		t.bVarChar(oldValue)
	})
}

// envChangeBytes writes an ENVCHANGE whose values are B_VARBYTEs (collation,
// transaction descriptors, reset acknowledgement).
func (b *tokenBuf) envChangeBytes(typ byte, newValue, oldValue []byte) {
	b.withLength(tokEnvChange, func(t *tokenBuf) {
		t.u8(typ)
		t.u8(byte(len(newValue)))
		t.raw(newValue)
		t.u8(byte(len(oldValue)))
		t.raw(oldValue)
	})
}

func (b *tokenBuf) packetSizeChange(size int) {
	s := strconv.Itoa(size)
	b.envChangeString(envPacketSize, s, s)
}

// negotiateTDS is the TDS version the server answers a client with: the client's own when
// the server speaks it, else the highest the server speaks below it (MS-TDS LOGINACK:
// "the TDS version being used by the server"; SQL Server 2022 still accepts 7.1 clients).
func negotiateTDS(client uint32) uint32 {
	for _, v := range []uint32{tdsVersion74, tdsVersion73B, tdsVersion73A, tdsVersion72, tdsVersion71} {
		if client >= v {
			return v
		}
	}
	return tdsVersion71
}

// loginAck writes LOGINACK: interface, TDS version and program version are big-endian.
func (b *tokenBuf) loginAck(o Options, version uint32) {
	b.withLength(tokLoginAck, func(t *tokenBuf) {
		t.u8(loginAckSQLTSQL)
		*t = binary.BigEndian.AppendUint32(*t, version)
		t.bVarChar(progNameSQLServe)
		t.u8(o.VersionMajor)
		t.u8(o.VersionMinor)
		*t = binary.BigEndian.AppendUint16(*t, o.VersionBuild)
	})
}

func (b *tokenBuf) returnStatus(v int32) {
	b.u8(tokReturnStatus)
	b.u32(uint32(v))
}
