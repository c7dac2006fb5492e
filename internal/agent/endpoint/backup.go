package endpoint

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blocklist"
)

// BackupSink receives one stripe's blocks (the vault's stripe writer implements it).
//
// PutBlock may be called concurrently, including for the same sink (SQL Server can keep
// several transfers of one stripe in flight), and again with an id it has seen (a retried
// transfer: the new data replaces the old). data is only valid during the call. Commit
// gets the block ids of a Put Block List in SQL Server's order; every id in it had a
// successful PutBlock. ctx is cancelled when the client goes away or the session closes.
type BackupSink interface {
	PutBlock(ctx context.Context, blockID string, data []byte) error
	Commit(ctx context.Context, blockIDs []string) error
}

// Azure's block limits, which SQL Server sizes its backups by.
const (
	maxCommittedBlocks   = 50000
	maxUncommittedBlocks = 100000
	maxBlockIDBytes      = 64
	maxBlockListBody     = 16 << 20 // 50,000 ids of 64 bytes in base64 and their tags fit, in UTF-16 too
)

// BackupSession is one BACKUP TO URL operation: a container whose blobs are the stripes.
type BackupSession struct {
	*session
	blobs map[string]*backupBlob
}

// backupBlob is the Azure-visible state of one stripe: existence, lease and block lists.
// The block bytes themselves are with the sink; only ids and sizes are kept here.
type backupBlob struct {
	sink BackupSink

	// gate orders the sink calls of writes against changes of the lease holder. A write
	// (Put Block, Put Block List, Put Blob's content) is admitted under a lease before its
	// body arrives, and Azure only promises that a write is refused when the lease is not
	// its own; nothing may let a write admitted under one lease land in the sink after the
	// lease changed hands — SQL Server's retry WITH FORMAT can reuse the block ids of the
	// attempt it replaces, so a late block of the broken attempt would replace the retry's
	// block of the same id in the stripe. So a write re-checks the lease after its body is
	// read and holds gate shared across that check and its sink call; lease operations,
	// Put Blob's reset and Delete hold it exclusively.
	gate sync.RWMutex

	mu          sync.Mutex
	exists      bool // created by Put Blob or Put Block List
	version     int  // for the ETag
	modified    time.Time
	lease       lease
	idLen       int            // every block id of a blob has the same length (Azure's rule)
	uncommitted []blockRef     // staged by Put Block, in arrival order
	committed   []blockRef     // the last committed block list
	size        int64          // committed size
	sinkHas     bool           // the sink committed the current content
	staged      map[string]int // uncommitted index by id
}

type blockRef struct {
	id   string
	size int64
}

// OpenBackup opens a backup session with one sink per blob name (one per stripe URL).
// The token expires after ttl; Close the session when the operation ends.
func (s *Server) OpenBackup(blobs map[string]BackupSink, ttl time.Duration) (*BackupSession, error) {
	var bs *BackupSession
	names := make([]string, 0, len(blobs))
	for n, sink := range blobs {
		if sink == nil {
			return nil, errors.New("endpoint: nil sink for blob " + n)
		}
		names = append(names, n)
	}
	_, err := s.openSession("backup", permsBackup, names, ttl, func(sess *session) blobHandler {
		bs = &BackupSession{session: sess, blobs: make(map[string]*backupBlob, len(blobs))}
		for n, sink := range blobs {
			bs.blobs[n] = &backupBlob{sink: sink}
		}
		return bs
	})
	if err != nil {
		return nil, err
	}
	return bs, nil
}

// Progress reports the bytes and blocks the sinks accepted and the blobs committed.
func (bs *BackupSession) Progress() Progress {
	p := bs.progress()
	p.Committed = len(bs.Committed())
	return p
}

// Committed lists, sorted, the blobs whose Put Block List the sink committed and that
// were not reset since (by Put Blob or Delete Blob).
func (bs *BackupSession) Committed() []string {
	var out []string
	for n, b := range bs.blobs {
		b.mu.Lock()
		if b.sinkHas {
			out = append(out, n)
		}
		b.mu.Unlock()
	}
	slices.Sort(out)
	return out
}

