// Package memlimit keeps an agent's soft Go memory limit in step with the stripes it is
// streaming.
//
// An agent's live heap is a few blocks per stripe in progress (blocks in flight, the
// read-ahead window), but at hundreds of MB/s the garbage outruns a collector paced only by
// GOGC, and the process keeps its high-water mark: a 20 GiB restore peaked 30–40% above
// what it needed (BENCHMARKS.md, item 3). A soft limit (debug.SetMemoryLimit) makes the
// collector work harder near it instead. A fixed limit would be wrong, though: an agent
// running four backups of eight stripes each needs far more than one with a single stripe,
// and a limit below the live heap makes the collector run all the time. So the limit is a
// base (one stripe) plus a budget per further stripe in progress, raised when a stream
// starts and lowered when it ends.
package memlimit

import (
	"runtime/debug"
	"sync"
)

// Budget is the agent's memory limit. The zero of *Budget (nil) does nothing, so code that
// holds stripes need not care whether a limit is configured.
type Budget struct {
	base, perStripe int64
	set             func(int64) int64

	mu      sync.Mutex
	stripes int
}

// New sets the limit to baseMiB now and returns the budget that moves it with the stripes
// held. perStripeMiB is added for each stripe in progress beyond the first.
func New(baseMiB, perStripeMiB int) *Budget {
	return newBudget(baseMiB, perStripeMiB, debug.SetMemoryLimit)
}

// NewFunc is New with the function that applies a limit (debug.SetMemoryLimit in New):
// tests pass one that records.
func NewFunc(baseMiB, perStripeMiB int, set func(int64) int64) *Budget {
	return newBudget(baseMiB, perStripeMiB, set)
}

func newBudget(baseMiB, perStripeMiB int, set func(int64) int64) *Budget {
	b := &Budget{base: int64(baseMiB) << 20, perStripe: int64(perStripeMiB) << 20, set: set}
	b.set(b.limitFor(0))
	return b
}

func (b *Budget) limitFor(stripes int) int64 {
	return b.base + b.perStripe*int64(max(stripes-1, 0))
}

// Hold raises the limit for stripes more stripes in progress until release is called (once;
// later calls do nothing).
func (b *Budget) Hold(stripes int) (release func()) {
	if b == nil || stripes <= 0 {
		return func() {}
	}
	b.mu.Lock()
	b.stripes += stripes
	b.set(b.limitFor(b.stripes))
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.stripes -= stripes
			b.set(b.limitFor(b.stripes))
			b.mu.Unlock()
		})
	}
}

// Limit is the limit in bytes for the stripes held now.
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limitFor(b.stripes)
}
