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
)

// IndexSchema identifies the stripe index format.
const IndexSchema = "sqlvault.index/v1"

// Compression values recorded in indexes and manifests.
const (
	CompressionZstd = "zstd"
	CompressionNone = "none"
)

// Stripe errors, wrapped in a *StripeError that names the blob and what exactly differs.
var (
	ErrIndexMissing      = errors.New("stripe index blob is missing")
	ErrIndexMismatch     = errors.New("stripe index does not match the SHA-256 recorded for it")
	ErrIndexInvalid      = errors.New("stripe index is malformed or inconsistent")
	ErrStripeMismatch    = errors.New("stripe index disagrees with the recorded stripe info")
	ErrDataNotCommitted  = errors.New("stripe data blob is not committed")
	ErrBlockListMismatch = errors.New("committed block list differs from the stripe index")
	ErrSizeMismatch      = errors.New("data blob size differs from the stripe index")
	ErrWrongKey          = errors.New("stripe was encrypted with a different key")
	ErrBlockDigest       = errors.New("block plaintext does not match its recorded SHA-256")
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
type stripeIndex struct {
	Schema      string       `json:"schema"`
	Blob        string       `json:"blob"`
	KeyID       string       `json:"keyId"`
	Compression string       `json:"compression"`
	PlainBytes  int64        `json:"plainBytes"`
	StoredBytes int64        `json:"storedBytes"`
	Digest      string       `json:"digest"`
	Blocks      []indexBlock `json:"blocks"`
}

type indexBlock struct {
	ID     string `json:"id"`     // vault block id (the Azure block id)
	Plain  int64  `json:"plain"`  // plaintext length
	Stored int64  `json:"stored"` // frame length in the data blob
	SHA256 string `json:"sha256"` // hex SHA-256 of the plaintext
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

// checkIndex parses index bytes and checks them against s: recorded hash, internal
// consistency (totals, digest), and agreement with s. It does not touch the data blob.
func checkIndex(s StripeInfo, data []byte) (*stripeIndex, error) {
	if got := sha256Hex(data); got != s.IndexSHA256 {
		return nil, stripeErr(s.Blob, ErrIndexMismatch, "%s has SHA-256 %s, recorded %s", s.Index, got, s.IndexSHA256)
	}
	var idx stripeIndex
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil {
		return nil, stripeErr(s.Blob, ErrIndexInvalid, "%s: %v", s.Index, err)
	}
	if idx.Schema != IndexSchema {
		return nil, stripeErr(s.Blob, ErrIndexInvalid, "schema %q, this build reads %q", idx.Schema, IndexSchema)
	}
	if idx.Blob != s.Blob {
		return nil, stripeErr(s.Blob, ErrIndexInvalid, "index is for blob %q", idx.Blob)
	}
	var plain, stored int64
	seen := make(map[string]bool, len(idx.Blocks))
	for i, b := range idx.Blocks {
		if b.Plain < 0 || b.Stored <= 0 || seen[b.ID] {
			return nil, stripeErr(s.Blob, ErrIndexInvalid, "block %d: bad sizes or duplicate id", i)
		}
		seen[b.ID] = true
		plain += b.Plain
		stored += b.Stored
	}
	digest, err := stripeDigest(idx.Blocks)
	if err != nil {
		return nil, stripeErr(s.Blob, ErrIndexInvalid, "%v", err)
	}
	if plain != idx.PlainBytes || stored != idx.StoredBytes || digest != idx.Digest {
		return nil, stripeErr(s.Blob, ErrIndexInvalid, "totals or digest do not add up")
	}
	switch {
	case len(idx.Blocks) != s.Blocks:
		return nil, stripeErr(s.Blob, ErrStripeMismatch, "index has %d blocks, recorded %d", len(idx.Blocks), s.Blocks)
	case plain != s.PlainBytes:
		return nil, stripeErr(s.Blob, ErrStripeMismatch, "index has %d plaintext bytes, recorded %d", plain, s.PlainBytes)
	case stored != s.StoredBytes:
		return nil, stripeErr(s.Blob, ErrStripeMismatch, "index has %d stored bytes, recorded %d", stored, s.StoredBytes)
	case digest != s.Digest:
		return nil, stripeErr(s.Blob, ErrStripeMismatch, "index digest %s, recorded %s", digest, s.Digest)
	}
	return &idx, nil
}

// StripeInfo rebuilds the StripeInfo of a committed stripe from its index, then verifies it
// against the data blob as VerifyStripes does. A retried backup uses it to adopt the
// stripes an earlier attempt committed but never reported.
func (r *Repository) StripeInfo(ctx context.Context, dataBlob string) (StripeInfo, error) {
	index := IndexBlob(dataBlob)
	data, err := r.store.Get(ctx, index)
	if err != nil {
		return StripeInfo{}, stripeErr(dataBlob, ErrIndexMissing, "%s: %v", index, err)
	}
	var idx stripeIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return StripeInfo{}, stripeErr(dataBlob, ErrIndexInvalid, "%s: %v", index, err)
	}
	s := StripeInfo{Blob: dataBlob, Index: index, IndexSHA256: sha256Hex(data), PlainBytes: idx.PlainBytes,
		StoredBytes: idx.StoredBytes, Blocks: len(idx.Blocks), Digest: idx.Digest}
	if err := r.VerifyStripes(ctx, []StripeInfo{s}); err != nil {
		return StripeInfo{}, err
	}
	return s, nil
}
