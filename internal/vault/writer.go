package vault

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// StripeWriter writes one stripe as SQL Server sends it through the agent's blob endpoint:
// blocks arrive (possibly out of order, possibly re-sent), each is sealed and staged, and
// Commit fixes the order. Nothing touches disk; memory is the blocks being sealed.
//
// With BlocksInFlight > 1, PutBlock copies the block and returns at once while up to that
// many blocks are sealed and staged in the background. SQL Server sends a stripe's next
// block only after the previous Put Block is answered, so answering before sealing is what
// lets receiving, sealing and staging overlap (measured in BENCHMARKS.md: about twice the
// throughput). Nothing is lost by answering early: Commit waits for every block and fails
// if any of them failed, so SQL Server's Put Block List fails, the backup fails, and the
// workflow retries it; a stripe never commits with a hole.
type StripeWriter struct {
	store    Store
	log      *zap.Logger
	blob     string
	key      *blockcrypt.Key
	compress bool

	slots    chan struct{}      // one token per block in flight; nil: synchronous
	inFlight *atomic.Int64      // StripeWriterOptions.InFlight (nil: not counted)
	bg       context.Context    // background puts run under it; Close cancels it
	stop     context.CancelFunc //

	mu     sync.Mutex
	blocks map[string]*stagedBlock // by client block id
	plain  int64
	stored int64
	count  int
	failed error // the first background failure; sticky
}

// stagedBlock is what the writer knows about one client block. Its mutex serialises puts of
// the same client id, so the recorded metadata always describes the frame Azure kept.
type stagedBlock struct {
	vid  string // the vault block id (derived from the client's)
	mu   sync.Mutex
	ok   bool // the last put of this id succeeded
	meta indexBlock
	tail chan struct{} // closed when the newest background put of this id is done
}

// StripeWriterOptions are a stripe writer's settings.
type StripeWriterOptions struct {
	// Compress enables zstd per block (kept only where it shrinks the block).
	Compress bool
	// BlocksInFlight is how many blocks may be sealed and staged in the background after
	// their PutBlock returned. 0 or 1: PutBlock returns only once its block is staged. Each
	// block in flight holds a copy of its plaintext and its frame (about 8 MiB at 4 MiB).
	BlocksInFlight int
	// InFlight, when set, counts the blocks being sealed and staged now (in the background,
	// or in PutBlock without blocks in flight): the agent's blocks-in-flight gauge, shared by
	// every stripe writer of the process.
	InFlight *atomic.Int64
}

// ErrStripeFailed: a block put in the background failed to seal or stage, so the stripe can
// no longer be committed; the backup fails and is retried from the start.
var ErrStripeFailed = errors.New("vault: a block of this stripe failed in the background; the stripe cannot be committed and the backup must be retried")

// ErrWriterClosed: a put or commit after Close.
var ErrWriterClosed = errors.New("vault: stripe writer closed")

// frameBufs recycles frame buffers across PutBlock calls, and plainBufs the plaintext copies
// of blocks in flight: at 4 MiB per block, allocating one per block would dominate the
// garbage collector's work (and the agent's peak memory).
var (
	frameBufs = sync.Pool{New: func() any { return new([]byte) }}
	plainBufs = sync.Pool{New: func() any { return new([]byte) }}
)

// NewStripeWriter starts a stripe on blob (a DataBlob name). Call Close when the backup
// session ends, committed or not, so that no background put outlives it.
func (r *Repository) NewStripeWriter(blob string, key *blockcrypt.Key, o StripeWriterOptions) *StripeWriter {
	w := &StripeWriter{
		store: r.store, log: r.log.With(zap.String("blob", blob)),
		blob: blob, key: key, compress: o.Compress, inFlight: o.InFlight,
		blocks: map[string]*stagedBlock{},
	}
	w.bg, w.stop = context.WithCancel(context.Background())
	if o.BlocksInFlight > 1 {
		w.slots = make(chan struct{}, o.BlocksInFlight)
	}
	return w
}

