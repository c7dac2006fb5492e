// Package content simulates a database's data: a fixed number of 8 KiB pages whose bytes are
// generated from (seed, page id, version), and a log of records that change them.
//
// Nothing is stored per page except a sparse map of the pages that were written, so a
// database of tens of gigabytes costs a few bytes per write. Every record is kept (about 40
// bytes each) so that the content digest as of any past instant can be computed exactly:
// that is how tests prove a point-in-time restore gives exactly the data as of that time.
package content

import (
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"slices"
	"sort"
	"sync"
	"time"
)

// LSN is an internal log sequence number: strictly increasing, the first record is 1. A
// page's version is the LSN of the record that last wrote it (0: never written).
type LSN uint64

// RecordKind says what a log record does.
type RecordKind uint8

const (
	// PageWrite sets page PageID to version LSN.
	PageWrite RecordKind = iota + 1
	// Checkpoint changes no page.
	Checkpoint
	// Marker changes no page: backup start/end, recovery model change and the like.
	Marker
)

func (k RecordKind) String() string {
	switch k {
	case PageWrite:
		return "PageWrite"
	case Checkpoint:
		return "Checkpoint"
	case Marker:
		return "Marker"
	}
	return fmt.Sprintf("RecordKind(%d)", uint8(k))
}

// Record is a log record.
type Record struct {
	LSN    LSN
	Time   time.Time // commit time; non-decreasing with LSN
	Kind   RecordKind
	PageID int64 // PageWrite only
}

// PageVersion is a page and its version.
type PageVersion struct {
	ID      int64
	Version LSN
}

// Options describe a new database.
type Options struct {
	Seed      uint64 // content identity, carried by backups and restores
	DataPages int64  // number of data pages
	// HotPages: Write picks from the first HotPages pages 80% of the time, so that
	// differentials are smaller than fulls. 0 means DataPages/10 (at least 1).
	HotPages int64
	Created  time.Time
}

// Errors of ApplyRecord, wrapped with details.
var (
	ErrLogGap      = errors.New("content: log record missing (gap in the LSN sequence)")
	ErrBadRecord   = errors.New("content: invalid log record")
	ErrClockBehind = errors.New("content: record time earlier than the previous record")
)

// rec is a stored record: 40 bytes. prev is the page's version before the record, so that
// the digest can be moved forward from any checkpoint without replaying from the start.
type rec struct {
	lsn     LSN
	nanos   int64
	page    int64
	prev    LSN
	kind    RecordKind
	skipped bool // redo found the page already newer: the record changed nothing
}

// cpEvery is how many records separate two stored digest checkpoints. DigestAt then costs
// a binary search and at most cpEvery-1 record deltas.
const cpEvery = 256

// Database is one simulated database. It is safe for concurrent use.
type Database struct {
	mu        sync.RWMutex
	seed      uint64
	dataPages int64
	hot       int64
	created   time.Time
	keys      laneKeys
	pages     map[int64]LSN // pages with a version other than 0
	next      LSN
	loc       *time.Location // of the first record's time; record times are returned in it
	recs      []rec
	now       lanes   // current content
	cps       []lanes // cps[k]: content after the first k*cpEvery records; cps[0] before any
}

// New creates a database whose pages are all at version 0 and whose log is empty.
func New(o Options) *Database {
	if o.DataPages <= 0 {
		panic("content: DataPages must be positive")
	}
	hot := o.HotPages
	if hot <= 0 {
		hot = max(o.DataPages/10, 1)
	}
	hot = min(hot, o.DataPages)
	return &Database{
		seed:      o.Seed,
		dataPages: o.DataPages,
		hot:       hot,
		created:   o.Created,
		keys:      newLaneKeys(o.Seed),
		pages:     make(map[int64]LSN),
		next:      1,
		loc:       o.Created.Location(),
		cps:       []lanes{{}},
	}
}

// NewRestoring creates the target of a restore: all pages at version 0, no records. The
// restore fills it with SetPage (full and differential content) and ApplyRecord (log).
func NewRestoring(seed uint64, dataPages int64) *Database {
	return New(Options{Seed: seed, DataPages: dataPages})
}

func (d *Database) Seed() uint64       { return d.seed }
func (d *Database) DataPages() int64   { return d.dataPages }
func (d *Database) HotPages() int64    { return d.hot }
func (d *Database) Created() time.Time { return d.created }

// NextLSN is the LSN the next record will get.
func (d *Database) NextLSN() LSN {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.next
}

