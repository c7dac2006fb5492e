package tds

import (
	"encoding/binary"
	"fmt"
)

// LoginRequest is what a client sent in LOGIN7.
type LoginRequest struct {
	User, Password, Database, AppName, HostName, ServerName, Language string
	PacketSize                                                        uint32
	// TDSVersion is the highest TDS version the client speaks (LOGIN7's TDSVersion, e.g.
	// 0x74000004 for 7.4, 0x71000001 for 7.1).
	TDSVersion uint32
}

// PRELOGIN option tokens and encryption values (MS-TDS 2.2.6.5).
const (
	preVersion    = 0x00
	preEncryption = 0x01
	preInstOpt    = 0x02
	preThreadID   = 0x03
	preMARS       = 0x04
	preTerminator = 0xFF

	encryptOff    = 0x00
	encryptOn     = 0x01
	encryptNotSup = 0x02
	encryptReq    = 0x03
)

// parsePrelogin returns the client's options by token.
func parsePrelogin(data []byte) (map[byte][]byte, error) {
	opts := map[byte][]byte{}
	for i := 0; ; i += 5 {
		if i >= len(data) {
			return nil, fmt.Errorf("tds: PRELOGIN without terminator")
		}
		if data[i] == preTerminator {
			return opts, nil
		}
		if i+5 > len(data) {
			return nil, fmt.Errorf("tds: truncated PRELOGIN option")
		}
		off := int(binary.BigEndian.Uint16(data[i+1:]))
		n := int(binary.BigEndian.Uint16(data[i+3:]))
		if off+n > len(data) {
			return nil, fmt.Errorf("tds: PRELOGIN option %d points outside the packet", data[i])
		}
		opts[data[i]] = data[off : off+n]
	}
}

// preloginReply answers with our version, no encryption (we have no TLS; encrypt=disable
// clients go on in clear text, clients that require encryption give up on their own),
// no instance check, no MARS.
func preloginReply(o Options) []byte {
	version := []byte{o.VersionMajor, o.VersionMinor, byte(o.VersionBuild >> 8), byte(o.VersionBuild), 0, 0}
	// THREADID is 4 zero bytes rather than empty: go-mssqldb rejects an empty option whose
	// offset would equal the packet length.
	fields := []struct {
		token byte
		value []byte
	}{
		{preVersion, version},
		{preEncryption, []byte{encryptNotSup}},
		{preInstOpt, []byte{0}},
		{preThreadID, []byte{0, 0, 0, 0}},
		{preMARS, []byte{0}},
	}
	var head, body []byte
	offset := 5*len(fields) + 1
	for _, f := range fields {
		head = append(head, f.token)
		head = binary.BigEndian.AppendUint16(head, uint16(offset+len(body)))
		head = binary.BigEndian.AppendUint16(head, uint16(len(f.value)))
		body = append(body, f.value...)
	}
	head = append(head, preTerminator)
	return append(head, body...)
}

// LOGIN7 fixed part: 36 bytes of fields, then offset/length pairs (MS-TDS 2.2.6.4).
const (
	login7FixedSize  = 94
	login7FExtension = 0x10 // OptionFlags3: the Extension offset points at a FeatureExt block
)

// parseLogin7 decodes LOGIN7. Strings are referenced by (offset, length in characters)
// pairs relative to the start of the record.
func parseLogin7(data []byte) (LoginRequest, error) {
	var req LoginRequest
	if len(data) < login7FixedSize {
		return req, fmt.Errorf("tds: LOGIN7 of %d bytes is too short", len(data))
	}
	req.TDSVersion = binary.LittleEndian.Uint32(data[4:])
	req.PacketSize = binary.LittleEndian.Uint32(data[8:])
	optionFlags3 := data[27]
	str := func(at int, mangled bool) (string, error) {
		off := int(binary.LittleEndian.Uint16(data[at:]))
		n := 2 * int(binary.LittleEndian.Uint16(data[at+2:]))
		if off+n > len(data) {
			return "", fmt.Errorf("tds: LOGIN7 field at %d points outside the record", at)
		}
		b := data[off : off+n]
		if mangled {
			b = unmanglePassword(b)
		}
		return decodeUCS2(b), nil
	}
	fields := []struct {
		at      int
		dst     *string
		mangled bool
	}{
		{36, &req.HostName, false},
		{40, &req.User, false},
		{44, &req.Password, true},
		{48, &req.AppName, false},
		{52, &req.ServerName, false},
		{64, &req.Language, false},
		{68, &req.Database, false},
	}
	for _, f := range fields {
		s, err := str(f.at, f.mangled)
		if err != nil {
			return req, err
		}
		*f.dst = s
	}
	if optionFlags3&login7FExtension != 0 {
		if err := checkFeatureExt(data); err != nil {
			return req, err
		}
	}
	return req, nil
}

// checkFeatureExt walks the FeatureExt block (column encryption, fed auth, UTF-8...)
// only to validate it: the simulator acknowledges no feature, which tells the client
// that none is in effect.
func checkFeatureExt(data []byte) error {
	extOff := int(binary.LittleEndian.Uint16(data[56:]))
	if extOff+4 > len(data) {
		return fmt.Errorf("tds: LOGIN7 extension offset outside the record")
	}
	r := &byteReader{b: data, off: int(binary.LittleEndian.Uint32(data[extOff:]))}
	if r.off > len(data) {
		return fmt.Errorf("tds: LOGIN7 FeatureExt offset outside the record")
	}
	for r.err == nil {
		id := r.u8()
		if id == 0xFF {
			break
		}
		r.take(int(r.u32()))
	}
	return r.err
}

// unmanglePassword undoes the client's obfuscation: each byte had its nibbles swapped
// and was XORed with 0xA5.
func unmanglePassword(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		c ^= 0xA5
		out[i] = c<<4 | c>>4
	}
	return out
}

// clampPacketSize applies the protocol's bounds to the size the client asked for.
func clampPacketSize(n uint32) int {
	switch {
	case n == 0:
		return defaultPktSize
	case n < minPktSize:
		return minPktSize
	case n > maxPktSize:
		return maxPktSize
	}
	return int(n)
}
