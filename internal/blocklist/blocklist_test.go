package blocklist

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const list = `<BlockList><Latest>AAAA</Latest><Committed> BBBB </Committed><Uncommitted>CCCC</Uncommitted></BlockList>`

func utf16Bytes(s string, bom bool, order binary.AppendByteOrder) []byte {
	var out []byte
	if bom {
		out = order.AppendUint16(out, 0xFEFF)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = order.AppendUint16(out, u)
	}
	return out
}

// Every body shape SQL Server, Azure's SDKs or the REST reference send decodes to the same
// entries; the bytes are spelled out here, not produced by the code under test.
func TestParseAcceptsEveryEncodingSQLServerSends(t *testing.T) {
	declUTF16 := `<?xml version="1.0" encoding="utf-16"?>`
	want := []Entry{{Latest, "AAAA"}, {Committed, "BBBB"}, {Uncommitted, "CCCC"}}
	for name, body := range map[string][]byte{
		"UTF-8, no declaration (REST reference)":                  []byte(list),
		"UTF-8, utf-8 declaration (SDKs)":                         []byte(`<?xml version="1.0" encoding="utf-8"?>` + list),
		"UTF-8 with BOM":                                          append([]byte{0xEF, 0xBB, 0xBF}, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+list)...),
		"UTF-8 bytes, utf-16 declaration (SQL Server 2022 CU12+)": []byte(declUTF16 + "\r\n" + list),
		"UTF-16 declaration in capitals":                          []byte(`<?xml version="1.0" encoding="UTF-16"?>` + list),
		"UTF-16LE with BOM (earlier builds)":                      utf16Bytes(declUTF16+list, true, binary.LittleEndian),
		"UTF-16LE without BOM":                                    utf16Bytes(declUTF16+list, false, binary.LittleEndian),
		"UTF-16BE with BOM":                                       utf16Bytes(declUTF16+list, true, binary.BigEndian),
		"UTF-16BE without BOM":                                    utf16Bytes(declUTF16+list, false, binary.BigEndian),
		"UTF-16LE, no declaration":                                utf16Bytes(list, true, binary.LittleEndian),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(body, 10)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func TestParseRefusesWhatIsNotABlockList(t *testing.T) {
	for name, body := range map[string][]byte{
		"empty":               nil,
		"other root":          []byte(`<Blocks><Latest>AAAA</Latest></Blocks>`),
		"unknown element":     []byte(`<BlockList><Newest>AAAA</Newest></BlockList>`),
		"unclosed":            []byte(`<BlockList><Latest>AAAA</Latest>`),
		"odd UTF-16 length":   append(utf16Bytes(list, true, binary.LittleEndian), '>'),
		"lone surrogate":      append(utf16Bytes("<BlockList>", true, binary.LittleEndian), 0x00, 0xD8),
		"UTF-16 read as text": []byte("\xff\xfe<\x00"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(body, 10)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
	_, err := Parse([]byte(list), 2)
	assert.ErrorIs(t, err, ErrTooLong)
}
