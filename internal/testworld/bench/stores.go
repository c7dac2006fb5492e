package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlvault/sqlvault/internal/vault"
)

// BlockStore is a vault.Store with block-blob semantics whose block data either goes
// nowhere (NewDiscardStore: only ids and sizes are kept, so a backup can be committed and
// verified but not read back) or to one file per block in a directory (NewFileStore: a
// vault that a multi-GB restore can read without the data living in the process's memory).
// Small blobs written whole (Put: indexes, manifests) are kept in memory either way.
type BlockStore struct {
	dir string // "" discards block data
	seq atomic.Int64

	mu    sync.Mutex
	blobs map[string]*fblob
}

type fblock struct {
	id   string
	size int64
	file string // "" when discarded
}

type fblob struct {
	staged    map[string]fblock
	committed []fblock
	offs      []int64 // offs[i] = offset of committed block i; last = size
	small     []byte  // content written by Put (then committed is nil)
	isSmall   bool
	exists    bool
	modified  time.Time
	etag      int64             // the store's write number of the last write (vault.Props.ETag)
	metadata  map[string]string // from Put; List returns it
}

var _ vault.Store = (*BlockStore)(nil)

// ErrDiscarded is what reading block data from a discarding store returns.
var ErrDiscarded = errors.New("bench: block data was discarded")

// NewDiscardStore returns a store that keeps no block data.
func NewDiscardStore() *BlockStore { return &BlockStore{blobs: map[string]*fblob{}} }

// NewFileStore returns a store keeping each block in a file under dir (created if needed).
func NewFileStore(dir string) (*BlockStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &BlockStore{dir: dir, blobs: map[string]*fblob{}}, nil
}

func (s *BlockStore) blob(name string) *fblob {
	b := s.blobs[name]
	if b == nil {
		b = &fblob{staged: map[string]fblock{}}
		s.blobs[name] = b
	}
	return b
}

func validID(id string) error {
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 || len(raw) > 64 {
		return fmt.Errorf("bench: invalid block id %q", id)
	}
	return nil
}

func (s *BlockStore) removeFiles(blocks ...fblock) {
	for _, b := range blocks {
		if b.file != "" {
			_ = os.Remove(b.file)
		}
	}
}

// StageBlock keeps the block's size (and, for a file store, its bytes in a file).
func (s *BlockStore) StageBlock(ctx context.Context, blob, blockID string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validID(blockID); err != nil {
		return err
	}
	blk := fblock{id: blockID, size: int64(len(data))}
	if s.dir != "" {
		blk.file = filepath.Join(s.dir, fmt.Sprintf("%012d.blk", s.seq.Add(1)))
		if err := os.WriteFile(blk.file, data, 0o600); err != nil {
			return fmt.Errorf("%w: %v", vault.ErrUnavailable, err)
		}
	}
	s.mu.Lock()
	b := s.blob(blob)
	for id := range b.staged {
		if len(id) != len(blockID) {
			s.mu.Unlock()
			s.removeFiles(blk)
			return fmt.Errorf("bench: block id %q differs in length from staged ids of %s", blockID, blob)
		}
		break
	}
	old, had := b.staged[blockID]
	b.staged[blockID] = blk
	s.mu.Unlock()
	if had {
		s.removeFiles(old)
	}
	return nil
}

// CommitBlocks makes the listed blocks the blob's content, as Azure does.
func (s *BlockStore) CommitBlocks(ctx context.Context, blob string, blockIDs []string, o vault.CommitOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	b := s.blob(blob)
	if o.IfNoneMatch && b.exists {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", vault.ErrExists, blob)
	}
	committed := make(map[string]fblock, len(b.committed))
	for _, c := range b.committed {
		committed[c.id] = c
	}
	list := make([]fblock, 0, len(blockIDs))
	used := make(map[string]bool, len(blockIDs))
	for _, id := range blockIDs {
		blk, ok := b.staged[id]
		if !ok {
			blk, ok = committed[id]
		}
		if !ok {
			s.mu.Unlock()
			return fmt.Errorf("%w: %s block %s", vault.ErrInvalidBlockList, blob, id)
		}
		list = append(list, blk)
		used[blk.file+"\x00"+id] = true
	}
	var drop []fblock
	for _, blk := range b.staged {
		if !used[blk.file+"\x00"+blk.id] {
			drop = append(drop, blk)
		}
	}
	for _, blk := range b.committed {
		if !used[blk.file+"\x00"+blk.id] {
			drop = append(drop, blk)
		}
	}
	offs := make([]int64, len(list)+1)
	for i, blk := range list {
		offs[i+1] = offs[i] + blk.size
	}
	b.committed, b.offs, b.small, b.isSmall, b.metadata = list, offs, nil, false, nil
	b.staged = map[string]fblock{}
	b.exists, b.modified, b.etag = true, time.Now(), s.seq.Add(1)
	s.mu.Unlock()
	s.removeFiles(drop...)
	return nil
}

func (s *BlockStore) committed(blob string) (*fblob, error) {
	b := s.blobs[blob]
	if b == nil || !b.exists {
		return nil, fmt.Errorf("%w: %s", vault.ErrNotFound, blob)
	}
	return b, nil
}

func (b *fblob) size() int64 {
	if b.isSmall {
		return int64(len(b.small))
	}
	return b.offs[len(b.offs)-1]
}

