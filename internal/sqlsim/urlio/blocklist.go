package urlio

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"unicode/utf16"
)

// BlockListEncoding is how a Put Block List body is encoded. SQL Server's builds differ, so a
// simulated instance picks one (Config.BlockListEncoding) and the whole test suite, run
// after run, exercises each.
type BlockListEncoding string

const (
	// UTF8DeclaredUTF16 is what SQL Server 2022 CU12 and later send on Windows and Linux:
	// UTF-8 bytes behind <?xml version="1.0" encoding="utf-16"?> (WAL-G PR #1705, whose
	// UTF-16 decoder failed with EOF on these bodies).
	UTF8DeclaredUTF16 BlockListEncoding = "utf8-declared-utf16"
	// UTF16LEWithBOM is what earlier builds send: the same document in UTF-16 little
	// endian (WAL-G's proxy decoded every block list as UTF-16LE from its first release
	// until PR #1705), here with a byte-order mark.
	UTF16LEWithBOM BlockListEncoding = "utf16le-bom"
	// UTF16LE is the same without a byte-order mark: whether those builds write one is not
	// recorded anywhere public, so the simulator sends both (an assumption).
	UTF16LE BlockListEncoding = "utf16le"
	// UTF8 is UTF-8 declared as such, as Azure's SDKs send it. No SQL Server build is known
	// to; it is never picked at random, only by tests that ask for it.
	UTF8 BlockListEncoding = "utf8"
)

// SQLServerBlockListEncodings are the encodings a simulated instance picks from.
var SQLServerBlockListEncodings = []BlockListEncoding{UTF8DeclaredUTF16, UTF16LEWithBOM, UTF16LE}

// BlockListEncodingEnv, when set, overrides the random pick for every client whose Config
// does not name an encoding: to rerun a suite with the encoding a failing run logged.
const BlockListEncodingEnv = "SQLSIM_BLOCKLIST_ENCODING"

func (e BlockListEncoding) valid() bool {
	switch e {
	case UTF8DeclaredUTF16, UTF16LEWithBOM, UTF16LE, UTF8:
		return true
	}
	return false
}

// pickBlockListEncoding returns the configured encoding, else the environment's, else one of
// SQLServerBlockListEncodings drawn from seed, and where the choice came from (for the log).
func pickBlockListEncoding(configured BlockListEncoding, seed uint64) (BlockListEncoding, string, error) {
	if configured != "" {
		if !configured.valid() {
			return "", "", fmt.Errorf("urlio: unknown block-list encoding %q (use one of %v or %q)", configured, SQLServerBlockListEncodings, UTF8)
		}
		return configured, "config", nil
	}
	if v := strings.TrimSpace(os.Getenv(BlockListEncodingEnv)); v != "" {
		e := BlockListEncoding(v)
		if !e.valid() {
			return "", "", fmt.Errorf("urlio: %s=%q is not a block-list encoding (use one of %v or %q)", BlockListEncodingEnv, v, SQLServerBlockListEncodings, UTF8)
		}
		return e, BlockListEncodingEnv, nil
	}
	r := mrand.New(mrand.NewPCG(seed, 0x5eed))
	return SQLServerBlockListEncodings[r.IntN(len(SQLServerBlockListEncodings))], "seed", nil
}

// newSeed draws a seed when the configuration gives none.
func newSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return binary.LittleEndian.Uint64(b[:])
}

// encodeBlockList renders a Put Block List body naming every id as Latest.
func encodeBlockList(enc BlockListEncoding, ids []string) []byte {
	var b strings.Builder
	if enc == UTF8 {
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	} else {
		b.WriteString(`<?xml version="1.0" encoding="utf-16"?>`)
	}
	b.WriteString("<BlockList>")
	for _, id := range ids {
		b.WriteString("<Latest>" + id + "</Latest>") // base64 needs no XML escaping
	}
	b.WriteString("</BlockList>")
	switch enc {
	case UTF16LEWithBOM, UTF16LE:
		units := utf16.Encode([]rune(b.String()))
		out := make([]byte, 0, 2*len(units)+2)
		if enc == UTF16LEWithBOM {
			out = binary.LittleEndian.AppendUint16(out, 0xFEFF)
		}
		for _, u := range units {
			out = binary.LittleEndian.AppendUint16(out, u)
		}
		return out
	}
	return []byte(b.String())
}
