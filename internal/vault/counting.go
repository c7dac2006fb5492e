package vault

import (
	"context"
	"sync/atomic"
)

// CountingStore wraps a Store and counts calls per method, for tests and benchmarks that
// ask "how many storage requests does this operation make". Lists counts every listing
// call, flat (List) and hierarchical (ListPrefixes); PrefixLists counts the hierarchical
// ones among them. Listed and PrefixesListed count what the listings returned.
type CountingStore struct {
	Store
	Stages, Commits, BlockLists, Reads, Puts, Gets, PropsCalls, Lists, PrefixLists, Deletes atomic.Int64
	Listed, PrefixesListed                                                                  atomic.Int64
}

// Counts is a snapshot of a CountingStore's counters.
type Counts struct {
	Stages, Commits, BlockLists, Reads, Puts, Gets, Props, Lists, PrefixLists, Deletes int64
}

// Snapshot returns the counters so far.
func (c *CountingStore) Snapshot() Counts {
	return Counts{Stages: c.Stages.Load(), Commits: c.Commits.Load(), BlockLists: c.BlockLists.Load(), Reads: c.Reads.Load(),
		Puts: c.Puts.Load(), Gets: c.Gets.Load(), Props: c.PropsCalls.Load(), Lists: c.Lists.Load(),
		PrefixLists: c.PrefixLists.Load(), Deletes: c.Deletes.Load()}
}

// Reset sets every counter to zero.
func (c *CountingStore) Reset() {
	for _, n := range []*atomic.Int64{&c.Stages, &c.Commits, &c.BlockLists, &c.Reads, &c.Puts, &c.Gets, &c.PropsCalls,
		&c.Lists, &c.PrefixLists, &c.Deletes, &c.Listed, &c.PrefixesListed} {
		n.Store(0)
	}
}

// Sub is c - o.
func (c Counts) Sub(o Counts) Counts {
	return Counts{Stages: c.Stages - o.Stages, Commits: c.Commits - o.Commits, BlockLists: c.BlockLists - o.BlockLists,
		Reads: c.Reads - o.Reads, Puts: c.Puts - o.Puts, Gets: c.Gets - o.Gets, Props: c.Props - o.Props,
		Lists: c.Lists - o.Lists, PrefixLists: c.PrefixLists - o.PrefixLists, Deletes: c.Deletes - o.Deletes}
}

func (c *CountingStore) StageBlock(ctx context.Context, blob, id string, data []byte) error {
	c.Stages.Add(1)
	return c.Store.StageBlock(ctx, blob, id, data)
}

func (c *CountingStore) CommitBlocks(ctx context.Context, blob string, ids []string, o CommitOptions) error {
	c.Commits.Add(1)
	return c.Store.CommitBlocks(ctx, blob, ids, o)
}

func (c *CountingStore) BlockList(ctx context.Context, blob string) ([]Block, error) {
	c.BlockLists.Add(1)
	return c.Store.BlockList(ctx, blob)
}

func (c *CountingStore) ReadRange(ctx context.Context, blob string, off, n int64) ([]byte, error) {
	c.Reads.Add(1)
	return c.Store.ReadRange(ctx, blob, off, n)
}

func (c *CountingStore) Put(ctx context.Context, blob string, data []byte, o PutOptions) error {
	c.Puts.Add(1)
	return c.Store.Put(ctx, blob, data, o)
}

func (c *CountingStore) Get(ctx context.Context, blob string) ([]byte, error) {
	c.Gets.Add(1)
	return c.Store.Get(ctx, blob)
}

func (c *CountingStore) Props(ctx context.Context, blob string) (Props, error) {
	c.PropsCalls.Add(1)
	return c.Store.Props(ctx, blob)
}

func (c *CountingStore) List(ctx context.Context, prefix string, fn func(BlobInfo) error) error {
	c.Lists.Add(1)
	return c.Store.List(ctx, prefix, func(b BlobInfo) error { c.Listed.Add(1); return fn(b) })
}

func (c *CountingStore) ListPrefixes(ctx context.Context, prefix, delimiter string, fn func(string) error) error {
	c.Lists.Add(1)
	c.PrefixLists.Add(1)
	return c.Store.ListPrefixes(ctx, prefix, delimiter, func(p string) error { c.PrefixesListed.Add(1); return fn(p) })
}

func (c *CountingStore) Delete(ctx context.Context, blob string) error {
	c.Deletes.Add(1)
	return c.Store.Delete(ctx, blob)
}

func (c *CountingStore) DeleteIfMatch(ctx context.Context, blob, etag string) error {
	c.Deletes.Add(1)
	return c.Store.DeleteIfMatch(ctx, blob, etag)
}