// BlockList returns the committed blocks.
func (s *BlockStore) BlockList(ctx context.Context, blob string) ([]vault.Block, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.committed(blob)
	if err != nil {
		return nil, err
	}
	if b.isSmall {
		return []vault.Block{{Size: int64(len(b.small))}}, nil
	}
	out := make([]vault.Block, len(b.committed))
	for i, blk := range b.committed {
		out[i] = vault.Block{ID: blk.id, Size: blk.size}
	}
	return out, nil
}

// ReadRange reads from the block files (a discarding store fails with ErrDiscarded).
func (s *BlockStore) ReadRange(ctx context.Context, blob string, off, n int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("%w: negative offset or length", vault.ErrRange)
	}
	s.mu.Lock()
	b, err := s.committed(blob)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if n == 0 {
		s.mu.Unlock()
		return []byte{}, nil
	}
	size := b.size()
	if off >= size {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s offset %d, size %d", vault.ErrRange, blob, off, size)
	}
	n = min(n, size-off)
	if b.isSmall {
		out := bytes.Clone(b.small[off : off+n])
		s.mu.Unlock()
		return out, nil
	}
	blocks, offs := b.committed, b.offs
	s.mu.Unlock()

	out := make([]byte, n)
	i := sort.Search(len(blocks), func(i int) bool { return offs[i+1] > off })
	for got := int64(0); got < n; i++ {
		blk := blocks[i]
		if blk.file == "" {
			return nil, ErrDiscarded
		}
		in := off + got - offs[i]
		k := min(blk.size-in, n-got)
		f, err := os.Open(blk.file)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", vault.ErrUnavailable, err)
		}
		_, err = f.ReadAt(out[got:got+k], in)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", vault.ErrUnavailable, err)
		}
		got += k
	}
	return out, nil
}

// Put writes a small blob whole, in memory.
func (s *BlockStore) Put(ctx context.Context, blob string, data []byte, o vault.PutOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	b := s.blob(blob)
	if o.IfNoneMatch && b.exists {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", vault.ErrExists, blob)
	}
	if o.IfMatch != "" && (!b.exists || b.etagString() != o.IfMatch) {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", vault.ErrChanged, blob)
	}
	drop := append([]fblock(nil), b.committed...)
	for _, blk := range b.staged {
		drop = append(drop, blk)
	}
	b.committed, b.offs, b.staged = nil, nil, map[string]fblock{}
	b.small, b.isSmall, b.exists, b.modified, b.etag = bytes.Clone(data), true, true, time.Now(), s.seq.Add(1)
	b.metadata = maps.Clone(o.Metadata)
	s.mu.Unlock()
	s.removeFiles(drop...)
	return nil
}

// Get reads a whole blob (small blobs; block data only from a file store).
func (s *BlockStore) Get(ctx context.Context, blob string) ([]byte, error) {
	s.mu.Lock()
	b, err := s.committed(blob)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if b.isSmall {
		out := bytes.Clone(b.small)
		s.mu.Unlock()
		return out, nil
	}
	size := b.size()
	s.mu.Unlock()
	if size == 0 {
		return []byte{}, nil
	}
	return s.ReadRange(ctx, blob, 0, size)
}

// Props returns the committed size.
func (s *BlockStore) Props(ctx context.Context, blob string) (vault.Props, error) {
	if err := ctx.Err(); err != nil {
		return vault.Props{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.committed(blob)
	if err != nil {
		return vault.Props{}, err
	}
	return vault.Props{Size: b.size(), LastModified: b.modified, ETag: b.etagString()}, nil
}

// List lists committed blobs in name order.
func (s *BlockStore) List(ctx context.Context, prefix string, fn func(vault.BlobInfo) error) error {
	s.mu.Lock()
	var infos []vault.BlobInfo
	for name, b := range s.blobs {
		if b.exists && strings.HasPrefix(name, prefix) {
			infos = append(infos, vault.BlobInfo{Name: name, Size: b.size(), LastModified: b.modified, ETag: b.etagString(), Metadata: maps.Clone(b.metadata)})
		}
	}
	s.mu.Unlock()
	return vault.SendListing(ctx, infos, fn)
}

// ListPrefixes lists the virtual folders directly under prefix, in name order.
func (s *BlockStore) ListPrefixes(ctx context.Context, prefix, delimiter string, fn func(string) error) error {
	s.mu.Lock()
	var names []string
	for name, b := range s.blobs {
		if b.exists {
			names = append(names, name)
		}
	}
	s.mu.Unlock()
	return vault.SendFolders(ctx, names, prefix, delimiter, fn)
}

func (b *fblob) etagString() string { return fmt.Sprintf("\"0x%X\"", b.etag) }

// Delete removes a blob and its block files.
func (s *BlockStore) Delete(ctx context.Context, blob string) error { return s.delete(ctx, blob, "") }

// DeleteIfMatch removes a blob only if it was not written since etag was read.
func (s *BlockStore) DeleteIfMatch(ctx context.Context, blob, etag string) error {
	if etag == "" {
		return fmt.Errorf("%w: %s (no ETag to match)", vault.ErrChanged, blob)
	}
	return s.delete(ctx, blob, etag)
}

func (s *BlockStore) delete(ctx context.Context, blob, etag string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	b, err := s.committed(blob)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if etag != "" && b.etagString() != etag {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", vault.ErrChanged, blob)
	}
	drop := append([]fblock(nil), b.committed...)
	for _, blk := range b.staged {
		drop = append(drop, blk)
	}
	delete(s.blobs, blob)
	s.mu.Unlock()
	s.removeFiles(drop...)
	return nil
}
