package vault

import (
	"context"
	"errors"
	"time"
)

// Errors every Store returns (wrapped; test with errors.Is). A Store never puts secrets (keys,
// SAS tokens) in an error message.
var (
	// ErrNotFound: the blob (or container) does not exist. Delete returns it too, typed, so a
	// sweeper can treat "already gone" as done.
	ErrNotFound = errors.New("vault: blob not found")
	// ErrExists: a conditional write (IfNoneMatch) found the blob already there.
	ErrExists = errors.New("vault: blob already exists")
	// ErrAuth: the store refused the credential (bad key, expired or wrong SAS, no RBAC role).
	ErrAuth = errors.New("vault: storage authentication or authorization failed")
	// ErrRange: a ranged read started at or past the end of the blob.
	ErrRange = errors.New("vault: read range outside the blob")
	// ErrInvalidBlockList: a commit named a block that is neither staged nor committed.
	ErrInvalidBlockList = errors.New("vault: block list names a block that was not staged")
	// ErrUnavailable: the store could not be reached after the transport's retries.
	ErrUnavailable = errors.New("vault: storage unavailable")
)

// Store is the blob backend the repository is built on: Azure Blob Storage in production
// (package azstore), MemStore in unit tests. It mirrors block-blob semantics on purpose,
// because the data path is block blobs end to end: blocks are staged invisibly and become
// the blob's content only when a block list is committed.
type Store interface {
	// StageBlock uploads one uncommitted block. Staging an id again replaces that block.
	// Block ids are base64 strings; all ids of one blob must have the same length. data is
	// not retained after the call returns (callers recycle the buffer).
	StageBlock(ctx context.Context, blob, blockID string, data []byte) error
	// CommitBlocks makes blockIDs, in that order, the blob's content. Each id is taken from
	// the staged blocks if staged, else from the committed ones; other staged blocks are
	// discarded. Unknown ids give ErrInvalidBlockList.
	CommitBlocks(ctx context.Context, blob string, blockIDs []string, o CommitOptions) error
	// BlockList returns the committed blocks in order; ErrNotFound if the blob has never
	// been committed (staged blocks alone do not make a blob).
	BlockList(ctx context.Context, blob string) ([]Block, error)
	// ReadRange returns n bytes from off, or fewer if the blob ends first. A range starting
	// at or past the end is ErrRange; n == 0 returns nothing.
	ReadRange(ctx context.Context, blob string, off, n int64) ([]byte, error)
	// Put writes a small blob whole (manifests, indexes).
	Put(ctx context.Context, blob string, data []byte, o PutOptions) error
	// Get reads a whole (small) blob.
	Get(ctx context.Context, blob string) ([]byte, error)
	// Props returns size and last-modified time.
	Props(ctx context.Context, blob string) (Props, error)
	// List calls fn for every committed blob whose name starts with prefix, in name order,
	// fetching page by page. An error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(BlobInfo) error) error
	// Delete removes a blob; ErrNotFound if there was none.
	Delete(ctx context.Context, blob string) error
}

// CommitOptions conditions CommitBlocks.
type CommitOptions struct {
	// IfNoneMatch makes the commit fail with ErrExists if the blob already exists.
	IfNoneMatch bool
}

// PutOptions conditions Put.
type PutOptions struct {
	// IfNoneMatch makes the write fail with ErrExists if the blob already exists.
	IfNoneMatch bool
}

// Block is one committed block of a block blob.
type Block struct {
	ID   string
	Size int64
}

// Props are a blob's properties.
type Props struct {
	Size         int64
	LastModified time.Time
}

// BlobInfo is one listed blob.
type BlobInfo struct {
	Name         string
	Size         int64
	LastModified time.Time
}
