package content

import (
	"encoding/binary"
	"math/bits"
)

// PageSize is the size of a data page, as in SQL Server.
const PageSize = 8192

// PageHeaderSize is the size of the page header PageBytes writes before the rows.
const PageHeaderSize = 96

// LogPayloadSize is the size of the payload LogPayload generates for every record.
const LogPayloadSize = 256

// rowWords is the length of one generated row in 8-byte words.
const rowWords = 8

// printable maps each byte of a random word to '0'..'o' (6 bits of entropy per byte), so
// row text compresses like real character data instead of like noise.
const (
	printMask = 0x3f3f3f3f3f3f3f3f
	printBase = 0x3030303030303030
)

// rowTemplates are the constant parts of rows (two words each); a row picks one with two
// random bits. Repeated text is what makes a page compress to roughly half.
var rowTemplates = [4][2]uint64{
	words16("|status=ACTIVE |"),
	words16("|status=CLOSED |"),
	words16("|type=INVOICE  |"),
	words16("|type=PAYMENT  |"),
}

func words16(s string) [2]uint64 {
	var b [16]byte
	copy(b[:], s)
	return [2]uint64{binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])}
}

// headerText fills the free part of the page header; constant, like most header fields.
var headerText = []byte("m_type=1 m_level=0 m_flagBits=0x200 m_objId=245575913 m_indexId=1 ")

// wyrand is a tiny, fast PRNG (wyhash's generator). Not for security: it only has to make
// page content look random and be reproducible.
type wyrand uint64

func (r *wyrand) next() uint64 {
	*r += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(uint64(*r), uint64(*r)^0xe7037ed1a0b428db)
	return hi ^ lo
}

// fmix64 is MurmurHash3's finalizer: a bijection on uint64 with full avalanche. Being a
// bijection matters for the digest (see hash.go).
func fmix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// pageSeed derives the generator state for one page version.
func pageSeed(seed uint64, id int64, v LSN) uint64 {
	return fmix64(fmix64(fmix64(seed^0x5151)^uint64(id)) ^ uint64(v))
}

// PageBytes fills dst[:PageSize] with the content of page id at version v of a database
// with this seed. The same arguments always give the same bytes, so backups need not store
// pages to be verified and a restore can check every page it reads.
//
// Layout: a 96-byte header (seed, id, version, a header check word, constant text), then
// 64-byte rows of a row number word, five words of random printable text and a two-word
// constant template. It compresses with zstd level 3 to roughly half.
func PageBytes(dst []byte, seed uint64, id int64, v LSN) {
	dst = dst[:PageSize]
	s := pageSeed(seed, id, v)
	binary.LittleEndian.PutUint64(dst[0:], seed)
	binary.LittleEndian.PutUint64(dst[8:], uint64(id))
	binary.LittleEndian.PutUint64(dst[16:], uint64(v))
	binary.LittleEndian.PutUint64(dst[24:], s)
	copy(dst[32:PageHeaderSize], headerText)

	r := wyrand(s)
	body := dst[PageHeaderSize:]
	row := uint64(0)
	// Whole rows; the tail of the page (less than a row) is written word by word below.
	for len(body) >= rowWords*8 {
		w := r.next()
		t := &rowTemplates[w>>62]
		binary.LittleEndian.PutUint64(body[0:], 0x3a574f52|row<<32) // "ROW:" + row number
		binary.LittleEndian.PutUint64(body[8:], w&printMask+printBase)
		binary.LittleEndian.PutUint64(body[16:], r.next()&printMask+printBase)
		binary.LittleEndian.PutUint64(body[24:], r.next()&printMask+printBase)
		binary.LittleEndian.PutUint64(body[32:], r.next()&printMask+printBase)
		binary.LittleEndian.PutUint64(body[40:], r.next()&printMask+printBase)
		binary.LittleEndian.PutUint64(body[48:], t[0])
		binary.LittleEndian.PutUint64(body[56:], t[1])
		body = body[rowWords*8:]
		row++
	}
	// The remainder stands for the slot array: two-byte offsets of the rows.
	for i := 0; i+1 < len(body); i += 2 {
		binary.LittleEndian.PutUint16(body[i:], uint16(PageHeaderSize+(i/2)*rowWords*8))
	}
}

// LogPayload fills dst[:LogPayloadSize] with the payload of log record r of a database with
// this seed: a header repeating the record's fields and printable filler.
func LogPayload(dst []byte, seed uint64, r Record) {
	dst = dst[:LogPayloadSize]
	binary.LittleEndian.PutUint64(dst[0:], uint64(r.LSN))
	binary.LittleEndian.PutUint64(dst[8:], uint64(r.Time.UnixNano()))
	binary.LittleEndian.PutUint64(dst[16:], uint64(r.PageID))
	binary.LittleEndian.PutUint64(dst[24:], uint64(r.Kind))
	g := wyrand(fmix64(fmix64(seed^0x1061) ^ uint64(r.LSN)))
	for i := 32; i < LogPayloadSize; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], g.next()&printMask+printBase)
	}
}
