// Package payloadcodec encrypts Temporal payloads: a converter.PayloadCodec that seals every
// workflow and activity payload (inputs, results, heartbeat details, memos, schedule
// actions, query and update results, failure messages) with AES-256-GCM under a codec key,
// and the codec key file that holds those keys wrapped under the vault's KEK (package keys).
//
// Payloads that are not of this codec's encoding pass through Decode untouched, so
// histories recorded before the codec (and a workflow started by a process without it) are
// still read; a payload sealed under a key this process does not hold is refused by name.
package payloadcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Payload metadata this codec writes. The key id is public (it names a key, reveals
// nothing of it); the encoding is how Decode recognises its own payloads.
const (
	Encoding         = "binary/sqlvault-encrypted"
	MetadataKeyID    = "sqlvault-codec-key-id"
	metadataEncoding = converter.MetadataEncoding // "encoding"
	// KeySize is the codec key's length (AES-256).
	KeySize = 32
)

// aadContext domain-separates payload ciphertexts from everything else sealed with
// AES-GCM in sqlvault; the key id follows it, so a payload re-labelled with another key id
// does not open.
const aadContext = "sqlvault payload codec v1\x00"

// Errors.
var (
	// ErrUnknownKey: a payload is sealed under a codec key this process does not hold.
	ErrUnknownKey = errors.New("payloadcodec: payload sealed with a codec key this process does not hold")
	// ErrUnauthenticated: a payload of this encoding does not open under its key: altered,
	// truncated, or re-labelled.
	ErrUnauthenticated = errors.New("payloadcodec: encrypted payload does not authenticate")
	// ErrNoKeys: a codec needs at least one key.
	ErrNoKeys = errors.New("payloadcodec: no codec key")
)

// Key is one codec key: its id and its 32 raw bytes. String never shows the bytes.
type Key struct {
	ID  string
	raw []byte
}

// NewKey is a key of id from raw (32 bytes, copied).
func NewKey(id string, raw []byte) (Key, error) {
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("payloadcodec: codec key %s is %d bytes, want %d", id, len(raw), KeySize)
	}
	if id == "" {
		return Key{}, errors.New("payloadcodec: codec key without an id")
	}
	return Key{ID: id, raw: append([]byte(nil), raw...)}, nil
}

// String names the key by id only.
func (k Key) String() string { return "payloadcodec.Key(" + k.ID + ")" }

// GoString is String, so %#v does not print the bytes.
func (k Key) GoString() string { return k.String() }

// Codec is the payload codec: the active key encodes, every key decodes.
type Codec struct {
	activeID string
	aeads    map[string]cipher.AEAD
	// source says where the keys came from (the key file's path), for error messages.
	source string
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New is a codec whose first key is active; source names where the keys came from in
// error messages (e.g. the key file's path).
func New(source string, active Key, older ...Key) (*Codec, error) {
	c := &Codec{activeID: active.ID, aeads: map[string]cipher.AEAD{}, source: source}
	for _, k := range append([]Key{active}, older...) {
		if len(k.raw) != KeySize {
			return nil, fmt.Errorf("%w: key %q has no key material", ErrNoKeys, k.ID)
		}
		block, err := aes.NewCipher(k.raw)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: key %s: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: key %s: %w", k.ID, err)
		}
		c.aeads[k.ID] = aead
	}
	return c, nil
}

// ActiveKeyID is the id of the key Encode uses.
func (c *Codec) ActiveKeyID() string { return c.activeID }

// KeyIDs are the ids of every key the codec decodes with, sorted.
func (c *Codec) KeyIDs() []string {
	ids := make([]string, 0, len(c.aeads))
	for id := range c.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Encode seals each payload (its whole protobuf encoding, metadata included) under the
// active key: nonce || ciphertext, with this codec's encoding and the key id in clear
// metadata.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.activeID]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("payloadcodec: nonce: %w", err)
		}
		sealed := aead.Seal(nonce, nonce, plain, aad(c.activeID))
		clear(plain)
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{metadataEncoding: []byte(Encoding), MetadataKeyID: []byte(c.activeID)},
			Data:     sealed,
		}
	}
	return out, nil
}

// Decode opens the payloads of this codec's encoding and passes every other one through
// unchanged (clear payloads from before the codec, or from a process without it).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !IsEncrypted(p) {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("%w: key id %q; %s holds %s. What to do: configure codec.keyFile (--codec-key-file, SQLVAULT_CODEC_KEY_FILE) "+
				"to the codec key file that holds %q — `sqlvault codec rotate` keeps every earlier key in the file, so use that file (or its escrow copy), not a fresh `codec init`",
				ErrUnknownKey, id, c.sourceName(), strings.Join(c.KeyIDs(), ", "), id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("%w: key id %s: %d bytes, shorter than nonce and tag", ErrUnauthenticated, id, len(data))
		}
		nonce, sealed := data[:aead.NonceSize()], data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, aad(id))
		if err != nil {
			return nil, fmt.Errorf("%w: key id %s: the payload was altered, truncated or re-labelled", ErrUnauthenticated, id)
		}
		var orig commonpb.Payload
		err = proto.Unmarshal(plain, &orig)
		clear(plain)
		if err != nil {
			return nil, fmt.Errorf("%w: key id %s: opened but is no payload: %v", ErrUnauthenticated, id, err)
		}
		out[i] = &orig
	}
	return out, nil
}

func (c *Codec) sourceName() string {
	if c.source == "" {
		return "this codec"
	}
	return c.source
}

// IsEncrypted reports whether p is of this codec's encoding.
func IsEncrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[metadataEncoding]) == Encoding
}

func aad(keyID string) []byte { return []byte(aadContext + keyID) }