// LastTime is the time of the last record (zero time when there is none).
func (d *Database) LastTime() time.Time {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if len(d.recs) == 0 {
		return time.Time{}
	}
	return d.timeOf(d.recs[len(d.recs)-1].nanos)
}

// pickPage chooses the page of the write at LSN l: deterministic from the seed and the LSN,
// from the hot pages 80% of the time.
func (d *Database) pickPage(l LSN) int64 {
	x := fmix64(d.seed ^ fmix64(uint64(l)^0x77))
	n := uint64(d.dataPages)
	if x%10 < 8 {
		n = uint64(d.hot)
	}
	hi, _ := bits.Mul64(fmix64(x), n) // uniform in [0, n) without a division; independent of x%10
	return int64(hi)
}

// Write appends n page writes at time t, pages chosen pseudo-randomly, and returns the LSN
// of the last one. t earlier than the last record's time panics: the engine's clock never
// goes back.
func (d *Database) Write(t time.Time, n int) LSN {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checkClock(t)
	for range n {
		d.writePage(t, d.pickPage(d.next))
	}
	return d.next - 1
}

// WritePages appends one page write per element of pages, in order, and returns the LSN of
// the last one.
func (d *Database) WritePages(t time.Time, pages []int64) LSN {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checkClock(t)
	for _, id := range pages {
		if id < 0 || id >= d.dataPages {
			panic(fmt.Sprintf("content: page %d out of range [0,%d)", id, d.dataPages))
		}
	}
	for _, id := range pages {
		d.writePage(t, id)
	}
	return d.next - 1
}

