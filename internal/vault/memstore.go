package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"
)

// MemStore is an in-memory Store with Azure block-blob semantics (staged vs committed
// blocks, block id rules, conditional writes). It exists for unit tests, and it passes the
// same contract suite (package storetest) as the Azure store so tests on it mean something.
type MemStore struct {
	mu    sync.Mutex
	blobs map[string]*memBlob
	now   func() time.Time
	// writes numbers every write; a blob's ETag is the number of its last write.
	writes uint64
}

type memBlob struct {
	staged    map[string][]byte
	committed []memBlock // nil with committed == false: staged only, not a blob yet
	exists    bool
	modified  time.Time
	etag      string
	metadata  map[string]string // names in lower case; nil for none
}

// written stamps a write of b: its time and a new ETag (Azure changes both on every write).
func (m *MemStore) written(b *memBlob) {
	m.writes++
	b.modified, b.etag = m.now(), fmt.Sprintf("\"0x%X\"", m.writes)
}

type memBlock struct {
	id   string
	data []byte
}

// NewMemStore returns an empty store whose clock is time.Now.
func NewMemStore() *MemStore {
	return &MemStore{blobs: map[string]*memBlob{}, now: time.Now}
}

// SetClock replaces the clock that stamps LastModified, so sweep tests can age blobs.
func (m *MemStore) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// Tamper lets tests corrupt a committed blob in place: fn gets a copy of the content and
// returns a replacement of the same size. Block ids and sizes are kept, as they would be
// after someone edited stored bytes behind the vault's back.
func (m *MemStore) Tamper(blob string, fn func([]byte) []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.committed(blob)
	if err != nil {
		return err
	}
	old := b.content()
	content := fn(bytes.Clone(old))
	if len(content) != len(old) {
		return fmt.Errorf("vault: Tamper must keep the size of %s (%d bytes)", blob, len(old))
	}
	off := 0
	for i := range b.committed {
		n := len(b.committed[i].data)
		b.committed[i].data = content[off : off+n]
		off += n
	}
	return nil
}

func (b *memBlob) content() []byte {
	var buf bytes.Buffer
	for _, blk := range b.committed {
		buf.Write(blk.data)
	}
	return buf.Bytes()
}

func (m *MemStore) blob(name string, create bool) *memBlob {
	b := m.blobs[name]
	if b == nil && create {
		b = &memBlob{staged: map[string][]byte{}}
		m.blobs[name] = b
	}
	return b
}

func checkBlockID(id string) error {
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 || len(raw) > 64 {
		return fmt.Errorf("vault: invalid block id %q: must be base64 of 1–64 bytes", id)
	}
	return nil
}

func (m *MemStore) StageBlock(ctx context.Context, blob, blockID string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkBlockID(blockID); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.blob(blob, true)
	for id := range b.staged {
		if len(id) != len(blockID) {
			return fmt.Errorf("vault: block id %q differs in length from staged ids of %s", blockID, blob)
		}
		break
	}
	b.staged[blockID] = bytes.Clone(data)
	return nil
}

func (m *MemStore) CommitBlocks(ctx context.Context, blob string, blockIDs []string, o CommitOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.blob(blob, true)
	if o.IfNoneMatch && b.exists {
		return fmt.Errorf("%w: %s", ErrExists, blob)
	}
	committed := map[string][]byte{}
	for _, blk := range b.committed {
		committed[blk.id] = blk.data
	}
	list := make([]memBlock, 0, len(blockIDs))
	for _, id := range blockIDs {
		data, ok := b.staged[id]
		if !ok {
			data, ok = committed[id]
		}
		if !ok {
			return fmt.Errorf("%w: %s block %s", ErrInvalidBlockList, blob, id)
		}
		list = append(list, memBlock{id: id, data: data})
	}
	b.committed, b.exists = list, true
	m.written(b)
	b.staged, b.metadata = map[string][]byte{}, nil // Put Block List without metadata clears it
	return nil
}

