package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// StripeWriter writes one stripe as SQL Server sends it through the agent's blob endpoint:
// blocks arrive (possibly out of order, possibly re-sent), each is sealed and staged at once,
// and Commit fixes the order. Nothing touches disk; memory is the blocks being sealed.
type StripeWriter struct {
	store    Store
	log      *zap.Logger
	blob     string
	key      *blockcrypt.Key
	compress bool

	mu     sync.Mutex
	blocks map[string]*stagedBlock // by client block id
	plain  int64
	stored int64
	count  int
}

// stagedBlock is what the writer knows about one client block. Its mutex serialises puts of
// the same client id, so the recorded metadata always describes the frame Azure kept.
type stagedBlock struct {
	mu   sync.Mutex
	ok   bool // the last put of this id succeeded
	meta indexBlock
}

// frameBufs recycles frame buffers across PutBlock calls: at 4 MiB per block, allocating
// one per block would dominate the garbage collector's work.
var frameBufs = sync.Pool{New: func() any { return new([]byte) }}

// NewStripeWriter starts a stripe on blob (a DataBlob name). compress enables zstd per
// block (kept only where it shrinks the block).
func (r *Repository) NewStripeWriter(blob string, key *blockcrypt.Key, compress bool) *StripeWriter {
	return &StripeWriter{
		store: r.store, log: r.log.With(zap.String("blob", blob)),
		blob: blob, key: key, compress: compress,
		blocks: map[string]*stagedBlock{},
	}
}

// PutBlock seals one block and stages it under a block id derived from clientBlockID. A
// second put with the same client id replaces the first (in Azure and in the index). Safe for
// concurrent calls; calls with the same id are serialised.
func (w *StripeWriter) PutBlock(ctx context.Context, clientBlockID string, plain []byte) error {
	if clientBlockID == "" {
		return fmt.Errorf("vault: empty block id for %s", w.blob)
	}
	w.mu.Lock()
	sb := w.blocks[clientBlockID]
	if sb == nil {
		sb = &stagedBlock{}
		w.blocks[clientBlockID] = sb
	}
	w.mu.Unlock()

	sb.mu.Lock()
	defer sb.mu.Unlock()
	vid := vaultBlockID(clientBlockID)
	sum := sha256.Sum256(plain)
	bufp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bufp)
	frame, err := w.key.Seal((*bufp)[:0], plain, blockAAD(w.blob, vid), w.compress)
	if err != nil {
		return fmt.Errorf("vault: seal block of %s: %w", w.blob, err)
	}
	*bufp = frame[:0]
	err = w.store.StageBlock(ctx, w.blob, vid, frame)

	w.mu.Lock()
	defer w.mu.Unlock()
	if sb.ok { // the earlier version no longer counts, whatever happens now
		w.plain -= sb.meta.Plain
		w.stored -= sb.meta.Stored
		w.count--
		sb.ok = false
	}
	if err != nil {
		// The failed put may or may not have replaced the staged block server-side, so the
		// id is unusable until a put succeeds: Commit refuses it rather than guess.
		return fmt.Errorf("vault: stage block of %s: %w", w.blob, err)
	}
	sb.ok = true
	sb.meta = indexBlock{ID: vid, Plain: int64(len(plain)), Stored: int64(len(frame)), SHA256: hex.EncodeToString(sum[:])}
	w.plain += sb.meta.Plain
	w.stored += sb.meta.Stored
	w.count++
	return nil
}

// Stats reports the staged blocks so far (each client id once), for progress heartbeats.
func (w *StripeWriter) Stats() (plainBytes, storedBytes int64, blocks int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.plain, w.stored, w.count
}

// Commit makes the listed blocks, in the client's order, the stripe's content: it commits
// the block list on the data blob, then writes the index blob. Every id must have been put
// successfully; an id may appear once. Calling Commit again (SQL Server retrying its Put
// Block List) recommits and rewrites the index, which is deterministic.
func (w *StripeWriter) Commit(ctx context.Context, clientBlockIDs []string) (StripeInfo, error) {
	idx := stripeIndex{
		Schema:      IndexSchema,
		Blob:        w.blob,
		KeyID:       w.key.ID(),
		Compression: CompressionNone,
		Blocks:      make([]indexBlock, 0, len(clientBlockIDs)),
	}
	if w.compress {
		idx.Compression = CompressionZstd
	}
	seen := make(map[string]bool, len(clientBlockIDs))
	ids := make([]string, 0, len(clientBlockIDs))
	for _, cid := range clientBlockIDs {
		if seen[cid] {
			return StripeInfo{}, fmt.Errorf("vault: commit of %s lists block %q twice", w.blob, cid)
		}
		seen[cid] = true
		w.mu.Lock()
		sb := w.blocks[cid]
		w.mu.Unlock()
		if sb == nil {
			return StripeInfo{}, fmt.Errorf("vault: commit of %s: %w: block %q was never put", w.blob, ErrInvalidBlockList, cid)
		}
		sb.mu.Lock() // waits for an in-flight put of this id
		ok, meta := sb.ok, sb.meta
		sb.mu.Unlock()
		if !ok {
			return StripeInfo{}, fmt.Errorf("vault: commit of %s: %w: last put of block %q failed", w.blob, ErrInvalidBlockList, cid)
		}
		idx.Blocks = append(idx.Blocks, meta)
		idx.PlainBytes += meta.Plain
		idx.StoredBytes += meta.Stored
		ids = append(ids, meta.ID)
	}
	digest, err := stripeDigest(idx.Blocks)
	if err != nil {
		return StripeInfo{}, fmt.Errorf("vault: %w", err) // cannot happen: we wrote the hex
	}
	idx.Digest = digest
	data, err := json.Marshal(idx)
	if err != nil {
		return StripeInfo{}, fmt.Errorf("vault: encode index: %w", err)
	}
	if err := w.store.CommitBlocks(ctx, w.blob, ids, CommitOptions{}); err != nil {
		return StripeInfo{}, fmt.Errorf("vault: commit %s: %w", w.blob, err)
	}
	indexBlob := IndexBlob(w.blob)
	if err := w.store.Put(ctx, indexBlob, data, PutOptions{}); err != nil {
		return StripeInfo{}, fmt.Errorf("vault: write index %s: %w", indexBlob, err)
	}
	info := StripeInfo{
		Blob: w.blob, Index: indexBlob, IndexSHA256: sha256Hex(data),
		PlainBytes: idx.PlainBytes, StoredBytes: idx.StoredBytes,
		Blocks: len(idx.Blocks), Digest: digest,
	}
	w.log.Debug("stripe committed", zap.Int("blocks", info.Blocks),
		zap.Int64("plainBytes", info.PlainBytes), zap.Int64("storedBytes", info.StoredBytes))
	return info, nil
}