// Append appends a record that changes no page (checkpoint, marker) and returns its LSN.
func (d *Database) Append(t time.Time, kind RecordKind) LSN {
	if kind == PageWrite {
		panic("content: Append of a PageWrite; use Write or WritePages")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checkClock(t)
	d.push(rec{lsn: d.next, nanos: t.UnixNano(), kind: kind}, t)
	return d.next - 1
}

func (d *Database) checkClock(t time.Time) {
	if n := len(d.recs); n > 0 && t.UnixNano() < d.recs[n-1].nanos {
		panic(fmt.Sprintf("content: time %v is before the last record's time %v",
			t, d.timeOf(d.recs[n-1].nanos)))
	}
}

func (d *Database) writePage(t time.Time, id int64) {
	l := d.next
	prev := d.pages[id]
	d.pages[id] = l
	d.now.move(&d.keys, id, prev, l)
	d.push(rec{lsn: l, nanos: t.UnixNano(), page: id, prev: prev, kind: PageWrite}, t)
}

// push appends r (whose effect is already in d.now) and advances the LSN.
func (d *Database) push(r rec, t time.Time) {
	if len(d.recs) == 0 {
		d.loc = t.Location()
	}
	d.recs = append(d.recs, r)
	if len(d.recs)%cpEvery == 0 {
		d.cps = append(d.cps, d.now)
	}
	d.next = r.lsn + 1
}

func (d *Database) timeOf(nanos int64) time.Time { return time.Unix(0, nanos).In(d.loc) }

func (d *Database) record(r rec) Record {
	return Record{LSN: r.lsn, Time: d.timeOf(r.nanos), Kind: r.kind, PageID: r.page}
}

// index returns the position of the first stored record with LSN >= l.
func (d *Database) index(l LSN) int {
	return sort.Search(len(d.recs), func(i int) bool { return d.recs[i].lsn >= l })
}

// Records returns the records with from <= LSN < to, in order.
func (d *Database) Records(from, to LSN) []Record {
	d.mu.RLock()
	defer d.mu.RUnlock()
	i, j := d.index(from), d.index(to)
	if i >= j {
		return nil
	}
	out := make([]Record, 0, j-i)
	for _, r := range d.recs[i:j] {
		out = append(out, d.record(r))
	}
	return out
}

// EachRecord calls fn for the records with from <= LSN < to, in order, without holding the
// database lock during fn (records are copied in batches), so a long log backup neither
// blocks writers nor copies the whole range at once. It stops at fn's first error.
func (d *Database) EachRecord(from, to LSN, fn func(Record) error) error {
	const batch = 4096
	buf := make([]Record, 0, batch)
	for from < to {
		buf = buf[:0]
		d.mu.RLock()
		i, j := d.index(from), d.index(to)
		j = min(j, i+batch)
		for _, r := range d.recs[i:j] {
			buf = append(buf, d.record(r))
		}
		d.mu.RUnlock()
		if len(buf) == 0 {
			return nil
		}
		for _, r := range buf {
			if err := fn(r); err != nil {
				return err
			}
		}
		from = buf[len(buf)-1].LSN + 1
	}
	return nil
}

// Record returns the record with LSN l, if the log has it.
func (d *Database) Record(l LSN) (Record, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	i := d.index(l)
	if i == len(d.recs) || d.recs[i].lsn != l {
		return Record{}, false
	}
	return d.record(d.recs[i]), true
}

// timeIndex returns the number of records with Time <= t.
func (d *Database) timeIndex(t time.Time) int {
	n := t.UnixNano()
	return sort.Search(len(d.recs), func(i int) bool { return d.recs[i].nanos > n })
}

// LastRecordAtOrBefore returns the LSN of the last record with Time <= t.
func (d *Database) LastRecordAtOrBefore(t time.Time) (LSN, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	i := d.timeIndex(t)
	if i == 0 {
		return 0, false
	}
	return d.recs[i-1].lsn, true
}

// LSNAt returns the LSN bound of instant t: the records with LSN < LSNAt(t) are exactly
// those with Time <= t, so DigestAt(t) == DigestAtLSN(LSNAt(t)). Useful for STOPAT.
func (d *Database) LSNAt(t time.Time) LSN {
	d.mu.RLock()
	defer d.mu.RUnlock()
	i := d.timeIndex(t)
	if i == len(d.recs) {
		return d.next
	}
	return d.recs[i].lsn
}

// PageVersion returns the version of page id (0: never written).
func (d *Database) PageVersion(id int64) LSN {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.pages[id]
}

// ChangedSince returns the pages whose version is greater than base, sorted by page id:
// the content of a differential backup whose base is at LSN base.
func (d *Database) ChangedSince(base LSN) []PageVersion {
	d.mu.RLock()
	out := make([]PageVersion, 0, len(d.pages)/2)
	for id, v := range d.pages {
		if v > base {
			out = append(out, PageVersion{ID: id, Version: v})
		}
	}
	d.mu.RUnlock()
	slices.SortFunc(out, func(a, b PageVersion) int { return cmpInt64(a.ID, b.ID) })
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Digest returns the digest of the current content.
func (d *Database) Digest() Digest {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.now.digest(d.seed, d.dataPages)
}

// DigestAt returns the digest of the content as of instant t: every record with Time <= t
// applied, none after. Before the first record it is the starting content.
func (d *Database) DigestAt(t time.Time) Digest {
	d.mu.RLock()
	defer d.mu.RUnlock()
	l := d.lanesAt(d.timeIndex(t))
	return l.digest(d.seed, d.dataPages)
}

// DigestAtLSN returns the digest of the content with the records of LSN < l applied.
func (d *Database) DigestAtLSN(l LSN) Digest {
	d.mu.RLock()
	defer d.mu.RUnlock()
	ln := d.lanesAt(d.index(l))
	return ln.digest(d.seed, d.dataPages)
}

// lanesAt returns the content after the first n stored records: the nearest checkpoint at
// or before n, moved forward record by record.
func (d *Database) lanesAt(n int) lanes {
	k := n / cpEvery
	l := d.cps[k]
	for _, r := range d.recs[k*cpEvery : n] {
		if r.kind == PageWrite && !r.skipped {
			l.move(&d.keys, r.page, r.prev, r.lsn)
		}
	}
	return l
}

// SetPage sets a page's version from a full or differential backup.
//
// A backup image is a new starting point for the log: SetPage forgets the records stored so
// far (their digests as of past instants no longer describe this database's history) and
// the following ApplyRecord may start at any LSN >= NextLSN. NextLSN is unchanged.
func (d *Database) SetPage(id int64, version LSN) {
	if id < 0 || id >= d.dataPages {
		panic(fmt.Sprintf("content: page %d out of range [0,%d)", id, d.dataPages))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	prev := d.pages[id]
	if version == 0 {
		delete(d.pages, id)
	} else {
		d.pages[id] = version
	}
	d.now.move(&d.keys, id, prev, version)
	if len(d.recs) > 0 {
		d.recs = nil
		d.cps = d.cps[:1]
	}
	d.cps[0] = d.now
}

// ApplyRecord redoes a record from a backup's log. Rules:
//   - r.LSN < NextLSN: the record is already in the database (overlapping log backups);
//     ignored, nil.
//   - otherwise r.LSN must equal NextLSN, except for the first record after New or SetPage,
//     which may be later (a backup's log starts where it starts): else ErrLogGap.
//   - r.Time must not be earlier than the previous record's: else ErrClockBehind.
//   - a PageWrite whose page is already at r.LSN or newer (a fuzzy full backup copied the
//     page after this write) changes nothing but is still logged.
//
// Applied records join the log, so Records and DigestAt work on the restored database.
func (d *Database) ApplyRecord(r Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.LSN < d.next {
		return nil
	}
	if len(d.recs) > 0 && r.LSN != d.next {
		return fmt.Errorf("%w: expected LSN %d, got %d", ErrLogGap, d.next, r.LSN)
	}
	if n := len(d.recs); n > 0 && r.Time.UnixNano() < d.recs[n-1].nanos {
		return fmt.Errorf("%w: LSN %d at %v", ErrClockBehind, r.LSN, r.Time)
	}
	switch r.Kind {
	case PageWrite:
		if r.PageID < 0 || r.PageID >= d.dataPages {
			return fmt.Errorf("%w: LSN %d writes page %d of %d", ErrBadRecord, r.LSN, r.PageID, d.dataPages)
		}
		prev := d.pages[r.PageID]
		x := rec{lsn: r.LSN, nanos: r.Time.UnixNano(), page: r.PageID, prev: prev, kind: PageWrite}
		if prev >= r.LSN {
			x.skipped = true
		} else {
			d.pages[r.PageID] = r.LSN
			d.now.move(&d.keys, r.PageID, prev, r.LSN)
		}
		d.push(x, r.Time)
	case Checkpoint, Marker:
		d.push(rec{lsn: r.LSN, nanos: r.Time.UnixNano(), kind: r.Kind}, r.Time)
	default:
		return fmt.Errorf("%w: LSN %d has kind %v", ErrBadRecord, r.LSN, r.Kind)
	}
	return nil
}

// SetNextLSN makes the LSN sequence continue at l (after a restore). l below NextLSN panics.
func (d *Database) SetNextLSN(l LSN) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l < d.next {
		panic(fmt.Sprintf("content: SetNextLSN(%d) below NextLSN %d", l, d.next))
	}
	d.next = l
}

// Snapshot returns a consistent copy of the page versions as of now (NextLSN()-1).
func (d *Database) Snapshot() *Snapshot {
	d.mu.RLock()
	s := &Snapshot{seed: d.seed, dataPages: d.dataPages, next: d.next, lanes: d.now,
		pages: make([]PageVersion, 0, len(d.pages))}
	for id, v := range d.pages {
		s.pages = append(s.pages, PageVersion{ID: id, Version: v})
	}
	d.mu.RUnlock()
	slices.SortFunc(s.pages, func(a, b PageVersion) int { return cmpInt64(a.ID, b.ID) })
	return s
}

// Snapshot is an immutable copy of a database's page versions.
type Snapshot struct {
	seed      uint64
	dataPages int64
	next      LSN
	lanes     lanes
	pages     []PageVersion // version != 0, sorted by id
}

func (s *Snapshot) Seed() uint64     { return s.seed }
func (s *Snapshot) DataPages() int64 { return s.dataPages }

// NextLSN is the database's NextLSN when the snapshot was taken.
func (s *Snapshot) NextLSN() LSN { return s.next }

// Digest is the digest of the snapshot's content.
func (s *Snapshot) Digest() Digest { return s.lanes.digest(s.seed, s.dataPages) }

// Version returns the version of page id.
func (s *Snapshot) Version(id int64) LSN {
	i, ok := slices.BinarySearchFunc(s.pages, id, func(p PageVersion, id int64) int { return cmpInt64(p.ID, id) })
	if !ok {
		return 0
	}
	return s.pages[i].Version
}

// Modified returns the pages whose version is not 0, sorted by id. Do not modify it.
func (s *Snapshot) Modified() []PageVersion { return s.pages }

// All yields every page, 0 to DataPages-1, with its version: the content of a full backup.
func (s *Snapshot) All() iter.Seq[PageVersion] {
	return func(yield func(PageVersion) bool) {
		mod := s.pages
		for id := range s.dataPages {
			v := LSN(0)
			if len(mod) > 0 && mod[0].ID == id {
				v = mod[0].Version
				mod = mod[1:]
			}
			if !yield(PageVersion{ID: id, Version: v}) {
				return
			}
		}
	}
}
