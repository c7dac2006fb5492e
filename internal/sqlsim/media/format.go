package media

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
)

// Wire constants of format version 1. All integers are little-endian.
const (
	formatVersion = 1

	magic     = "SQLVBAK\x00"
	endMagic  = "SQLVEND\x00"
	headFixed = 24 // magic, version u16, family u16, families u16, reserved u16, header length u32, CRC u32
	footerLen = 16 // trailer length u32, trailer CRC u32, end magic

	chunkHeadLen = 32
	chunkMarker  = 0x4b4e4843 // "CHNK"
	flagZstd     = 1

	// Page item: tag, id, version, [CRC32C], page. Log item: tag, LSN, time, kind, page id,
	// payload.
	tagPage     = 'P'
	tagLog      = 'L'
	pageItemFix = 1 + 8 + 8
	logItemLen  = LogItemBytes

	defaultChunkSize = 1 << 20
	maxChunkSize     = 64 << 20
	maxHeaderLen     = 16 << 20 // headers with ~1000 files are far below this
	maxTrailerLen    = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b ...[]byte) uint32 {
	var c uint32
	for _, p := range b {
		c = crc32.Update(c, castagnoli, p)
	}
	return c
}

// chunkHead is the fixed header before every chunk's payload.
type chunkHead struct {
	flags     uint8
	seq       uint64
	rawLen    uint32
	storedLen uint32
	crc       uint32 // of the stored payload
}

func (h chunkHead) put(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], chunkMarker)
	b[4], b[5], b[6], b[7] = h.flags, 0, 0, 0
	binary.LittleEndian.PutUint64(b[8:], h.seq)
	binary.LittleEndian.PutUint32(b[16:], h.rawLen)
	binary.LittleEndian.PutUint32(b[20:], h.storedLen)
	binary.LittleEndian.PutUint32(b[24:], h.crc)
	binary.LittleEndian.PutUint32(b[28:], crc(b[:28]))
}

// parseChunkHead decodes b (chunkHeadLen bytes); ok is false when the header is damaged.
func parseChunkHead(b []byte) (h chunkHead, ok bool) {
	if binary.LittleEndian.Uint32(b[0:]) != chunkMarker || crc(b[:28]) != binary.LittleEndian.Uint32(b[28:]) {
		return h, false
	}
	return chunkHead{
		flags:     b[4],
		seq:       binary.LittleEndian.Uint64(b[8:]),
		rawLen:    binary.LittleEndian.Uint32(b[16:]),
		storedLen: binary.LittleEndian.Uint32(b[20:]),
		crc:       binary.LittleEndian.Uint32(b[24:]),
	}, true
}

// wireHeader is the JSON of the head: identical in every stripe of a media set.
type wireHeader struct {
	Format    int
	ChunkSize int
	Header    Header
}

// wireTrailer is the JSON of a stripe's trailer.
type wireTrailer struct {
	Trailer      Trailer
	MediaSetGUID string
	Family       int
	Chunks       int64 // in this stripe
	TotalChunks  int64
	DataEnd      int64  // offset where this stripe's chunks end and the trailer begins
	StreamDigest string // hex SHA-256 over the SHA-256 of each raw chunk payload
}

func pageItemLen(checksum bool) int {
	if checksum {
		return pageItemFix + 4 + content.PageSize
	}
	return pageItemFix + content.PageSize
}