func (bs *BackupSession) serveBlob(ctx context.Context, w http.ResponseWriter, r *http.Request, op, name string) *apiError {
	b := bs.blobs[name]
	if b == nil {
		return errBlobNotFound
	}
	now := bs.srv.now()
	leaseID := r.Header.Get("x-ms-lease-id")
	switch op {
	case opPutBlob:
		return bs.putBlob(ctx, w, r, b, name, now)
	case opPutBlock:
		return bs.putBlock(ctx, w, r, b, name)
	case opPutBlockList:
		return bs.putBlockList(ctx, w, r, b, name)
	case opGetBlockList:
		return getBlockList(w, r, b, now)
	}

	if op == opLease || op == opDelete {
		b.gate.Lock() // wait for writes admitted under the current lease (see gate)
		defer b.gate.Unlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.exists {
		return errBlobNotFound
	}
	switch op {
	case opGetProps:
		if e := b.lease.checkRead(now, leaseID); e != nil {
			return e
		}
		setBlobHeaders(w.Header(), etag(b.version), b.modified, &b.lease, now)
		w.Header().Set("Content-Length", itoa(b.size))
		w.WriteHeader(http.StatusOK)
		return nil
	case opDelete:
		// Delete only forgets the session's state. The vault blob is never deleted from
		// here: the token sits in SQL Server's credential store, where anyone who can
		// read it could delete backups through us. Vault deletes are retention's job,
		// and data without a manifest is swept as garbage anyway (DESIGN "Commit protocol").
		if e := b.lease.checkWrite(now, leaseID); e != nil {
			return e
		}
		b.reset(now)
		b.exists = false
		w.WriteHeader(http.StatusAccepted)
		return nil
	case opLease:
		status, h, e := b.lease.apply(now, r.Header, newGUID)
		if e != nil {
			return e
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("ETag", etag(b.version))
		w.WriteHeader(status)
		return nil
	}
	// Get Blob: the content went to the vault and is not readable through a backup
	// session (a RESTORE opens a restore session).
	return errUnsupported
}

// reset empties the blob as a Put Blob does; the lease stays.
func (b *backupBlob) reset(now time.Time) {
	b.uncommitted, b.staged, b.committed = nil, nil, nil
	b.idLen, b.size, b.sinkHas = 0, 0, false
	b.version++
	b.modified = now
}

// checkWriteAccess applies If-None-Match: * (SQL Server's "never overwrite without WITH
// FORMAT") and the lease rules to an operation that replaces the blob's content.
func (b *backupBlob) checkWriteAccess(r *http.Request, now time.Time) *apiError {
	if r.Header.Get("If-None-Match") == "*" && b.exists {
		return errBlobExists
	}
	leaseID := r.Header.Get("x-ms-lease-id")
	if b.exists {
		return b.lease.checkWrite(now, leaseID)
	}
	if leaseID != "" {
		return errLeaseNotPresentBlob
	}
	return nil
}

// putBlob creates (or, WITH FORMAT, empties) the blob. SQL Server sends 0 bytes and the
// content follows as blocks. A Put Blob with content, which Azure accepts (up to 5,000 MiB)
// and WAL-G's proxy takes too, is cut into blocks of MaxBlockSize for the sink and committed
// at once, so that the endpoint is never stricter than Azure; memory stays at one block.
func (bs *BackupSession) putBlob(ctx context.Context, w http.ResponseWriter, r *http.Request, b *backupBlob, name string, now time.Time) *apiError {
	if r.Header.Get("x-ms-blob-type") != "BlockBlob" {
		return errInvalidHeader("x-ms-blob-type")
	}
	b.mu.Lock()
	e := b.checkWriteAccess(r, now)
	b.mu.Unlock()
	if e != nil {
		return e
	}
	var blocks []blockRef
	if r.ContentLength != 0 {
		b.gate.RLock()
		b.mu.Lock()
		e = b.checkWriteAccess(r, bs.srv.now()) // again, now that the lease cannot change
		b.mu.Unlock()
		if e == nil {
			blocks, e = bs.putBlobContent(ctx, w, r, b, name)
		}
		b.gate.RUnlock()
		if e != nil {
			return e
		}
	}
	b.gate.Lock() // the reset waits for writes admitted before it (see gate)
	defer b.gate.Unlock()
	now = bs.srv.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.checkWriteAccess(r, now); e != nil {
		return e // the lease changed while the content was stored
	}
	b.reset(now)
	b.exists = true
	if len(blocks) > 0 {
		b.committed, b.sinkHas = blocks, true
		for _, bl := range blocks {
			b.size += bl.size
		}
	}
	w.Header().Set("ETag", etag(b.version))
	w.Header().Set("Last-Modified", now.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusCreated)
	return nil
}

// putBlobContent hands a Put Blob body to the sink as blocks and commits them.
func (bs *BackupSession) putBlobContent(ctx context.Context, w http.ResponseWriter, r *http.Request, b *backupBlob, name string) ([]blockRef, *apiError) {
	rc := http.NewResponseController(w)
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	bufp := blockBufs.Get().(*[]byte)
	defer blockBufs.Put(bufp)
	if cap(*bufp) < bs.srv.opts.MaxBlockSize {
		*bufp = make([]byte, bs.srv.opts.MaxBlockSize)
	}
	buf := (*bufp)[:bs.srv.opts.MaxBlockSize]
	var blocks []blockRef
	ids := []string{}
	for i := 0; ; i++ {
		_ = rc.SetReadDeadline(time.Now().Add(bodyTimeout))
		n, err := io.ReadFull(r.Body, buf)
		if n > 0 {
			if len(blocks) == maxCommittedBlocks {
				_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
				return nil, errBodyTooLarge
			}
			id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "putblob-%08d", i))
			data := buf[:n]
			if cerr := bs.call(func() error { return b.sink.PutBlock(ctx, id, data) }); cerr != nil {
				return nil, bs.sinkFailed("PutBlock", name, cerr)
			}
			bs.moved(int64(n), 1)
			blocks = append(blocks, blockRef{id: id, size: int64(n)})
			ids = append(ids, id)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, newErr(400, "InvalidInput", "The request body could not be read.")
		}
	}
	if err := bs.call(func() error { return b.sink.Commit(ctx, ids) }); err != nil {
		return nil, bs.sinkFailed("Commit", name, err)
	}
	return blocks, nil
}

