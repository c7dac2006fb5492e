// Package blockcrypt seals and opens the vault's blocks: optional zstd compression followed
// by AES-256-GCM, in a small self-describing frame. It also owns the vault key and its key
// file, and the MAC that authenticates the vault's catalog (stripe indexes, manifests,
// summaries) under a subkey derived from the vault key (Key.MAC). It knows nothing about
// blobs or stripes: callers pass the associated data that binds a frame to its place (blob
// name and block id), so a frame copied elsewhere fails to open, and the bytes to MAC.
package blockcrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// KeySize is the length of a vault key: AES-256.
const KeySize = 32

// keyIDContext domain-separates the key id hash, so the public id can never be confused with
// (or used as) a hash of the key computed for any other purpose.
const keyIDContext = "sqlvault key id v1"

// macKeyLabel is the HKDF-SHA256 info that derives the catalog MAC key from a vault key. One
// derived key serves every catalog object; each kind of object is told apart by the label
// its MAC starts with (Key.MAC), so a MAC of one kind never verifies as another.
const macKeyLabel = "sqlvault manifest mac v1"

// MACSize is the length of a catalog MAC (HMAC-SHA256).
const MACSize = sha256.Size

// Key file errors. LoadKeyFile wraps exactly one of them, with the path (never the contents).
var (
	ErrKeyFileMissing = errors.New("blockcrypt: key file does not exist")
	ErrKeyFileExists  = errors.New("blockcrypt: key file already exists")
	ErrKeySize        = errors.New("blockcrypt: key must be 32 bytes (AES-256)")
	ErrKeyEncoding    = errors.New("blockcrypt: key file is not one line of standard base64")
	ErrKeyFileTooOpen = errors.New("blockcrypt: key file is readable or writable by group or others")
	keyFileMode       = fs.FileMode(0o600)
	keyFileForbidden  = fs.FileMode(0o077)
	maxKeyFileSize    = 1024 // a key file is 45 bytes; anything much larger is not one
)

// Key is the vault encryption key (AES-256). It deliberately keeps only the cipher, the
// derived MAC key and the public id, not the raw bytes, and its String/GoString print the id
// only, so a Key that ends up in a log line or an error leaks nothing.
type Key struct {
	aead cipher.AEAD
	mac  []byte // HKDF-SHA256(key, info macKeyLabel); never leaves the package
	id   string
}

// NewKey makes a Key from 32 raw bytes. raw is not retained.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: got %d bytes", ErrKeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("blockcrypt: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("blockcrypt: %w", err)
	}
	// A subkey, not the key itself: the MAC key and the cipher key are independent, so
	// nothing a MAC reveals bears on the blocks' encryption.
	mac, err := hkdf.Key(sha256.New, raw, nil, macKeyLabel, MACSize)
	if err != nil {
		return nil, fmt.Errorf("blockcrypt: derive MAC key: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(keyIDContext))
	h.Write(raw)
	return &Key{aead: aead, mac: mac, id: hex.EncodeToString(h.Sum(nil)[:8])}, nil
}

// MAC returns the HMAC-SHA256, under the key's catalog MAC key, of label and msg: label
// (which names the kind of object, e.g. "sqlvault index v2") is length-prefixed so that no
// label and message can pass for another. msg must be an explicit, canonical encoding of
// what is authenticated (never a re-marshalling that a library may change).
func (k *Key) MAC(label string, msg []byte) []byte {
	h := hmac.New(sha256.New, k.mac)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(label)))
	h.Write(n[:])
	h.Write([]byte(label))
	h.Write(msg)
	return h.Sum(nil)
}

// VerifyMAC reports, in constant time, whether tag is MAC(label, msg).
func (k *Key) VerifyMAC(label string, msg, tag []byte) bool {
	return len(tag) == MACSize && hmac.Equal(k.MAC(label, msg), tag)
}

// ID is the key's stable public identifier, recorded in every manifest and index so a
// restore can tell "wrong key" from "corrupt data" before decrypting anything: hex of the
// first 8 bytes of SHA-256("sqlvault key id v1" || key).
func (k *Key) ID() string { return k.id }

// String prints the id only.
func (k *Key) String() string { return "blockcrypt.Key(" + k.id + ")" }

// GoString prints the id only, so %#v does not dump the cipher state.
func (k *Key) GoString() string { return k.String() }

// GenerateKeyFile creates a new random key and writes it to path as base64 plus a newline,
// mode 0600. It refuses to overwrite an existing file: losing a vault key loses every backup
// made with it, so replacing one must never be an accident.
func GenerateKeyFile(path string) (*Key, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("blockcrypt: random key: %w", err)
	}
	defer clear(raw)
	key, err := NewKey(raw)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFileMode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrKeyFileExists, path)
		}
		return nil, fmt.Errorf("blockcrypt: create key file: %w", err)
	}
	line := make([]byte, base64.StdEncoding.EncodedLen(KeySize)+1)
	base64.StdEncoding.Encode(line, raw)
	line[len(line)-1] = '\n'
	defer clear(line)
	_, werr := f.Write(line)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path) // a half-written key file is worse than none
		return nil, fmt.Errorf("blockcrypt: write key file %s: %w", path, werr)
	}
	return key, nil
}

// LoadKeyFile reads a key file written by GenerateKeyFile (base64, surrounding whitespace
// ignored). Errors wrap ErrKeyFileMissing, ErrKeyEncoding, ErrKeySize or ErrKeyFileTooOpen.
//
// A file that group or others may read or write is refused outright (like ssh does with
// private keys) rather than accepted with a warning: the key protects every backup in the
// vault, a warning in an agent's log is read by nobody, and the fix (chmod 600) is one
// command. On Windows, where mode bits mean nothing, the check is skipped.
func LoadKeyFile(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrKeyFileMissing, path)
		}
		return nil, fmt.Errorf("blockcrypt: open key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("blockcrypt: stat key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKeyEncoding, path)
	}
	// Mode bits on Linux, the ACL on Windows (key_windows.go).
	if err := checkKeyFilePrivate(path, st); err != nil {
		return nil, err
	}
	if st.Size() > int64(maxKeyFileSize) {
		return nil, fmt.Errorf("%w: %s is %d bytes", ErrKeyEncoding, path, st.Size())
	}
	buf := make([]byte, maxKeyFileSize+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("blockcrypt: read key file: %w", err)
	}
	text := bytes.TrimSpace(buf[:n])
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	defer clear(raw)
	m, err := base64.StdEncoding.Strict().Decode(raw, text)
	if err != nil || bytes.ContainsAny(text, "\r\n\t ") {
		// The decoder's message only gives a byte offset, but say nothing about the content.
		return nil, fmt.Errorf("%w: %s", ErrKeyEncoding, path)
	}
	if m != KeySize {
		return nil, fmt.Errorf("%w: %s holds %d bytes", ErrKeySize, path, m)
	}
	return NewKey(raw[:m])
}
