// Package blocklist reads the body of an Azure Put Block List request in every encoding SQL
// Server's BACKUP TO URL client has been seen to send, so that the agent's blob endpoint and
// the simulator's fake Azure accept the same bodies.
//
// What arrives (outside evidence, see internal/sqlsim/FIDELITY.md):
//   - SQL Server 2022 CU12 and later (Windows and Linux): UTF-8 bytes whose XML declaration
//     says encoding="utf-16" (WAL-G PR #1705, which replaced a UTF-16 decoder that failed on
//     those bodies with EOF).
//   - Earlier builds: UTF-16 little-endian bodies (WAL-G's SQL Server proxy decoded every
//     block list as UTF-16LE from its first release until that PR). Whether a byte-order mark
//     comes first is not recorded, so both forms are accepted.
//   - Azure's SDKs and the REST reference: UTF-8, with or without a declaration.
//
// Azure itself must accept all of these, since SQL Server backs up to it. The encoding is
// detected from the bytes as the XML specification's Appendix F describes (byte-order mark,
// else the pattern of "<?" in UTF-16); the declared encoding only names a member of the
// detected family and is otherwise ignored: block ids are base64 and the element names
// ASCII, so every ASCII-compatible reading of a valid body is the same. Standard library
// only (unicode/utf16): no dependency for the two transforms needed.
package blocklist

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Kinds of entries, as the XML element names them.
const (
	Latest      = "Latest"
	Committed   = "Committed"
	Uncommitted = "Uncommitted"
)

// Entry is one block id of a block list and the list it is taken from.
type Entry struct {
	Kind string // Latest, Committed or Uncommitted
	ID   string // base64, as sent (surrounding white space removed)
}

// Errors Parse returns; Azure answers both with 400.
var (
	// ErrMalformed: not a <BlockList> document of Latest/Committed/Uncommitted elements.
	ErrMalformed = errors.New("blocklist: malformed block list")
	// ErrTooLong: more entries than the caller allows (Azure: 50,000).
	ErrTooLong = errors.New("blocklist: too many blocks")
)

// Parse decodes a Put Block List body of at most limit entries. Text between the elements
// is ignored, as WAL-G's proxy ignores it.
func Parse(body []byte, limit int) ([]Entry, error) {
	text, err := toUTF8(body)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(text))
	// The bytes are UTF-8 by now, whatever the declaration says (see the package comment).
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var out []Entry
	inList := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, ErrMalformed
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !inList {
				if t.Name.Local != "BlockList" {
					return nil, ErrMalformed
				}
				inList = true
				continue
			}
			switch t.Name.Local {
			case Latest, Committed, Uncommitted:
			default:
				return nil, ErrMalformed
			}
			var id string
			if err := dec.DecodeElement(&id, &t); err != nil {
				return nil, ErrMalformed
			}
			out = append(out, Entry{Kind: t.Name.Local, ID: strings.TrimSpace(id)})
			if len(out) > limit {
				return nil, ErrTooLong
			}
		}
	}
	if !inList {
		return nil, ErrMalformed
	}
	return out, nil
}

// toUTF8 returns the body as UTF-8: a UTF-8 byte-order mark is dropped, UTF-16 (marked, or
// recognised by "<" or "<?" as 16-bit units) is transcoded, anything else is taken as is.
func toUTF8(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return b[3:], nil
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return fromUTF16(b[2:], false)
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return fromUTF16(b[2:], true)
	case len(b) >= 2 && b[0] == '<' && b[1] == 0:
		return fromUTF16(b, false)
	case len(b) >= 2 && b[0] == 0 && b[1] == '<':
		return fromUTF16(b, true)
	}
	return b, nil
}

func fromUTF16(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, ErrMalformed
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		hi, lo := b[2*i+1], b[2*i]
		if bigEndian {
			hi, lo = lo, hi
		}
		units[i] = uint16(hi)<<8 | uint16(lo)
	}
	out := make([]byte, 0, len(units))
	for _, r := range utf16.Decode(units) {
		if r == utf8.RuneError {
			return nil, ErrMalformed // a lone surrogate: not text
		}
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}
