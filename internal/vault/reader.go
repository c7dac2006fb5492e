package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// readAhead is how many blocks WriteTo fetches ahead of the writer: enough to hide one
// storage round trip behind decrypting and writing, small enough that memory stays a few
// blocks (a few times 4 MiB).
const readAhead = 4

// DefaultReadAhead is how many blocks ReadAt fetches ahead of a sequential reader (SQL
// Server restoring: one ranged GET at a time per stripe). It lets the store round trip and
// the decryption of the next block overlap SQL Server's work on this one; each costs one
// decrypted block (4 MiB) per stripe, twice that in peak memory with the collector's
// headroom. BENCHMARKS.md shows how it was chosen.
const DefaultReadAhead = 1

// BlockError reports a block that failed to read, decrypt or verify.
type BlockError struct {
	Blob  string
	Block int   // index in commit order
	Off   int64 // plaintext offset of the block
	Err   error // blockcrypt.ErrAuth, ErrSizeMismatch, ErrBlockDigest (DeepVerify only), or a Store error
}

func (e *BlockError) Error() string {
	return fmt.Sprintf("vault: stripe %s block %d (plaintext offset %d): %v", e.Blob, e.Block, e.Off, e.Err)
}

func (e *BlockError) Unwrap() error { return e.Err }

// StripeReader reads a committed stripe's plaintext with random access. ReadAt and WriteTo
// are safe for concurrent use.
//
// Integrity: every byte a reader returns has passed exactly one check, the AES-GCM tag of its
// block's frame. The tag authenticates the frame's header (plaintext length, compression),
// its payload, and the associated data binding it to its blob and block id; the index,
// whose SHA-256 the manifest records and (v2) whose MAC OpenStripe checks, gives each
// position its block id and sizes. So a
// block that decrypts is the block the writer sealed for that place, byte for byte, and
// hashing its plaintext again against the index's SHA-256 (which the writer computed from
// the same bytes it sealed) proves nothing more on a restore — it was a second full pass
// over every byte (≈ 0.5 CPU s/GB, BENCHMARKS.md). Only DeepVerify, which checks the
// writer's index rather than serving a restore, compares it (verifyDigests).
type StripeReader struct {
	store     Store
	info      StripeInfo
	key       *blockcrypt.Key
	idx       *stripeIndex
	plainOff  []int64 // plainOff[i] = plaintext offset of block i; last entry = size
	storedOff []int64
	// verifyDigests also compares each block's plaintext with the SHA-256 a v1 index
	// records for it (DeepVerify); restores leave it off.
	verifyDigests bool

	ahead int                // blocks ReadAt fetches ahead of a sequential reader
	bg    context.Context    // background fetches run under it (a child of OpenStripe's ctx)
	stop  context.CancelFunc //

	mu    sync.Mutex
	cache map[int]*readEntry // the window of blocks from the last read: [i, i+ahead]
	next  int                // the block after the last one read: reading it is sequential
}

// readEntry is one block fetched (or being fetched) for ReadAt. Its buffer comes from
// windowBufs and goes back once the block has left the window and no read is copying from
// it: at hundreds of MB/s, a fresh 4 MiB buffer per block is garbage that the collector's
// headroom turns into peak memory.
type readEntry struct {
	done chan struct{} // closed when data or err is set
	data []byte
	err  error

	// under StripeReader.mu:
	bufp    *[]byte // the pooled buffer behind data; nil once returned (or on error)
	refs    int     // reads holding data
	evicted bool    // left the window
	fetched bool    // the fetch is over
}

var windowBufs = sync.Pool{New: func() any { return new([]byte) }}

