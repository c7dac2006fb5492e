package tds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
)

// Packet types (MS-TDS 2.2.3.1.1).
const (
	pktSQLBatch    = 0x01
	pktRPC         = 0x03
	pktReply       = 0x04
	pktAttention   = 0x06
	pktTransMgr    = 0x0E
	pktLogin7      = 0x10
	pktPrelogin    = 0x12
	pktTLSRecord   = 0x16 // first byte of a TLS ClientHello (encrypt=strict clients)
	headerSize     = 8
	defaultPktSize = 4096
	minPktSize     = 512
	maxPktSize     = 32767
)

// Packet status bits.
const (
	statusEOM             = 0x01
	statusResetConn       = 0x08
	statusResetConnNoTran = 0x10
)

// maxMessageSize bounds what one client message may occupy in memory; a larger
// message means a broken or hostile client, not a real request to the simulator.
const maxMessageSize = 64 << 20

// message is one client request: the packets up to end-of-message, concatenated.
type message struct {
	typ    byte
	status byte // status of the first packet (carries RESETCONNECTION)
	data   []byte
}

// readMessage reads packets until one has the end-of-message bit.
func readMessage(r io.Reader) (message, error) {
	var m message
	var hdr [headerSize]byte
	for first := true; ; first = false {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if !first && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return m, err
		}
		if first && hdr[0] == pktTLSRecord {
			return m, errors.New("tds: client started TLS before PRELOGIN (encrypt=strict is not supported)")
		}
		size := int(binary.BigEndian.Uint16(hdr[2:4]))
		if size < headerSize {
			return m, fmt.Errorf("tds: packet length %d is shorter than its header", size)
		}
		if first {
			m.typ, m.status = hdr[0], hdr[1]
		} else if hdr[0] != m.typ {
			return m, fmt.Errorf("tds: packet type changed from %#x to %#x inside one message", m.typ, hdr[0])
		}
		if len(m.data)+size > maxMessageSize {
			return m, fmt.Errorf("tds: message larger than %d bytes", maxMessageSize)
		}
		start := len(m.data)
		m.data = append(m.data, make([]byte, size-headerSize)...)
		if _, err := io.ReadFull(r, m.data[start:]); err != nil {
			return m, err
		}
		if hdr[1]&statusEOM != 0 {
			return m, nil
		}
	}
}

// packetWriter splits one server message (always type REPLY) into packets of the
// negotiated size. Bytes are collected with append and only hit the socket on
// flush or when a full packet is ready.
type packetWriter struct {
	w       io.Writer
	size    int // negotiated packet size including the header
	spid    uint16
	seq     byte
	pending []byte
}

func (p *packetWriter) write(b []byte) error {
	p.pending = append(p.pending, b...)
	// Send full packets as they fill up so that big result sets don't pile up in memory.
	for len(p.pending) > p.size-headerSize {
		if err := p.sendPacket(p.pending[:p.size-headerSize], false); err != nil {
			return err
		}
		p.pending = p.pending[p.size-headerSize:]
	}
	return nil
}

// flush sends everything written so far. With final=false the last packet goes out
// with status 0 (more to come) so that the client sees e.g. progress messages now,
// while the statement still runs. With final=true the message ends.
func (p *packetWriter) flush(final bool) error {
	for {
		n := min(len(p.pending), p.size-headerSize)
		last := n == len(p.pending)
		if n == 0 && !final {
			return nil
		}
		if err := p.sendPacket(p.pending[:n], final && last); err != nil {
			return err
		}
		p.pending = p.pending[n:]
		if last {
			p.pending = nil
			if final {
				p.seq = 0
			}
			return nil
		}
	}
}

func (p *packetWriter) sendPacket(payload []byte, eom bool) error {
	buf := make([]byte, headerSize+len(payload))
	buf[0] = pktReply
	if eom {
		buf[1] = statusEOM
	}
	binary.BigEndian.PutUint16(buf[2:4], uint16(len(buf)))
	binary.BigEndian.PutUint16(buf[4:6], p.spid)
	p.seq++ // packet ids start at 1 and wrap, as the spec allows
	buf[6] = p.seq
	copy(buf[headerSize:], payload)
	_, err := p.w.Write(buf)
	return err
}

// byteReader decodes a client payload. The first short read sets err and every later
// call returns zero values, so parsers check err once at the end.
type byteReader struct {
	b   []byte
	off int
	err error
}

func (r *byteReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.off+n > len(r.b) {
		r.err = fmt.Errorf("tds: truncated payload (need %d bytes at offset %d of %d)", n, r.off, len(r.b))
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *byteReader) remaining() int { return len(r.b) - r.off }

func (r *byteReader) u8() byte {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *byteReader) u16() uint16 {
	if s := r.take(2); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

func (r *byteReader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *byteReader) u64() uint64 {
	if s := r.take(8); s != nil {
		return binary.LittleEndian.Uint64(s)
	}
	return 0
}

// ucs2 reads n UTF-16 code units.
func (r *byteReader) ucs2(n int) string { return decodeUCS2(r.take(2 * n)) }

// bVarChar reads a B_VARCHAR: a one-byte character count, then UTF-16LE.
func (r *byteReader) bVarChar() string { return r.ucs2(int(r.u8())) }

// skipAllHeaders skips the ALL_HEADERS block that TDS 7.2+ puts in front of SQL
// batch, RPC and transaction manager requests (transaction descriptor, trace id...).
func (r *byteReader) skipAllHeaders() {
	total := int(r.u32())
	if total < 4 {
		r.err = fmt.Errorf("tds: ALL_HEADERS length %d too short", total)
		return
	}
	r.take(total - 4)
}

func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func encodeUCS2(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}