func (bs *BackupSession) putBlock(ctx context.Context, w http.ResponseWriter, r *http.Request, b *backupBlob, name string) *apiError {
	id := r.URL.Query().Get("blockid")
	if raw, err := base64.StdEncoding.DecodeString(id); id == "" || err != nil || len(raw) > maxBlockIDBytes {
		return errInvalidBlockID
	}
	// The lease is checked before the body is read so that a second writer is refused
	// without costing a block of memory.
	if e := b.checkBlock(r, id, bs.srv.now()); e != nil {
		return e
	}
	bufp := blockBufs.Get().(*[]byte)
	data, e := readBodyInto(w, r, int64(bs.srv.opts.MaxBlockSize), *bufp)
	if e != nil {
		blockBufs.Put(bufp)
		return e
	}
	// The lease may have changed hands while the body arrived (see gate): check again, and
	// keep it from changing until the block is in the sink and recorded.
	b.gate.RLock()
	defer b.gate.RUnlock()
	if e := b.checkBlock(r, id, bs.srv.now()); e != nil {
		blockBufs.Put(bufp)
		return e
	}
	err := bs.call(func() error { return b.sink.PutBlock(ctx, id, data) })
	*bufp = data[:0] // the sink is done with it (BackupSink: data is only valid during the call)
	blockBufs.Put(bufp)
	if err != nil {
		return bs.sinkFailed("PutBlock", name, err)
	}
	b.mu.Lock()
	if i, ok := b.staged[id]; ok {
		b.uncommitted[i].size = int64(len(data))
	} else {
		if b.staged == nil {
			b.staged = map[string]int{}
		}
		b.staged[id] = len(b.uncommitted)
		b.uncommitted = append(b.uncommitted, blockRef{id: id, size: int64(len(data))})
		b.idLen = len(id)
	}
	b.mu.Unlock()
	bs.moved(int64(len(data)), 1)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// checkBlock applies the lease, id length and block count rules to a Put Block.
func (b *backupBlob) checkBlock(r *http.Request, id string, now time.Time) *apiError {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exists {
		// Blocks may be staged before the blob exists, but not past another's lease.
		if e := b.lease.checkWrite(now, r.Header.Get("x-ms-lease-id")); e != nil {
			return e
		}
	}
	if b.idLen != 0 && len(id) != b.idLen {
		return errBlockIDLength
	}
	if _, ok := b.staged[id]; !ok && len(b.uncommitted) >= maxUncommittedBlocks {
		return errBlockCountExceeded
	}
	return nil
}

func (bs *BackupSession) putBlockList(ctx context.Context, w http.ResponseWriter, r *http.Request, b *backupBlob, name string) *apiError {
	body, e := readBody(w, r, maxBlockListBody)
	if e != nil {
		return e
	}
	list, e := parseBlockList(body)
	if e != nil {
		return e
	}
	b.gate.RLock() // the commit lands under the lease it was checked against (see gate)
	defer b.gate.RUnlock()
	b.mu.Lock()
	e = b.checkWriteAccess(r, bs.srv.now())
	var blocks []blockRef
	if e == nil {
		blocks, e = b.resolve(list)
	}
	b.mu.Unlock()
	if e != nil {
		return e
	}
	ids := make([]string, len(blocks))
	var size int64
	for i, bl := range blocks {
		ids[i] = bl.id
		size += bl.size
	}
	if err := bs.call(func() error { return b.sink.Commit(ctx, ids) }); err != nil {
		return bs.sinkFailed("Commit", name, err)
	}

	now := bs.srv.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.version++
	b.modified = now
	b.exists, b.sinkHas = true, true
	b.committed, b.size = blocks, size
	// Committing discards the blocks left out, as in Azure.
	b.uncommitted, b.staged = nil, nil
	if len(blocks) == 0 {
		b.idLen = 0
	}
	bs.srv.log.Info("blob endpoint stripe committed", zap.String("session", bs.id), zap.String("blob", name),
		zap.Int("blocks", len(blocks)), zap.Int64("bytes", size))
	w.Header().Set("ETag", etag(b.version))
	w.Header().Set("Last-Modified", now.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusCreated)
	return nil
}

// parseBlockList reads a Put Block List body in any encoding SQL Server sends (see package
// blocklist: UTF-8, UTF-8 declared as utf-16, UTF-16 with or without a byte-order mark).
func parseBlockList(body []byte) ([]blocklist.Entry, *apiError) {
	list, err := blocklist.Parse(body, maxCommittedBlocks)
	switch {
	case errors.Is(err, blocklist.ErrTooLong):
		return nil, errBlockListTooLong
	case err != nil:
		return nil, errInvalidBlockList
	}
	return list, nil
}

// resolve finds each listed block: Latest among the uncommitted blocks first, then the
// committed ones; Committed and Uncommitted only in their own list. An unknown id makes
// the whole list invalid.
func (b *backupBlob) resolve(list []blocklist.Entry) ([]blockRef, *apiError) {
	committed := make(map[string]blockRef, len(b.committed))
	for _, bl := range b.committed {
		committed[bl.id] = bl
	}
	out := make([]blockRef, 0, len(list))
	for _, e := range list {
		i, staged := b.staged[e.ID]
		c, isCommitted := committed[e.ID]
		switch {
		case staged && (e.Kind == blocklist.Latest || e.Kind == blocklist.Uncommitted):
			out = append(out, b.uncommitted[i])
		case isCommitted && (e.Kind == blocklist.Latest || e.Kind == blocklist.Committed):
			out = append(out, c)
		default:
			return nil, errInvalidBlockList
		}
	}
	return out, nil
}

type xmlBlock struct {
	Name string
	Size int64
}

func toXMLBlocks(bs []blockRef) []xmlBlock {
	out := make([]xmlBlock, len(bs))
	for i, bl := range bs {
		out[i] = xmlBlock{Name: bl.id, Size: bl.size}
	}
	return out
}

// blockListType reads Get Block List's blocklisttype: committed (the default), uncommitted
// or all, in any letter case (Azure's reference spells them in lower case; WAL-G's proxy
// matches them case-insensitively).
func blockListType(r *http.Request) (committed, uncommitted bool, e *apiError) {
	switch strings.ToLower(r.URL.Query().Get("blocklisttype")) {
	case "", "committed":
		return true, false, nil
	case "uncommitted":
		return false, true, nil
	case "all":
		return true, true, nil
	}
	return false, false, newErr(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid: blocklisttype.")
}

// writeBlockList sends a Get Block List answer.
func writeBlockList(w http.ResponseWriter, committed, uncommitted []xmlBlock) {
	list := struct {
		XMLName     xml.Name   `xml:"BlockList"`
		Committed   []xmlBlock `xml:"CommittedBlocks>Block"`
		Uncommitted []xmlBlock `xml:"UncommittedBlocks>Block"`
	}{Committed: committed, Uncommitted: uncommitted}
	out, _ := xml.Marshal(list)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

func getBlockList(w http.ResponseWriter, r *http.Request, b *backupBlob, now time.Time) *apiError {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.exists && len(b.uncommitted) == 0 {
		return errBlobNotFound
	}
	if e := b.lease.checkRead(now, r.Header.Get("x-ms-lease-id")); e != nil {
		return e
	}
	wantCommitted, wantUncommitted, e := blockListType(r)
	if e != nil {
		return e
	}
	var committed, uncommitted []xmlBlock
	if wantCommitted {
		committed = toXMLBlocks(b.committed)
	}
	if wantUncommitted {
		uncommitted = toXMLBlocks(b.uncommitted)
	}
	if b.exists {
		w.Header().Set("ETag", etag(b.version))
		w.Header().Set("Last-Modified", b.modified.UTC().Format(http.TimeFormat))
		w.Header().Set("x-ms-blob-content-length", itoa(b.size))
	}
	writeBlockList(w, committed, uncommitted)
	return nil
}
