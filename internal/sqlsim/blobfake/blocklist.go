package blobfake

import (
	"encoding/binary"
	"encoding/xml"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The fake decodes Put Block List bodies itself rather than with the product's decoder
// (internal/blocklist): the simulator imports no product package, so a mistake in the
// product's decoder shows up as a disagreement in the conformance suite
// (internal/testworld/blobconformance) instead of being shared by both sides.
//
// What it accepts is what Azure and SQL Server's blob client need (FIDELITY.md, "Put Block
// List body"): UTF-8 with or without a BOM, whatever the declaration names (SQL Server
// 2022 CU12+ sends UTF-8 behind encoding="utf-16"), and UTF-16 in either byte order with or
// without a BOM (earlier builds).

// listedBlock is one id of a Put Block List body and the list it names.
type listedBlock struct {
	list string // "Latest", "Committed" or "Uncommitted"
	id   string
}

// blockListBody is the body's XML: the three element names may interleave, in the order
// the blob's blocks are to be.
type blockListBody struct {
	XMLName xml.Name `xml:"BlockList"`
	Entries []struct {
		XMLName xml.Name
		ID      string `xml:",chardata"`
	} `xml:",any"`
}

// parseBlockList returns the body's ids in order, errInvalidBlockList for a body Azure
// would refuse, or errBlockListTooLong past max ids.
func parseBlockList(body []byte, max int) ([]listedBlock, *apiError) {
	text, ok := asUTF8(body)
	if !ok {
		return nil, errInvalidBlockList
	}
	// The declaration's encoding name is not trusted (see above): drop the declaration
	// and read the text as the bytes say it is.
	if strings.HasPrefix(text, "<?xml") {
		end := strings.Index(text, "?>")
		if end < 0 {
			return nil, errInvalidBlockList
		}
		text = text[end+2:]
	}
	var doc blockListBody
	if err := xml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, errInvalidBlockList
	}
	if len(doc.Entries) > max {
		return nil, errBlockListTooLong
	}
	out := make([]listedBlock, 0, len(doc.Entries))
	for _, e := range doc.Entries {
		switch e.XMLName.Local {
		case "Latest", "Committed", "Uncommitted":
		default:
			return nil, errInvalidBlockList
		}
		out = append(out, listedBlock{list: e.XMLName.Local, id: strings.TrimSpace(e.ID)})
	}
	return out, nil
}

// asUTF8 returns the body as UTF-8 text, telling UTF-16 from its bytes: a BOM, else the
// first character '<' with a zero byte beside it (XML 1.0, Appendix F).
func asUTF8(b []byte) (string, bool) {
	var order binary.ByteOrder
	switch {
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		b = b[3:]
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		order, b = binary.LittleEndian, b[2:]
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		order, b = binary.BigEndian, b[2:]
	case len(b) >= 2 && b[0] == '<' && b[1] == 0:
		order = binary.LittleEndian
	case len(b) >= 2 && b[0] == 0 && b[1] == '<':
		order = binary.BigEndian
	}
	if order == nil {
		return string(b), utf8.Valid(b)
	}
	if len(b)%2 != 0 {
		return "", false
	}
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i < len(b); i += 2 {
		units = append(units, order.Uint16(b[i:]))
	}
	var sb strings.Builder
	for _, r := range utf16.Decode(units) {
		if r == utf8.RuneError { // an unpaired surrogate is not text
			return "", false
		}
		sb.WriteRune(r)
	}
	return sb.String(), true
}
