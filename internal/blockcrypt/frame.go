package blockcrypt

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Frame layout (all integers big-endian):
//
//	off len
//	 0   4  magic "SQVB"
//	 4   1  version (1)
//	 5   1  flags: bit 0 = payload is zstd-compressed; other bits must be zero
//	 6   2  reserved, zero
//	 8   4  plaintext length
//	12  12  GCM nonce (random)
//	24   …  ciphertext of the payload, then the 16-byte GCM tag
//
// The whole 24-byte header is part of the GCM associated data (followed by the caller's aad),
// so flipping a flag or the length is caught by the tag like any other tamper.
const (
	HeaderSize = 24
	TagSize    = 16
	// MaxOverhead is the most a frame can exceed its plaintext by: compression is only kept
	// when it shrinks the block, so the worst case is header plus tag.
	MaxOverhead = HeaderSize + TagSize
	// MaxPlainSize is the largest block Seal accepts (the length field is 32 bits).
	MaxPlainSize = math.MaxUint32

	frameVersion   = 1
	flagCompressed = 1 << 0
	nonceSize      = 12
)

var frameMagic = [4]byte{'S', 'Q', 'V', 'B'}

// ErrAuth means a frame failed authentication: it was tampered with, sealed under another
// key, or opened with other associated data (e.g. a block moved to another blob or id).
var ErrAuth = errors.New("blockcrypt: block failed authentication (tampered, wrong key, or moved)")

// ErrFrame means the bytes are not a well-formed frame (too short, unknown magic, version or
// flags, inconsistent length). Every ErrFrame also matches ErrAuth under errors.Is: a frame
// that cannot be parsed is by definition not one sealed under this key, so callers that only
// ask "can I trust this block?" need test ErrAuth alone.
var ErrFrame error = &alsoErr{msg: "blockcrypt: malformed frame", also: ErrAuth}

type alsoErr struct {
	msg  string
	also error
}

func (e *alsoErr) Error() string        { return e.msg }
func (e *alsoErr) Is(target error) bool { return target == e.also }

// One encoder and one decoder serve every goroutine: EncodeAll/DecodeAll are safe for
// concurrent use and keep internal pools of per-call state sized to GOMAXPROCS, which is the
// reuse this hot path needs (a fresh zstd encoder costs megabytes of tables).
var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
	zstdErr  error
)

func codecs() (*zstd.Encoder, *zstd.Decoder, error) {
	zstdOnce.Do(func() {
		// CRC off: the GCM tag already authenticates every byte, a second checksum is waste.
		zstdEnc, zstdErr = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false),
			zstd.WithZeroFrames(true))
		if zstdErr != nil {
			return
		}
		zstdDec, zstdErr = zstd.NewReader(nil,
			zstd.IgnoreChecksum(true),
			zstd.WithDecoderConcurrency(0))
	})
	return zstdEnc, zstdDec, zstdErr
}

// scratch holds decrypted-but-compressed payloads between GCM and zstd in Open.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// Seal appends to dst the frame of one block: zstd-compressed when compress is set and that
// makes the block strictly smaller, then encrypted with AES-256-GCM under a fresh random
// nonce, with aad (the caller's binding of the block to its place, e.g. blob name and block
// id) authenticated but not stored. plain and dst must not overlap. The frame is at most
// len(plain)+MaxOverhead bytes.
//
// Random 96-bit nonces keep the usual GCM bound of 2^32 frames per key; at SQL Server's
// 1–4 MiB transfer sizes that is petabytes per key.
func (k *Key) Seal(dst, plain, aad []byte, compress bool) ([]byte, error) {
	if uint64(len(plain)) > MaxPlainSize {
		return nil, fmt.Errorf("blockcrypt: block of %d bytes exceeds %d", len(plain), uint64(MaxPlainSize))
	}
	start := len(dst)
	dst = grow(dst, HeaderSize+len(plain)+TagSize)
	bodyAt := start + HeaderSize
	payloadLen := len(plain)
	var flags byte
	if compress && len(plain) > 0 {
		enc, _, err := codecs()
		if err != nil {
			return nil, fmt.Errorf("blockcrypt: zstd: %w", err)
		}
		out := enc.EncodeAll(plain, dst[:bodyAt])
		if n := len(out) - bodyAt; n < len(plain) {
			if &out[0] != &dst[0] { // the encoder grew a new array: bring the bytes home
				copy(dst[bodyAt:], out[bodyAt:])
			}
			payloadLen, flags = n, flagCompressed
		}
	}
	if flags&flagCompressed == 0 {
		copy(dst[bodyAt:], plain)
	}
	hdr := dst[start:bodyAt]
	copy(hdr[0:4], frameMagic[:])
	hdr[4] = frameVersion
	hdr[5] = flags
	hdr[6], hdr[7] = 0, 0
	binary.BigEndian.PutUint32(hdr[8:12], uint32(len(plain)))
	nonce := hdr[12:24]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("blockcrypt: nonce: %w", err)
	}
	ad := fullAAD(hdr, aad)
	// In-place: the payload already sits right after the header, where Seal appends.
	return k.aead.Seal(dst[:bodyAt], nonce, dst[bodyAt:bodyAt+payloadLen], ad), nil
}

