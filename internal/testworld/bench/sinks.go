package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// StripeSink is what the endpoint needs of a stripe writer plus what the harness reads back.
type StripeSink interface {
	endpoint.BackupSink
	// Info is the committed stripe (zero before Commit).
	Info() vault.StripeInfo
	// Stats is plaintext and stored bytes so far.
	Stats() (plain, stored int64)
}

// WriterSink adapts the product's vault.StripeWriter, as activities' stripeSink does.
type WriterSink struct {
	W    *vault.StripeWriter
	mu   sync.Mutex
	info vault.StripeInfo
}

func (s *WriterSink) PutBlock(ctx context.Context, id string, data []byte) error {
	return s.W.PutBlock(ctx, id, data)
}

func (s *WriterSink) Commit(ctx context.Context, ids []string) error {
	info, err := s.W.Commit(ctx, ids)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.info = info
	s.mu.Unlock()
	return nil
}

func (s *WriterSink) Info() vault.StripeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

func (s *WriterSink) Stats() (int64, int64) {
	p, st, _ := s.W.Stats()
	return p, st
}

// NoCryptWriter is the bench-only "encryption off" sealer variant: it does everything
// vault.StripeWriter.PutBlock does — SHA-256 of the plaintext, zstd with blockcrypt's
// settings (kept only when it shrinks the block), a 24-byte frame header, staging — except
// AES-256-GCM. It exists only to measure what encryption costs; product code has no such
// mode and never will (the vault holds ciphertext only).
type NoCryptWriter struct {
	Store    vault.Store
	Blob     string
	Compress bool

	mu     sync.Mutex
	blocks map[string]noCryptBlock
	plain  int64
	stored int64
	info   vault.StripeInfo
}

type noCryptBlock struct {
	vid    string
	plain  int64
	stored int64
	sum    [32]byte
}

var (
	noCryptEncOnce sync.Once
	noCryptEnc     *zstd.Encoder
	noCryptBufs    = sync.Pool{New: func() any { return new([]byte) }}
)

// encoder has blockcrypt's zstd options (see internal/blockcrypt/frame.go: codecs).
func encoder() *zstd.Encoder {
	noCryptEncOnce.Do(func() {
		var err error
		noCryptEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
		if err != nil {
			panic(err)
		}
	})
	return noCryptEnc
}

func noCryptBlockID(clientID string) string {
	h := sha256.Sum256([]byte("sqlvault block id v1\x00" + clientID))
	return base64.StdEncoding.EncodeToString(h[:18])
}

// PutBlock hashes, compresses (if on and useful), frames and stages one block.
func (w *NoCryptWriter) PutBlock(ctx context.Context, id string, plain []byte) error {
	if id == "" {
		return errors.New("bench: empty block id")
	}
	sum := sha256.Sum256(plain)
	bufp := noCryptBufs.Get().(*[]byte)
	defer noCryptBufs.Put(bufp)
	frame := (*bufp)[:0]
	if cap(frame) < blockcrypt.HeaderSize+len(plain) {
		frame = make([]byte, 0, blockcrypt.HeaderSize+len(plain)+blockcrypt.TagSize)
	}
	frame = frame[:blockcrypt.HeaderSize]
	flags := byte(0)
	if w.Compress && len(plain) > 0 {
		out := encoder().EncodeAll(plain, frame)
		if len(out)-blockcrypt.HeaderSize < len(plain) {
			frame, flags = out, 1
		}
	}
	if flags == 0 {
		frame = append(frame[:blockcrypt.HeaderSize], plain...)
	}
	copy(frame[0:4], "SQVB")
	frame[4], frame[5], frame[6], frame[7] = 1, flags, 0, 0
	binary.BigEndian.PutUint32(frame[8:12], uint32(len(plain)))
	*bufp = frame[:0]
	vid := noCryptBlockID(id)
	if err := w.Store.StageBlock(ctx, w.Blob, vid, frame); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.blocks == nil {
		w.blocks = map[string]noCryptBlock{}
	}
	if old, ok := w.blocks[id]; ok {
		w.plain -= old.plain
		w.stored -= old.stored
	}
	w.blocks[id] = noCryptBlock{vid: vid, plain: int64(len(plain)), stored: int64(len(frame)), sum: sum}
	w.plain += int64(len(plain))
	w.stored += int64(len(frame))
	return nil
}

