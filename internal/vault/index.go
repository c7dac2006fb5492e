package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// IndexSchema is the stripe index format this build writes: v2, authenticated by a MAC (see
// indexMACLabel) and without per-block plaintext digests. IndexSchemaV1 (a SHA-256 of each
// block's plaintext, no MAC) is still read: its bytes are pinned by the SHA-256 an
// authenticated manifest records for them.
const (
	IndexSchema   = "sqlvault.index/v2"
	IndexSchemaV1 = "sqlvault.index/v1"
)

// indexMACLabel starts the MAC of a v2 index (blockcrypt.Key.MAC).
const indexMACLabel = "sqlvault index v2"

// Compression values recorded in indexes and manifests.
const (
	CompressionZstd = "zstd"
	CompressionNone = "none"
)

// Stripe errors, wrapped in a *StripeError that names the blob and what exactly differs.
var (
	ErrIndexMissing = errors.New("stripe index blob is missing")
	// ErrIndexMismatch and ErrBlockListMismatch also match ErrUnauthenticated: the manifest
	// (authenticated) pins the index by its SHA-256, and the index the committed block list,
	// so either differing means the stripe was changed since it was written.
	ErrIndexMismatch     error = &alsoErr{msg: "stripe index does not match the SHA-256 recorded for it", also: ErrUnauthenticated}
	ErrIndexInvalid            = errors.New("stripe index is malformed or inconsistent")
	ErrStripeMismatch          = errors.New("stripe index disagrees with the recorded stripe info")
	ErrDataNotCommitted        = errors.New("stripe data blob is not committed")
	ErrBlockListMismatch error = &alsoErr{msg: "committed block list differs from the stripe index", also: ErrUnauthenticated}
	ErrSizeMismatch            = errors.New("data blob size differs from the stripe index")
	ErrWrongKey                = errors.New("stripe was encrypted with a different key")
	ErrBlockDigest             = errors.New("block plaintext does not match its recorded SHA-256")
	// ErrIndexUnauthenticated: a v2 index whose MAC does not verify under the key it names:
	// someone without the key changed it (dropped, reordered, duplicated or cut blocks), or
	// it was not written by sqlvault. It also matches ErrUnauthenticated.
	ErrIndexUnauthenticated error = &alsoErr{msg: "stripe index failed authentication (changed by someone without the vault key)", also: ErrUnauthenticated}
)

// StripeError says which stripe failed a check and how.
type StripeError struct {
	Blob   string
	Err    error  // one of the Err* sentinels above, or a Store error
	Detail string // what differs, e.g. "block 17: stored size 4194344, index says 4194340"
}

func (e *StripeError) Error() string {
	msg := "vault: stripe " + e.Blob + ": " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *StripeError) Unwrap() error { return e.Err }