// Open authenticates and decrypts frame (decompressing if needed) and appends the plaintext
// to dst. aad must equal what Seal was given. Errors: ErrFrame (malformed) or ErrAuth.
func (k *Key) Open(dst, frame, aad []byte) ([]byte, error) {
	plainLen, flags, err := parseHeader(frame)
	if err != nil {
		return nil, err
	}
	hdr, nonce, ct := frame[:HeaderSize], frame[12:HeaderSize], frame[HeaderSize:]
	payloadLen := len(ct) - TagSize
	ad := fullAAD(hdr, aad)
	if flags&flagCompressed == 0 {
		start := len(dst)
		dst = grow(dst, payloadLen)
		out, err := k.aead.Open(dst[:start], nonce, ct, ad)
		if err != nil {
			return nil, ErrAuth
		}
		return out, nil
	}
	bufp := scratch.Get().(*[]byte)
	defer scratch.Put(bufp)
	payload, err := k.aead.Open((*bufp)[:0], nonce, ct, ad)
	if err != nil {
		return nil, ErrAuth
	}
	*bufp = payload[:0]
	_, dec, err := codecs()
	if err != nil {
		return nil, fmt.Errorf("blockcrypt: zstd: %w", err)
	}
	start := len(dst)
	dst = grow(dst, plainLen)
	out, err := dec.DecodeAll(payload, dst[:start])
	if err != nil {
		// Authenticated yet undecodable: our own writer produced it, so it is a format
		// problem, not tamper.
		return nil, fmt.Errorf("%w: zstd payload: %v", ErrFrame, err)
	}
	if len(out)-start != plainLen {
		return nil, fmt.Errorf("%w: decompressed to %d bytes, header says %d", ErrFrame, len(out)-start, plainLen)
	}
	return out, nil
}

// PlainLen reports the plaintext length a frame claims, without authenticating it (use it
// only to size buffers).
func PlainLen(frame []byte) (int, error) {
	n, _, err := parseHeader(frame)
	return n, err
}

func parseHeader(frame []byte) (plainLen int, flags byte, err error) {
	if len(frame) < HeaderSize+TagSize {
		return 0, 0, fmt.Errorf("%w: %d bytes is shorter than header and tag", ErrFrame, len(frame))
	}
	if [4]byte(frame[0:4]) != frameMagic {
		return 0, 0, fmt.Errorf("%w: bad magic", ErrFrame)
	}
	if frame[4] != frameVersion {
		return 0, 0, fmt.Errorf("%w: version %d, this build reads %d", ErrFrame, frame[4], frameVersion)
	}
	flags = frame[5]
	if flags&^flagCompressed != 0 || frame[6] != 0 || frame[7] != 0 {
		return 0, 0, fmt.Errorf("%w: unknown flags", ErrFrame)
	}
	plainLen = int(binary.BigEndian.Uint32(frame[8:12]))
	payloadLen := len(frame) - HeaderSize - TagSize
	switch {
	case flags&flagCompressed == 0 && payloadLen != plainLen:
		return 0, 0, fmt.Errorf("%w: stored payload is %d bytes, header says %d", ErrFrame, payloadLen, plainLen)
	case flags&flagCompressed != 0 && payloadLen >= plainLen:
		// Seal only keeps compression that shrinks the block.
		return 0, 0, fmt.Errorf("%w: compressed payload not smaller than plaintext", ErrFrame)
	}
	return plainLen, flags, nil
}

func fullAAD(hdr, aad []byte) []byte {
	ad := make([]byte, 0, len(hdr)+len(aad))
	return append(append(ad, hdr...), aad...)
}

// grow extends b by n bytes (contents of the new bytes unspecified).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}