// Commit commits the block list and writes a JSON index, as StripeWriter.Commit does.
func (w *NoCryptWriter) Commit(ctx context.Context, ids []string) error {
	type ib struct {
		ID     string `json:"id"`
		Plain  int64  `json:"plain"`
		Stored int64  `json:"stored"`
		SHA256 string `json:"sha256"`
	}
	var idx struct {
		Blob   string `json:"blob"`
		Plain  int64  `json:"plainBytes"`
		Stored int64  `json:"storedBytes"`
		Digest string `json:"digest"`
		Blocks []ib   `json:"blocks"`
	}
	idx.Blob = w.Blob
	vids := make([]string, 0, len(ids))
	h := sha256.New()
	w.mu.Lock()
	for _, id := range ids {
		b, ok := w.blocks[id]
		if !ok {
			w.mu.Unlock()
			return fmt.Errorf("bench: commit of %s: block %q was never put", w.Blob, id)
		}
		vids = append(vids, b.vid)
		h.Write(b.sum[:])
		idx.Blocks = append(idx.Blocks, ib{b.vid, b.plain, b.stored, hex.EncodeToString(b.sum[:])})
		idx.Plain += b.plain
		idx.Stored += b.stored
	}
	w.mu.Unlock()
	idx.Digest = hex.EncodeToString(h.Sum(nil))
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := w.Store.CommitBlocks(ctx, w.Blob, vids, vault.CommitOptions{}); err != nil {
		return err
	}
	if err := w.Store.Put(ctx, vault.IndexBlob(w.Blob), data, vault.PutOptions{}); err != nil {
		return err
	}
	w.mu.Lock()
	w.info = vault.StripeInfo{Blob: w.Blob, Index: vault.IndexBlob(w.Blob), PlainBytes: idx.Plain,
		StoredBytes: idx.Stored, Blocks: len(idx.Blocks), Digest: idx.Digest}
	w.mu.Unlock()
	return nil
}

func (w *NoCryptWriter) Info() vault.StripeInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.info
}

func (w *NoCryptWriter) Stats() (int64, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.plain, w.stored
}

// InFlightSink gives the bench-only NoCryptWriter the blocks in flight that the product's
// vault.StripeWriter has (StripeWriterOptions.BlocksInFlight), so that the "no encryption"
// CPU variant differs from the product only by encryption: PutBlock copies
// the block and returns at once while up to N workers seal and stage blocks in the
// background; Commit waits for every block and reports the first failure. It lets one
// synchronous Put Block stream (which is what SQL Server's — and the simulator's — client
// sends per stripe) keep sealing and staging overlapped with receiving the next block.
//
// A re-put of an id waits for the earlier put of that id, so the last data sent wins, as
// with the synchronous writer. A failed background put fails the Commit (SQL Server's Put
// Block List gets 500 and the backup fails and is retried), and every later PutBlock.
type InFlightSink struct {
	Inner StripeSink
	slots chan struct{}
	ctx   context.Context
	stop  context.CancelFunc

	mu      sync.Mutex
	pending map[string]chan struct{}
	wg      sync.WaitGroup
	err     error
}

var inflightBufs = sync.Pool{New: func() any { return new([]byte) }}

// NewInFlightSink wraps inner with n blocks in flight (n >= 1).
func NewInFlightSink(inner StripeSink, n int) *InFlightSink {
	ctx, cancel := context.WithCancel(context.Background())
	return &InFlightSink{Inner: inner, slots: make(chan struct{}, max(n, 1)), ctx: ctx, stop: cancel,
		pending: map[string]chan struct{}{}}
}

func (s *InFlightSink) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// PutBlock queues the block; it blocks only while n blocks are already in flight.
func (s *InFlightSink) PutBlock(ctx context.Context, id string, data []byte) error {
	if err := s.failed(); err != nil {
		return err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	bufp := inflightBufs.Get().(*[]byte)
	buf := append((*bufp)[:0], data...)
	done := make(chan struct{})
	s.mu.Lock()
	prev := s.pending[id]
	s.pending[id] = done
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		defer close(done)
		if prev != nil {
			<-prev
		}
		err := s.Inner.PutBlock(s.ctx, id, buf)
		*bufp = buf[:0]
		inflightBufs.Put(bufp)
		s.mu.Lock()
		if s.pending[id] == done {
			delete(s.pending, id)
		}
		if err != nil && s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}()
	return nil
}

// Commit waits for the blocks in flight, then commits.
func (s *InFlightSink) Commit(ctx context.Context, ids []string) error {
	s.wg.Wait()
	if err := s.failed(); err != nil {
		return err
	}
	return s.Inner.Commit(ctx, ids)
}

// Close cancels background puts (call when the session ends).
func (s *InFlightSink) Close() { s.stop(); s.wg.Wait() }

func (s *InFlightSink) Info() vault.StripeInfo { return s.Inner.Info() }
func (s *InFlightSink) Stats() (int64, int64)  { return s.Inner.Stats() }

// StripeSource adapts a vault.StripeReader to the endpoint, as activities' stripeSource does.
type StripeSource struct{ R *vault.StripeReader }

func (s StripeSource) Size() int64 { return s.R.Size() }
func (s StripeSource) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	return s.R.ReadAt(ctx, p, off)
}