func (m *MemStore) committed(blob string) (*memBlob, error) {
	b := m.blobs[blob]
	if b == nil || !b.exists {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, blob)
	}
	return b, nil
}

func (m *MemStore) BlockList(ctx context.Context, blob string) ([]Block, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.committed(blob)
	if err != nil {
		return nil, err
	}
	out := make([]Block, len(b.committed))
	for i, blk := range b.committed {
		out[i] = Block{ID: blk.id, Size: int64(len(blk.data))}
	}
	return out, nil
}

func (m *MemStore) ReadRange(ctx context.Context, blob string, off, n int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("%w: negative offset or length", ErrRange)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.committed(blob)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []byte{}, nil
	}
	content := b.content()
	if off >= int64(len(content)) {
		return nil, fmt.Errorf("%w: %s offset %d, size %d", ErrRange, blob, off, len(content))
	}
	return bytes.Clone(content[off:min(off+n, int64(len(content)))]), nil
}

func (m *MemStore) Put(ctx context.Context, blob string, data []byte, o PutOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckMetadata(o.Metadata); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.blob(blob, true)
	if o.IfNoneMatch && b.exists {
		return fmt.Errorf("%w: %s", ErrExists, blob)
	}
	if o.IfMatch != "" && (!b.exists || b.etag != o.IfMatch) {
		return fmt.Errorf("%w: %s", ErrChanged, blob)
	}
	// Like Azure's Put Blob: the content becomes one block with no id, and any staged
	// blocks are discarded.
	b.committed = []memBlock{{data: bytes.Clone(data)}}
	b.staged, b.exists = map[string][]byte{}, true
	m.written(b)
	b.metadata = lowerMetadata(o.Metadata) // a copy: the caller may reuse its map
	return nil
}

func (m *MemStore) Get(ctx context.Context, blob string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.committed(blob)
	if err != nil {
		return nil, err
	}
	return b.content(), nil
}

func (m *MemStore) Props(ctx context.Context, blob string) (Props, error) {
	if err := ctx.Err(); err != nil {
		return Props{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.committed(blob)
	if err != nil {
		return Props{}, err
	}
	var size int64
	for _, blk := range b.committed {
		size += int64(len(blk.data))
	}
	return Props{Size: size, LastModified: b.modified, ETag: b.etag}, nil
}

func (m *MemStore) List(ctx context.Context, prefix string, fn func(BlobInfo) error) error {
	// Snapshot first and call fn without the lock: callers (the sweeper) delete while listing.
	m.mu.Lock()
	var infos []BlobInfo
	for name, b := range m.blobs {
		if !b.exists || !strings.HasPrefix(name, prefix) {
			continue
		}
		var size int64
		for _, blk := range b.committed {
			size += int64(len(blk.data))
		}
		infos = append(infos, BlobInfo{Name: name, Size: size, LastModified: b.modified, ETag: b.etag, Metadata: maps.Clone(b.metadata)})
	}
	m.mu.Unlock()
	return SendListing(ctx, infos, fn)
}

func (m *MemStore) ListPrefixes(ctx context.Context, prefix, delimiter string, fn func(string) error) error {
	m.mu.Lock()
	var names []string
	for name, b := range m.blobs {
		if b.exists {
			names = append(names, name)
		}
	}
	m.mu.Unlock()
	return SendFolders(ctx, names, prefix, delimiter, fn)
}

func (m *MemStore) Delete(ctx context.Context, blob string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.committed(blob); err != nil {
		return err
	}
	delete(m.blobs, blob)
	return nil
}

func (m *MemStore) DeleteIfMatch(ctx context.Context, blob, etag string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.committed(blob)
	if err != nil {
		return err
	}
	if b.etag != etag {
		return fmt.Errorf("%w: %s", ErrChanged, blob)
	}
	delete(m.blobs, blob)
	return nil
}