// OpenStripe loads the stripe's index and checks it as VerifyStripes does, with key: against
// s (its recorded SHA-256, totals and digest), its MAC (v2), and the committed block list
// and size of the data blob; and that the stripe was written with key. Only then does it
// return a reader, so a stripe whose blocks were dropped, reordered, duplicated or cut is
// refused before a byte of it is read. The reader's background fetches (read-ahead) end with
// ctx or Close, whichever comes first.
func (r *Repository) OpenStripe(ctx context.Context, s StripeInfo, key *blockcrypt.Key) (*StripeReader, error) {
	idx, err := r.verifyStripe(ctx, s, key)
	if err != nil {
		return nil, err
	}
	if idx.KeyID != key.ID() {
		return nil, stripeErr(s.Blob, ErrWrongKey, "stripe key id %s, given key id %s", idx.KeyID, key.ID())
	}
	sr := &StripeReader{store: r.store, info: s, key: key, idx: idx,
		plainOff: make([]int64, len(idx.Blocks)+1), storedOff: make([]int64, len(idx.Blocks)+1)}
	for i, b := range idx.Blocks {
		sr.plainOff[i+1] = sr.plainOff[i] + b.Plain
		sr.storedOff[i+1] = sr.storedOff[i] + b.Stored
	}
	sr.ahead, sr.cache = DefaultReadAhead, map[int]*readEntry{}
	sr.bg, sr.stop = context.WithCancel(ctx)
	return sr, nil
}

// SetReadAhead sets how many blocks ReadAt fetches ahead of a sequential reader (0: none,
// only the block being read). Call it before the first read.
func (sr *StripeReader) SetReadAhead(n int) {
	sr.mu.Lock()
	sr.ahead = max(n, 0)
	sr.mu.Unlock()
}

// Close stops the reader's background fetches. Reads after Close still work, fetching on
// demand.
func (sr *StripeReader) Close() { sr.stop() }

// Size is the stripe's plaintext length.
func (sr *StripeReader) Size() int64 { return sr.plainOff[len(sr.plainOff)-1] }

// Info is the stripe the reader was opened on.
func (sr *StripeReader) Info() StripeInfo { return sr.info }

// ReadAt reads len(p) plaintext bytes at off, with io.ReaderAt's contract: n < len(p) only
// with an error, io.EOF when the stripe ends first (or off is at or past the end).
func (sr *StripeReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vault: ReadAt %s: negative offset", sr.info.Blob)
	}
	size := sr.Size()
	if off >= size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < size {
		i := sr.blockAt(off)
		data, release, err := sr.cached(ctx, i)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], data[off-sr.plainOff[i]:])
		release()
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// blockAt returns the block holding plaintext offset off (0 <= off < Size). Zero-length
// blocks are skipped: the search finds the last block starting at or before off.
func (sr *StripeReader) blockAt(off int64) int {
	return sort.Search(len(sr.idx.Blocks), func(i int) bool { return sr.plainOff[i+1] > off })
}

// cached returns block i, from the window if it is there or being fetched, and the release
// to call once the caller has copied from it. A read of the block after the last one read
// (or of the same block again) is sequential and starts the fetches of the next sr.ahead
// blocks; blocks outside [i, i+ahead] leave the window, so memory stays ahead+1 blocks
// whatever the reader does (a read spanning two blocks asks for them in order, so the
// earlier one is never needed again by a sequential reader).
func (sr *StripeReader) cached(ctx context.Context, i int) ([]byte, func(), error) {
	sr.mu.Lock()
	e := sr.start(i)
	if i == sr.next || i+1 == sr.next {
		for k := 1; k <= sr.ahead && i+k < len(sr.idx.Blocks); k++ {
			sr.start(i + k)
		}
	}
	sr.next = i + 1
	for j, x := range sr.cache {
		if j < i || j > i+sr.ahead {
			delete(sr.cache, j)
			x.evicted = true
			sr.recycle(x)
		}
	}
	e.refs++
	sr.mu.Unlock()
	release := func() {
		sr.mu.Lock()
		e.refs--
		sr.recycle(e)
		sr.mu.Unlock()
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		release()
		return nil, nil, ctx.Err()
	}
	if e.err == nil {
		return e.data, release, nil
	}
	// A background fetch failed or was cancelled (Close, or OpenStripe's ctx ended). Try
	// once more under the caller's context, so that only this read's own failure fails it;
	// a block that is really bad fails again here, with its BlockError.
	sr.mu.Lock()
	if sr.cache[i] == e {
		delete(sr.cache, i)
		e.evicted = true
	}
	sr.mu.Unlock()
	release()
	data, err := sr.fetch(ctx, i, nil)
	return data, func() {}, err
}

