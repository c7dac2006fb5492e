package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	// ErrChanged: a conditional delete (DeleteIfMatch) found the blob written since its ETag
	// was read (Azure's 412 ConditionNotMet), so nothing was deleted.
	ErrChanged = errors.New("vault: blob changed since it was read")
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
	// Put writes a small blob whole (manifests, indexes), with o.Metadata as its metadata in
	// the same request: content and metadata appear together or not at all. Writing a blob
	// again (Put or CommitBlocks) replaces its metadata, as Azure does.
	Put(ctx context.Context, blob string, data []byte, o PutOptions) error
	// Get reads a whole (small) blob.
	Get(ctx context.Context, blob string) ([]byte, error)
	// Props returns size and last-modified time.
	Props(ctx context.Context, blob string) (Props, error)
	// List calls fn for every committed blob whose name starts with prefix, in name order,
	// fetching page by page, with each blob's metadata (names in lower case; nil when the
	// blob has none). An error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(BlobInfo) error) error
	// ListPrefixes lists one level of the name hierarchy under prefix: it calls fn once for
	// each distinct virtual folder, in name order, where the folder of a committed blob whose
	// name starts with prefix is its name up to and including the first delimiter after
	// prefix. Blobs with no delimiter after prefix are not reported, and neither is anything
	// below a folder, so the cost is one request per page of folders (5,000 on Azure)
	// however many blobs each folder holds. delimiter must not be empty; the vault uses single
	// characters only (Azurite cuts a longer delimiter to its first character in what it
	// reports). An error from fn stops the listing and is returned.
	ListPrefixes(ctx context.Context, prefix, delimiter string, fn func(string) error) error
	// Delete removes a blob; ErrNotFound if there was none.
	Delete(ctx context.Context, blob string) error
	// DeleteIfMatch removes a blob only if its ETag is still etag (as List or Props reported
	// it): any write since then (a Put, a Put Block List, even of the same content) changes
	// the ETag and the delete fails with ErrChanged, deleting nothing. ErrNotFound if there
	// was no blob. The sweeper deletes this way so that a commit that touched a stripe after
	// the sweeper listed it wins the race (Repository.Sweep, CommitManifest).
	DeleteIfMatch(ctx context.Context, blob, etag string) error
}

// ErrEmptyDelimiter is what ListPrefixes returns for an empty delimiter.
var ErrEmptyDelimiter = errors.New("vault: list prefixes needs a delimiter")

// FolderOf returns the virtual folder name lies in under prefix for delimiter, as
// ListPrefixes reports it: name up to and including the first delimiter after prefix. ok is
// false when name does not start with prefix or has no delimiter after it. It is for Store
// implementations that list in memory.
func FolderOf(name, prefix, delimiter string) (folder string, ok bool) {
	rest, found := strings.CutPrefix(name, prefix)
	if !found || delimiter == "" {
		return "", false
	}
	i := strings.Index(rest, delimiter)
	if i < 0 {
		return "", false
	}
	return name[:len(prefix)+i+len(delimiter)], true
}

// SendListing is Store.List's delivery for stores that hold their blobs in memory: infos
// (a snapshot taken under the store's lock, so fn may write to the store) to fn in name
// order, stopping at fn's first error or when ctx ends.
func SendListing(ctx context.Context, infos []BlobInfo, fn func(BlobInfo) error) error {
	slices.SortFunc(infos, func(a, b BlobInfo) int { return strings.Compare(a.Name, b.Name) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// SendFolders is Store.ListPrefixes for stores that hold their blobs in memory: the
// distinct folders (FolderOf) of names under prefix, to fn in name order.
func SendFolders(ctx context.Context, names []string, prefix, delimiter string, fn func(string) error) error {
	if delimiter == "" {
		return ErrEmptyDelimiter
	}
	seen := map[string]bool{}
	for _, name := range names {
		if folder, ok := FolderOf(name, prefix, delimiter); ok {
			seen[folder] = true
		}
	}
	for _, f := range slices.Sorted(maps.Keys(seen)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
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
	// IfMatch, when set, makes the write fail with ErrChanged unless the blob exists with
	// this ETag (as List or Props reported it): a rewrite that must not resurrect a blob
	// deleted since, nor overwrite one written since (`vault upgrade`).
	IfMatch string
	// Metadata is stored on the blob with its content (Azure blob metadata). Azure's rules
	// hold: names are C# identifiers, compared without case (write them in lower case, as
	// List returns them); values are printable ASCII; names and values together at most
	// MaxMetadataBytes.
	Metadata map[string]string
}

// MaxMetadataBytes is Azure's limit on one blob's metadata: every name and value together.
const MaxMetadataBytes = 8 << 10

// Block is one committed block of a block blob.
type Block struct {
	ID   string
	Size int64
}

// Props are a blob's properties.
type Props struct {
	Size         int64
	LastModified time.Time
	// ETag changes with every write of the blob (content, block list or metadata).
	ETag string
}

// BlobInfo is one listed blob.
type BlobInfo struct {
	Name         string
	Size         int64
	LastModified time.Time
	// ETag changes with every write of the blob; DeleteIfMatch takes it.
	ETag string
	// Metadata is the blob's metadata, names in lower case; nil when it has none.
	Metadata map[string]string
}

// CheckMetadata applies Azure's rules for blob metadata (see PutOptions.Metadata), so that a
// store in tests refuses what Azure would refuse.
func CheckMetadata(md map[string]string) error {
	total := 0
	seen := make(map[string]bool, len(md))
	for name, value := range md {
		if !metadataName(name) {
			return fmt.Errorf("vault: metadata name %q is not a C# identifier", name)
		}
		lower := strings.ToLower(name)
		if seen[lower] {
			return fmt.Errorf("vault: metadata name %q given twice (names ignore case)", name)
		}
		seen[lower] = true
		for i := 0; i < len(value); i++ {
			if value[i] < 0x20 || value[i] > 0x7e {
				return fmt.Errorf("vault: metadata %s: value has a byte (%#x) that is not printable ASCII", name, value[i])
			}
		}
		if strings.TrimSpace(value) != value {
			return fmt.Errorf("vault: metadata %s: value starts or ends with white space", name)
		}
		total += len(name) + len(value)
	}
	if total > MaxMetadataBytes {
		return fmt.Errorf("vault: metadata of %d bytes is over the %d-byte limit", total, MaxMetadataBytes)
	}
	return nil
}

func metadataName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// lowerMetadata copies md with lower-case names; nil for none.
func lowerMetadata(md map[string]string) map[string]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		out[strings.ToLower(k)] = v
	}
	return out
}