func stripeErr(blob string, err error, format string, args ...any) error {
	return &StripeError{Blob: blob, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// StripeInfo describes one committed stripe. The agent returns it from Commit and the
// manifest records it; everything in it is checkable against the vault.
type StripeInfo struct {
	Blob        string `json:"blob"`
	Index       string `json:"index"`
	IndexSHA256 string `json:"indexSha256"` // hex SHA-256 of the index blob's bytes
	PlainBytes  int64  `json:"plainBytes"`
	StoredBytes int64  `json:"storedBytes"`
	Blocks      int    `json:"blocks"`
	// Digest is the hex SHA-256 over the per-block plaintext SHA-256s (32 raw bytes each),
	// in block order: a digest of the stripe's plaintext that needs no second pass over it.
	Digest string `json:"digest"`
}

// stripeIndex is the JSON block map stored beside a data blob (the .idx blob). It is what
// makes random-access restore possible (plaintext offset → stored range) and what the
// associated data of each frame is rebuilt from.
//
// A frame's associated data binds it to its blob (so to its item, point, attempt and
// stripe) and block id, but not to its position: SQL Server puts a stripe's blocks in any
// order and only its commit fixes it, so a frame cannot carry its ordinal when it is
// sealed. The v2 index, written at commit by the writer that holds the key, binds the
// order: its MAC covers the ordered list of block ids and sizes, the block count and the
// totals, so a block dropped, reordered, duplicated or cut off the tail, with the index
// rewritten to match, fails the MAC.
type stripeIndex struct {
	Schema      string `json:"schema"`
	Blob        string `json:"blob"`
	KeyID       string `json:"keyId"`
	Compression string `json:"compression"`
	// ItemID, PointID and Stripe (v2) name the stripe's place, as its blob name does.
	ItemID      string `json:"itemId,omitempty"`
	PointID     string `json:"pointId,omitempty"`
	Stripe      int    `json:"stripe,omitempty"`
	PlainBytes  int64  `json:"plainBytes"`
	StoredBytes int64  `json:"storedBytes"`
	// Digest (v1): SHA-256 over the blocks' SHA-256s. MAC (v2): indexMAC, hex.
	Digest string       `json:"digest,omitempty"`
	MAC    string       `json:"mac,omitempty"`
	Blocks []indexBlock `json:"blocks"`
}

type indexBlock struct {
	ID     string `json:"id"`               // vault block id (the Azure block id)
	Plain  int64  `json:"plain"`            // plaintext length
	Stored int64  `json:"stored"`           // frame length in the data blob
	SHA256 string `json:"sha256,omitempty"` // v1: hex SHA-256 of the plaintext
}

// indexMAC is the MAC of a v2 index: over an explicit encoding (canon) of the stripe's
// place (blob name, item, point, stripe ordinal), key id, compression, block count, totals
// and each block's id and sizes in commit order. Fields are length-prefixed, so no two
// indexes encode alike.
func indexMAC(key *blockcrypt.Key, idx *stripeIndex) []byte {
	return key.MAC(indexMACLabel, indexMACMessage(idx))
}

func indexMACMessage(idx *stripeIndex) []byte {
	var c canon
	c.str(idx.Schema).str(idx.Blob).str(idx.ItemID).str(idx.PointID).u64(uint64(idx.Stripe))
	c.str(idx.KeyID).str(idx.Compression)
	c.u64(uint64(len(idx.Blocks))).i64(idx.PlainBytes).i64(idx.StoredBytes)
	for _, b := range idx.Blocks {
		c.str(b.ID).i64(b.Plain).i64(b.Stored)
	}
	return c
}

// stripePlace is the item, point and stripe ordinal a data blob's name gives (zero values
// for a name outside the layout, which only tests write).
func stripePlace(blob string) (itemID, pointID string, stripe int) {
	bn := parseBlobName(blob)
	if bn.kind != "data" {
		return "", "", 0
	}
	return bn.itemID, bn.pointID, bn.stripe
}

// vaultBlockID derives the stored block id from the id SQL Server gave the block. Being a
// pure function of the client id is what makes a re-put replace the earlier block (same
// Azure block id), and a fixed length satisfies Azure's rule that one blob's ids are all the
// same length whatever the client sends. 18 bytes encode to 24 base64 chars with no padding.
func vaultBlockID(clientBlockID string) string {
	h := sha256.Sum256([]byte("sqlvault block id v1\x00" + clientBlockID))
	return base64.StdEncoding.EncodeToString(h[:18])
}

// blockAAD binds a frame to its blob and block id: a frame copied into another stripe, or
// under another id, fails authentication. Both parts are in the index, so a reader can
// rebuild it. (Position is bound by the index and the stripe digest, not the frame: SQL
// Server may put blocks in any order and only the commit fixes it.)
func blockAAD(blob, vaultID string) []byte {
	return []byte("sqlvault block v1\x00" + blob + "\x00" + vaultID)
}

func stripeDigest(blocks []indexBlock) (string, error) {
	h := sha256.New()
	for i, b := range blocks {
		sum, err := hex.DecodeString(b.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return "", fmt.Errorf("block %d: bad sha256 %q", i, b.SHA256)
		}
		h.Write(sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkIndex parses index bytes and checks them against s, in the order that lets nothing
// unauthenticated be judged: the SHA-256 s records for them; their schema and blob; a v2
// index's MAC, under the key keyOf gives for the id it names; only then internal
// consistency (sizes, unique ids, totals, place, a v1 index's digest) and agreement with s.
// It does not touch the data blob.
func checkIndex(s StripeInfo, data []byte, keyOf func(id string) (*blockcrypt.Key, error)) (*stripeIndex, error) {
	if got := sha256Hex(data); got != s.IndexSHA256 {
		return nil, stripeErr(s.Blob, ErrIndexMismatch, "%s has SHA-256 %s, recorded %s", s.Index, got, s.IndexSHA256)
	}
	idx, err := decodeIndex(s.Blob, s.Index, data)
	if err != nil {
		return nil, err
	}
	if idx.Schema == IndexSchema {
		key, err := keyOf(idx.KeyID)
		if err != nil {
			return nil, stripeErr(s.Blob, ErrWrongKey, "cannot authenticate its index: %v", err)
		}
		if err := verifyIndexMAC(idx, key); err != nil {
			return nil, err
		}
	}
	if err := idx.consistent(); err != nil {
		return nil, err
	}
	digest := idx.Digest
	if idx.Schema == IndexSchema {
		digest = idx.MAC
	}
	switch {
	case len(idx.Blocks) != s.Blocks:
		return nil, stripeErr(s.Blob, ErrStripeMismatch, "index has %d blocks, recorded %d", len(idx.Blocks), s.Blocks)
	case idx.PlainBytes != s.PlainBytes:
		return nil, stripeErr(s.Blob, ErrStripeMismatch, "index has %d plaintext bytes, recorded %d", idx.PlainBytes, s.PlainBytes)
	case idx.StoredBytes != s.StoredBytes:
		return nil, stripeErr(s.Blob, ErrStripeMismatch, "index has %d stored bytes, recorded %d", idx.StoredBytes, s.StoredBytes)
	case digest != s.Digest:
		return nil, stripeErr(s.Blob, ErrStripeMismatch, "index digest %s, recorded %s", digest, s.Digest)
	}
	return idx, nil
}

// parseIndex decodes index bytes and checks what needs no key (decodeIndex, consistent).
// Callers that act on the index authenticate it first (checkIndex).
func parseIndex(blob, name string, data []byte) (*stripeIndex, error) {
	idx, err := decodeIndex(blob, name, data)
	if err != nil {
		return nil, err
	}
	return idx, idx.consistent()
}

// decodeIndex decodes index bytes strictly: a schema this build reads, for blob, and the
// fields of its schema (a v2 index has a MAC and no digests; a v1 index the reverse).
func decodeIndex(blob, name string, data []byte) (*stripeIndex, error) {
	var idx stripeIndex
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil {
		return nil, stripeErr(blob, ErrIndexInvalid, "%s: %v", name, err)
	}
	if idx.Schema != IndexSchema && idx.Schema != IndexSchemaV1 {
		return nil, stripeErr(blob, ErrIndexInvalid, "schema %q, this build reads %q and %q", idx.Schema, IndexSchemaV1, IndexSchema)
	}
	if idx.Blob != blob {
		return nil, stripeErr(blob, ErrIndexInvalid, "index is for blob %q", idx.Blob)
	}
	if idx.Schema == IndexSchemaV1 {
		if idx.ItemID != "" || idx.PointID != "" || idx.Stripe != 0 || idx.MAC != "" {
			return nil, stripeErr(blob, ErrIndexInvalid, "a %s index has no itemId, pointId, stripe or mac", IndexSchemaV1)
		}
	} else if idx.Digest != "" || len(idx.MAC) != 2*blockcrypt.MACSize {
		return nil, stripeErr(blob, ErrIndexInvalid, "a %s index has a mac and no digest", IndexSchema)
	}
	for i, b := range idx.Blocks {
		if (idx.Schema == IndexSchema) != (b.SHA256 == "") {
			return nil, stripeErr(blob, ErrIndexInvalid, "block %d: a %s index has a plaintext SHA-256 per block, a %s index none", i, IndexSchemaV1, IndexSchema)
		}
	}
	return &idx, nil
}

// consistent checks an index against itself: sizes, unique block ids, totals, the place its
// blob name gives (v2) and the stripe digest (v1).
func (idx *stripeIndex) consistent() error {
	blob := idx.Blob
	var plain, stored int64
	seen := make(map[string]bool, len(idx.Blocks))
	for i, b := range idx.Blocks {
		if b.Plain < 0 || b.Stored <= 0 || seen[b.ID] {
			return stripeErr(blob, ErrIndexInvalid, "block %d: bad sizes or duplicate id", i)
		}
		seen[b.ID] = true
		plain += b.Plain
		stored += b.Stored
	}
	if plain != idx.PlainBytes || stored != idx.StoredBytes {
		return stripeErr(blob, ErrIndexInvalid, "totals do not add up")
	}
	if idx.Schema == IndexSchemaV1 {
		digest, err := stripeDigest(idx.Blocks)
		if err != nil {
			return stripeErr(blob, ErrIndexInvalid, "%v", err)
		}
		if digest != idx.Digest {
			return stripeErr(blob, ErrIndexInvalid, "digest does not add up")
		}
		return nil
	}
	item, point, stripe := stripePlace(blob)
	if idx.ItemID != item || idx.PointID != point || idx.Stripe != stripe {
		return stripeErr(blob, ErrIndexInvalid, "index says item %q point %q stripe %d, its blob name says %q %q %d",
			idx.ItemID, idx.PointID, idx.Stripe, item, point, stripe)
	}
	return nil
}

// verifyIndexMAC checks a v2 index's MAC under key (the key it names); a v1 index has none
// (its bytes are pinned by the manifest's SHA-256 of them).
func verifyIndexMAC(idx *stripeIndex, key *blockcrypt.Key) error {
	if idx.Schema != IndexSchema {
		return nil
	}
	if idx.KeyID != key.ID() {
		return stripeErr(idx.Blob, ErrWrongKey, "stripe key id %s, given key id %s", idx.KeyID, key.ID())
	}
	tag, err := hex.DecodeString(idx.MAC)
	if err != nil || !key.VerifyMAC(indexMACLabel, indexMACMessage(idx), tag) {
		return stripeErr(idx.Blob, ErrIndexUnauthenticated, "its MAC does not verify under key %s: do not restore from it; look at who can write to the storage account", key.ID())
	}
	return nil
}

// StripeInfo rebuilds the StripeInfo of a committed stripe from its index, then verifies it
// against the data blob (and a v2 index's MAC) as VerifyStripes does. A retried backup uses
// it to adopt the stripes an earlier attempt committed but never reported.
func (r *Repository) StripeInfo(ctx context.Context, dataBlob string) (StripeInfo, error) {
	index := IndexBlob(dataBlob)
	data, err := r.store.Get(ctx, index)
	if err != nil {
		return StripeInfo{}, stripeErr(dataBlob, ErrIndexMissing, "%s: %v", index, err)
	}
	idx, err := parseIndex(dataBlob, index, data)
	if err != nil {
		return StripeInfo{}, err
	}
	digest := idx.Digest
	if idx.Schema == IndexSchema {
		digest = idx.MAC
	}
	s := StripeInfo{Blob: dataBlob, Index: index, IndexSHA256: sha256Hex(data), PlainBytes: idx.PlainBytes,
		StoredBytes: idx.StoredBytes, Blocks: len(idx.Blocks), Digest: digest}
	if err := r.VerifyStripes(ctx, []StripeInfo{s}); err != nil {
		return StripeInfo{}, err
	}
	return s, nil
}