// start returns the window's entry for block i, starting its fetch if there is none.
// Call with sr.mu held.
func (sr *StripeReader) start(i int) *readEntry {
	if e := sr.cache[i]; e != nil {
		return e
	}
	e := &readEntry{done: make(chan struct{})}
	sr.cache[i] = e
	go func() {
		bufp := windowBufs.Get().(*[]byte)
		data, err := sr.fetch(sr.bg, i, (*bufp)[:0])
		sr.mu.Lock()
		e.data, e.err, e.fetched = data, err, true
		if err == nil {
			*bufp = data[:0] // Open may have grown it
			e.bufp = bufp
		} else {
			windowBufs.Put(bufp)
		}
		sr.recycle(e)
		sr.mu.Unlock()
		close(e.done)
	}()
	return e
}

// recycle returns e's buffer to the pool once nothing can read it any more. Call with sr.mu
// held.
func (sr *StripeReader) recycle(e *readEntry) {
	if e.evicted && e.refs == 0 && e.fetched && e.bufp != nil {
		windowBufs.Put(e.bufp)
		e.bufp, e.data = nil, nil
	}
}

// fetch reads block i and opens its frame (the GCM tag is the check: see StripeReader), into
// dst's memory when it is large enough (nil: a new buffer).
func (sr *StripeReader) fetch(ctx context.Context, i int, dst []byte) ([]byte, error) {
	b := sr.idx.Blocks[i]
	fail := func(err error) error {
		return &BlockError{Blob: sr.info.Blob, Block: i, Off: sr.plainOff[i], Err: err}
	}
	frame, err := sr.store.ReadRange(ctx, sr.info.Blob, sr.storedOff[i], b.Stored)
	if err != nil {
		return nil, fail(err)
	}
	if int64(len(frame)) != b.Stored {
		return nil, fail(fmt.Errorf("%w: read %d stored bytes, index says %d", ErrSizeMismatch, len(frame), b.Stored))
	}
	if int64(cap(dst)) < b.Plain {
		dst = make([]byte, 0, b.Plain)
	}
	plain, err := sr.key.Open(dst[:0], frame, blockAAD(sr.info.Blob, b.ID))
	if err != nil {
		return nil, fail(err)
	}
	if int64(len(plain)) != b.Plain {
		// The length is authenticated on both sides (frame header, index): they disagree only
		// if the writer's index is wrong.
		return nil, fail(fmt.Errorf("%w: block opens to %d plaintext bytes, index says %d", ErrSizeMismatch, len(plain), b.Plain))
	}
	if sr.verifyDigests {
		if sum := sha256.Sum256(plain); hex.EncodeToString(sum[:]) != b.SHA256 {
			return nil, fail(ErrBlockDigest)
		}
	}
	return plain, nil
}

// WriteTo writes the whole plaintext to w in order, fetching up to readAhead blocks
// concurrently ahead of the writer. Every block is authenticated (its GCM tag) before any of
// it is written.
func (sr *StripeReader) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	// Each pending block has its own one-slot channel, queued in order; the queue's buffer
	// bounds how far ahead the fetchers run.
	queue := make(chan chan result, readAhead)
	go func() {
		defer close(queue)
		for i := range sr.idx.Blocks {
			ch := make(chan result, 1)
			select {
			case queue <- ch:
			case <-ctx.Done():
				return
			}
			go func(i int) {
				data, err := sr.fetch(ctx, i, nil)
				ch <- result{data, err}
			}(i)
		}
	}()
	var written int64
	for ch := range queue {
		res := <-ch
		if res.err != nil {
			return written, res.err
		}
		n, err := w.Write(res.data)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	if err := ctx.Err(); err != nil {
		return written, err
	}
	return written, nil
}