// PutBlock seals one block and stages it under a block id derived from clientBlockID. A
// second put with the same client id replaces the first (in Azure and in the index). Safe for
// concurrent calls; puts with the same id take effect in call order. With blocks in flight it
// returns once the block is copied and queued; its outcome is reported by Commit (and by
// every PutBlock after a failure).
func (w *StripeWriter) PutBlock(ctx context.Context, clientBlockID string, plain []byte) error {
	if clientBlockID == "" {
		return fmt.Errorf("vault: empty block id for %s", w.blob)
	}
	if w.bg.Err() != nil {
		return fmt.Errorf("%w: %s", ErrWriterClosed, w.blob)
	}
	if w.slots == nil {
		w.countInFlight(1)
		defer w.countInFlight(-1)
		return w.put(ctx, w.entry(clientBlockID), plain)
	}
	if err := w.failure(); err != nil {
		return err
	}
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.bg.Done():
		return fmt.Errorf("%w: %s", ErrWriterClosed, w.blob)
	}
	if err := w.failure(); err != nil { // failed while we waited for a slot
		<-w.slots
		return err
	}
	bufp := plainBufs.Get().(*[]byte)
	buf := append((*bufp)[:0], plain...)
	sb := w.entry(clientBlockID)
	done := make(chan struct{})
	w.mu.Lock()
	prev := sb.tail
	sb.tail = done
	w.mu.Unlock()
	w.countInFlight(1)
	go func() {
		defer func() { <-w.slots }()
		defer w.countInFlight(-1)
		defer close(done) // before the slot is freed: Commit drains the slots, then reads sb
		if prev != nil {
			<-prev // an earlier put of this id goes first, so the last data sent wins
		}
		err := w.put(w.bg, sb, buf)
		*bufp = buf[:0]
		plainBufs.Put(bufp)
		if err != nil && w.bg.Err() == nil { // after Close, a cancelled put is expected
			w.mu.Lock()
			if w.failed == nil {
				w.failed = fmt.Errorf("%w: %w", ErrStripeFailed, err)
			}
			w.mu.Unlock()
			w.log.Warn("background block put failed; the stripe will not commit", zap.Error(err))
		}
	}()
	return nil
}

func (w *StripeWriter) countInFlight(d int64) {
	if w.inFlight != nil {
		w.inFlight.Add(d)
	}
}

func (w *StripeWriter) entry(clientBlockID string) *stagedBlock {
	w.mu.Lock()
	defer w.mu.Unlock()
	sb := w.blocks[clientBlockID]
	if sb == nil {
		sb = &stagedBlock{vid: vaultBlockID(clientBlockID)}
		w.blocks[clientBlockID] = sb
	}
	return sb
}

func (w *StripeWriter) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// put seals plain and stages it as sb's block, then records the outcome.
func (w *StripeWriter) put(ctx context.Context, sb *stagedBlock, plain []byte) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	// No digest of the plaintext: GCM authenticates each frame and the index MAC binds their
	// order, and a plaintext digest in the index would let anyone who can read the storage
	// account confirm a guess of a block's content (and cost a pass over every byte).
	bufp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bufp)
	vid := sb.vid
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
	sb.meta = indexBlock{ID: vid, Plain: int64(len(plain)), Stored: int64(len(frame))}
	w.plain += sb.meta.Plain
	w.stored += sb.meta.Stored
	w.count++
	return nil
}

// drain waits until no block is in flight and holds every slot, so none starts; the
// returned func gives them back.
func (w *StripeWriter) drain(ctx context.Context) (func(), error) {
	if w.slots == nil {
		return func() {}, nil
	}
	held := 0
	release := func() {
		for ; held > 0; held-- {
			<-w.slots
		}
	}
	for held < cap(w.slots) {
		select {
		case w.slots <- struct{}{}:
			held++
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}

// Close stops the writer: background puts still running are cancelled and waited for.
// Later puts and commits fail with ErrWriterClosed. Closing a committed writer only
// releases it. Safe to call more than once.
func (w *StripeWriter) Close() {
	w.stop()
	if release, err := w.drain(context.Background()); err == nil {
		release()
	}
}

// Stats reports the staged blocks so far (each client id once), for progress heartbeats.
func (w *StripeWriter) Stats() (plainBytes, storedBytes int64, blocks int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.plain, w.stored, w.count
}

// Commit waits for the blocks in flight (failing with ErrStripeFailed if any failed), then
// makes the listed blocks, in the client's order, the stripe's content: it commits
// the block list on the data blob, then writes the index blob, authenticated (its MAC binds
// the order, count and sizes of the blocks: see stripeIndex). Every id must have been put
// successfully; an id may appear once. Calling Commit again (SQL Server retrying its Put
// Block List) recommits and rewrites the index, which is deterministic.
func (w *StripeWriter) Commit(ctx context.Context, clientBlockIDs []string) (StripeInfo, error) {
	release, err := w.drain(ctx)
	if err != nil {
		return StripeInfo{}, err
	}
	defer release()
	if w.bg.Err() != nil {
		return StripeInfo{}, fmt.Errorf("%w: %s", ErrWriterClosed, w.blob)
	}
	if err := w.failure(); err != nil {
		return StripeInfo{}, err
	}
	item, point, stripe := stripePlace(w.blob)
	idx := stripeIndex{
		Schema:      IndexSchema,
		Blob:        w.blob,
		KeyID:       w.key.ID(),
		Compression: CompressionNone,
		ItemID:      item,
		PointID:     point,
		Stripe:      stripe,
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
	idx.MAC = hex.EncodeToString(indexMAC(w.key, &idx))
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
		Blocks: len(idx.Blocks), Digest: idx.MAC,
	}
	w.log.Debug("stripe committed", zap.Int("blocks", info.Blocks),
		zap.Int64("plainBytes", info.PlainBytes), zap.Int64("storedBytes", info.StoredBytes))
	return info, nil
}
