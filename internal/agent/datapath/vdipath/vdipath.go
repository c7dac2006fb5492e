// Package vdipath is the VDI data path: SQL Server runs BACKUP … TO VIRTUAL_DEVICE /
// RESTORE … FROM VIRTUAL_DEVICE, and the agent moves the devices' bytes through SQL Server's
// Virtual Device Interface (a vdi.Platform: sqlvdi.dll's COM class on Windows, libsqlvdi.so
// on Linux, a stand-in in tests) instead of an HTTPS endpoint: no certificate, host name,
// port or TLS.
//
// One statement, one virtual device set with one device per stripe. The set is created
// before OpenBackup/OpenRestore returns; the activity then sends the statement, and a
// goroutine of the session waits for SQL Server to open the set (GetConfiguration), opens
// every device and runs one command loop (vdi.Pump) per device. A backup device's
// sequential bytes are cut into blocks of BlockSize and put to the stripe's sink; the
// stripe is committed at VDC_Complete (the set asks for VDF_RequestComplete), before that
// command is completed, so SQL Server ends the BACKUP only once every stripe is committed
// and fails it when a commit fails. A restore device reads its stripe in order.
package vdipath

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// BlockSize is the size of the blocks a backup device's bytes are cut into: 4 MiB, the
// URL path's block (SQL Server's MAXTRANSFERSIZE, which the activities set to 4 MiB, is
// the size of each Put Block there), so a stripe's index, the restore's reads and the
// benchmarks are the same on both paths. It is also the largest VDC_Write the statement's
// MAXTRANSFERSIZE lets SQL Server send, so a whole write goes to the sink without a copy.
const BlockSize = 4 << 20

// MaxBlocks is the most blocks a stripe may have: the vault stores a stripe as one block
// blob, and Azure commits at most 50,000 blocks in a blob (about 195 GiB at 4 MiB). The
// activities keep stripes under 100 GiB.
const MaxBlocks = 50000

// Defaults of Options.
const (
	// DefaultConfigTimeout is how long a set waits for SQL Server to open it: Microsoft's
	// sample (vdipipesample.cpp) gives GetConfiguration 10 s; the activity sends the
	// statement right after the session opens.
	DefaultConfigTimeout = 10 * time.Second
	// DefaultFinishTimeout bounds the wait, after the statement ended, for SQL Server to
	// close every device of the set.
	DefaultFinishTimeout = time.Minute
	// DefaultCommandWait is each GetCommand's wait; between waits a device loop sees its
	// session being closed.
	DefaultCommandWait = time.Second
)

// Options configure a VDI path.
type Options struct {
	// Instance is VDI's instance name: "" for the default instance, else the instance part
	// of @@SERVERNAME ("VM\INST" → "INST"). Linux has no named instances.
	Instance string
	// ConfigTimeout, FinishTimeout and CommandWait: 0 means the Default… values.
	ConfigTimeout, FinishTimeout, CommandWait time.Duration
	Log                                       *zap.Logger
}

// InstanceName is VDI's instance name for a server name as @@SERVERNAME gives it.
func InstanceName(serverName string) string {
	if i := strings.LastIndexByte(serverName, '\\'); i >= 0 {
		return serverName[i+1:]
	}
	return ""
}

// Path is the VDI data path of one SQL Server instance over one platform library.
type Path struct {
	platform vdi.Platform
	o        Options
	log      *zap.Logger
	// fileList runs RESTORE FILELISTONLY FROM VIRTUAL_DEVICE; tests replace it, so that
	// their stand-in for SQL Server reads the devices.
	fileList func(ctx context.Context, conn *sqlserver.Conn, devices []string) ([]sqlserver.BackupFile, error)
}

// New returns the VDI data path over platform.
func New(platform vdi.Platform, o Options) *Path {
	if o.ConfigTimeout <= 0 {
		o.ConfigTimeout = DefaultConfigTimeout
	}
	if o.FinishTimeout <= 0 {
		o.FinishTimeout = DefaultFinishTimeout
	}
	if o.CommandWait <= 0 {
		o.CommandWait = DefaultCommandWait
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Path{platform: platform, o: o, log: log,
		fileList: func(ctx context.Context, conn *sqlserver.Conn, devices []string) ([]sqlserver.BackupFile, error) {
			return conn.FileListFrom(ctx, sqlserver.DeviceVirtual, devices)
		}}
}

// Kind is datapath.VDI.
func (p *Path) Kind() datapath.Kind { return datapath.VDI }

// Describe names the platform library (for doctor and errors).
func (p *Path) Describe() string { return p.platform.Describe() }

// Device names. A set is named after its first device. Names follow CreateFileMapping's
// rules (anything but `\`) and POSIX shared-memory names' (no `/`), start with the product,
// as Microsoft recommends, and carry a token new for every set, so that a retried step or two
// restores of one point never meet on a name, then the activities' stripe name (point,
// attempt, stripe). The database name, which Microsoft also suggests, is left out: it may
// hold any character, and the point in the stripe name already identifies the backup.
const namePrefix = "sqlvault_"

// DeviceName is the virtual device name of a stripe in the set with token.
func DeviceName(token, stripe string) string { return namePrefix + token + "_" + stripe }

// DeviceSuffix is how every virtual device name of a stripe ends, whatever its set's token:
// msdb's backupmediafamily.physical_device_name of a VDI backup ends with it, so a retry can
// find an earlier attempt's backup. No URL device ends with it (a URL has "/" before the
// stripe name) and point IDs have no "_".
func DeviceSuffix(stripe string) string { return "_" + stripe }

func newToken() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func checkStripeName(name string) error {
	if name == "" || strings.ContainsAny(name, "\\/\x00") {
		return fmt.Errorf("vdipath: stripe name %q: a virtual device name cannot be empty or hold \\, / or NUL", name)
	}
	return nil
}

// OpenBackup creates the statement's device set (one device per stripe) and starts waiting
// for SQL Server to open it.
func (p *Path) OpenBackup(ctx context.Context, conn *sqlserver.Conn, stripes []datapath.BackupStripe) (datapath.BackupSession, error) {
	names := make([]string, len(stripes))
	for i, st := range stripes {
		if err := checkStripeName(st.Name); err != nil {
			return nil, err
		}
		names[i] = st.Name
	}
	s := p.newSession(ctx, conn, names)
	s.sinks = make([]*blockSink, len(stripes))
	for i, st := range stripes {
		s.sinks[i] = &blockSink{s: s, stripe: st.Sink, name: s.names[i]}
	}
	r, err := s.start(s.names, vdi.FeaturesLikePipe|vdi.FeatureRequestComplete, func(i int) (vdi.Sink, vdi.Source) { return s.sinks[i], nil })
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.run = r
	return s, nil
}

// OpenRestore creates the statement's device set and starts waiting for SQL Server to open
// it; each device reads its stripe from the start.
func (p *Path) OpenRestore(ctx context.Context, conn *sqlserver.Conn, stripes []datapath.RestoreStripe) (datapath.RestoreSession, error) {
	names := make([]string, len(stripes))
	for i, st := range stripes {
		if err := checkStripeName(st.Name); err != nil {
			return nil, err
		}
		names[i] = st.Name
	}
	s := p.newSession(ctx, conn, names)
	for _, st := range stripes {
		s.sources = append(s.sources, st.Source)
	}
	r, err := s.start(s.names, vdi.FeaturesLikePipe, s.readers)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.run = r
	return s, nil
}

func (p *Path) newSession(ctx context.Context, conn *sqlserver.Conn, stripes []string) *session {
	s := &session{path: p, conn: conn, stripes: stripes, names: p.names(stripes)}
	s.ctx, s.cancel = context.WithCancel(ctx)
	return s
}

func (p *Path) names(stripes []string) []string {
	token := newToken()
	out := make([]string, len(stripes))
	for i, st := range stripes {
		out[i] = DeviceName(token, st)
	}
	return out
}

// session is a backup or a restore session: its statement's device set (run), and for a
// restore, a FILELISTONLY's set before it.
type session struct {
	path    *Path
	conn    *sqlserver.Conn
	stripes []string // the activities' names
	names   []string // the devices the statement names
	sinks   []*blockSink
	sources []datapath.StripeSource

	ctx    context.Context // sink and source calls run under it; Close ends it
	cancel context.CancelFunc

	bytes, blocks atomic.Int64

	mu     sync.Mutex
	err    error
	run    *setRun // the statement's set
	closed bool
}

func (s *session) DeviceType() sqlserver.DeviceType { return sqlserver.DeviceVirtual }
func (s *session) Devices() []string                { return append([]string(nil), s.names...) }

func (s *session) Progress() datapath.Progress {
	return datapath.Progress{Bytes: s.bytes.Load(), Blocks: s.blocks.Load()}
}

// Err is the first failure on the agent's side: a sink or source (the vault), the
// transport, or SQL Server not opening the set in time. An abort SQL Server began is not
// one: the statement's error says why.
func (s *session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// sideFailed records a sink's or source's failure on device before the command loop
// completes the command that saw it: SQL Server fails the statement on that completion, and
// the activity, reading Err once the statement failed, must find the cause. A call cut short
// by the session's own end is no failure.
func (s *session) sideFailed(ctx context.Context, device string, err error) error {
	err = &deviceError{device: device, err: err}
	if ctx.Err() == nil {
		s.fail(err)
	}
	return err
}

// deviceError is a failure on one virtual device, named.
type deviceError struct {
	device string
	err    error
}

func (e *deviceError) Error() string { return fmt.Sprintf("virtual device %s: %v", e.device, e.err) }
func (e *deviceError) Unwrap() error { return e.err }

func (s *session) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *session) current() *setRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run
}

// Finish waits until SQL Server closed every device of the statement's set (each stripe
// committed by then: at VDC_Complete, or when its device closed), then reports Err or a
// stripe that did not commit.
func (s *session) Finish(ctx context.Context) error {
	r := s.current()
	t := time.NewTimer(s.path.o.FinishTimeout)
	defer t.Stop()
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return protocol.RetryableError(protocol.ErrBackupFailed, nil,
			"the BACKUP ended but SQL Server did not close the virtual devices of set %s within %s", s.names[0], s.path.o.FinishTimeout)
	}
	if err := s.Err(); err != nil {
		return err
	}
	for _, b := range s.sinks {
		if !b.committed {
			return protocol.RetryableError(protocol.ErrBackupFailed, nil, "SQL Server closed virtual device %s without finishing its stripe", b.name)
		}
	}
	return nil
}

// Close ends the session: a set still running is aborted (SQL Server fails its statement if
// that still runs) and closed; when Close returns, no goroutine of the session runs and no
// sink or source call is in flight.
func (s *session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	r := s.run
	s.mu.Unlock()
	if r != nil {
		r.stop()
	}
	s.cancel()
}

// FileList reads the backup's files with RESTORE FILELISTONLY. That statement consumes a
// device set of its own, and it runs before the session's RESTORE, whose set would otherwise
// wait for it past ConfigTimeout: the session's set, not yet opened by SQL Server, is
// dropped, FILELISTONLY runs on a set of new names, and the session's set is made again
// under its names, so Devices stays what the RESTORE names.
func (s *session) FileList(ctx context.Context) ([]sqlserver.BackupFile, error) {
	if s.sources == nil {
		return nil, errors.New("vdipath: FileList on a backup session")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("vdipath: FileList after Close")
	}
	main := s.run
	s.run = nil
	s.mu.Unlock()
	main.stop()

	names := s.path.names(s.stripes)
	fl, err := s.start(names, vdi.FeaturesLikePipe, s.readers)
	var files []sqlserver.BackupFile
	if err == nil {
		files, err = s.path.fileList(ctx, s.conn, names)
		fl.await(s.path.o.FinishTimeout)
		fl.stop()
		if ferr := fl.err(); ferr != nil && err != nil {
			err = ferr // SQL Server only saw a failed read
		}
	}
	// The RESTORE's set again, whatever FILELISTONLY did: Close expects one.
	r, rerr := s.start(s.names, vdi.FeaturesLikePipe, s.readers)
	s.mu.Lock()
	s.run = r
	closed := s.closed
	s.mu.Unlock()
	if closed && r != nil { // Close ran meanwhile and saw no set
		r.stop()
	}
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	return files, nil
}

// readers gives each device of a restore set a reader from the start of its stripe.
func (s *session) readers(i int) (vdi.Sink, vdi.Source) {
	return nil, &stripeReader{s: s, name: s.names[i], src: s.sources[i]}
}

// setRun is one device set from Create to Close: a goroutine waits for SQL Server to open
// it, opens its devices and runs their command loops, then closes it.
type setRun struct {
	s        *session
	set      vdi.DeviceSet
	names    []string
	ctx      context.Context
	abortCtx context.CancelFunc
	done     chan struct{} // closed once the set is closed and every goroutine of it ended

	mu       sync.Mutex
	closed   bool // set.Close was called
	aborted  bool // SignalAbort was called by us
	firstErr error
}

// start creates a set named after names[0] with one device per name, and serves it in the
// background; devices gives device i its sink (backup) or source (restore).
func (s *session) start(names []string, features uint32, devices func(i int) (vdi.Sink, vdi.Source)) (*setRun, error) {
	set, err := s.path.platform.NewSet()
	if err != nil {
		return nil, protocol.RetryableError(protocol.ErrBackupFailed, err, "VDI (%s): make a virtual device set: %v", s.path.platform.Describe(), err)
	}
	cfg := vdi.Config{DeviceCount: uint32(len(names)), Features: features}
	if err := set.Create(s.path.o.Instance, names[0], cfg); err != nil {
		_ = set.Close()
		return nil, protocol.RetryableError(protocol.ErrBackupFailed, err, "VDI (%s): create virtual device set %s for instance %q: %v",
			s.path.platform.Describe(), names[0], s.path.o.Instance, err)
	}
	r := &setRun{s: s, set: set, names: names, done: make(chan struct{})}
	r.ctx, r.abortCtx = context.WithCancel(s.ctx)
	go r.serve(devices)
	return r, nil
}

func (r *setRun) serve(devices func(i int) (vdi.Sink, vdi.Source)) {
	defer close(r.done)
	defer r.closeSet()
	o := r.s.path.o
	if _, err := r.set.GetConfiguration(o.ConfigTimeout); err != nil {
		switch {
		case r.abortedByUs():
		case errors.Is(err, vdi.ErrTimeout):
			r.failed(protocol.RetryableError(protocol.ErrBackupFailed, err,
				"SQL Server did not open virtual device set %s within %s (VDI GetConfiguration): the BACKUP or RESTORE naming it did not start", r.names[0], o.ConfigTimeout))
		case errors.Is(err, vdi.ErrAbort):
			// SQL Server aborted the set: its statement failed and says why.
		default:
			r.failed(fmt.Errorf("vdi: wait for SQL Server to open set %s: %w", r.names[0], err))
		}
		r.abort()
		return
	}
	devs := make([]vdi.Device, len(r.names))
	for i, n := range r.names {
		d, err := r.set.OpenDevice(n)
		if err != nil {
			if !r.abortedByUs() && !errors.Is(err, vdi.ErrAbort) {
				r.failed(fmt.Errorf("vdi: open virtual device %s: %w", n, err))
			}
			r.abort()
			return
		}
		devs[i] = d
	}
	var wg sync.WaitGroup
	for i, d := range devs {
		sink, src := devices(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &vdi.Pump{Device: d, Sink: sink, Source: src, Wait: o.CommandWait}
			err := p.Run(r.ctx)
			if err == nil {
				if b, ok := sink.(*blockSink); ok {
					// SQL Server closed the device without VDC_Complete (not granted, or a
					// transport that does not send it): the end of the data is here.
					err = b.Complete(r.ctx)
				}
			}
			if err != nil {
				if !errors.Is(err, vdi.ErrAborted) && r.ctx.Err() == nil {
					var named *deviceError
					if !errors.As(err, &named) {
						err = &deviceError{device: r.names[i], err: err}
					}
					r.failed(err)
				}
				r.abort()
			}
		}()
	}
	wg.Wait()
}

// failed records the set's first failure, and the session's.
func (r *setRun) failed(err error) {
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
	r.s.fail(err)
}

func (r *setRun) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErr
}

func (r *setRun) abortedByUs() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.aborted
}

// abort signals abort on the set (once, while it is open) and ends its sink and source
// calls.
func (r *setRun) abort() {
	r.mu.Lock()
	if !r.closed && !r.aborted {
		r.aborted = true
		if err := r.set.SignalAbort(); err != nil {
			r.s.path.log.Warn("could not signal abort on a virtual device set", zap.String("set", r.names[0]), zap.Error(err))
		}
	}
	r.mu.Unlock()
	r.abortCtx()
}

func (r *setRun) closeSet() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	if err := r.set.Close(); err != nil && !r.aborted {
		r.s.path.log.Warn("closing a virtual device set failed", zap.String("set", r.names[0]), zap.Error(err))
	}
	r.abortCtx()
}

// await waits up to d for the set to end by itself.
func (r *setRun) await(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
	}
}

// stop aborts the set unless it has ended, and waits until it has.
func (r *setRun) stop() {
	if r == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	r.abort()
	<-r.done
}

// blockSink cuts one backup device's bytes into blocks for its stripe. Only the device's
// command loop calls it, one command at a time, so it holds at most one block of its own:
// the rest of the memory in flight is the stripe sink's (blocks in flight).
type blockSink struct {
	s      *session
	stripe datapath.StripeSink
	name   string

	buf       []byte // the block being filled; nil until a write does not fill a whole block
	ids       []string
	committed bool
}

// ErrStripeTooLarge: a stripe would exceed MaxBlocks.
var ErrStripeTooLarge = fmt.Errorf("vdipath: a stripe reached %d blocks of %d MiB, the most a blob holds: back up with more stripes", MaxBlocks, BlockSize>>20)

func (b *blockSink) Write(ctx context.Context, p []byte) error {
	if b.committed {
		return fmt.Errorf("vdipath: VDC_Write on %s after its stripe was committed", b.name)
	}
	for len(p) > 0 {
		if len(b.buf) == 0 && len(p) >= BlockSize {
			if err := b.put(ctx, p[:BlockSize]); err != nil {
				return err
			}
			p = p[BlockSize:]
			continue
		}
		if b.buf == nil {
			b.buf = make([]byte, 0, BlockSize)
		}
		k := min(len(p), BlockSize-len(b.buf))
		b.buf = append(b.buf, p[:k]...)
		p = p[k:]
		if len(b.buf) == BlockSize {
			if err := b.put(ctx, b.buf); err != nil {
				return err
			}
			b.buf = b.buf[:0]
		}
	}
	return nil
}

// Flush hands the partial block to the stripe: SQL Server flushes when what it wrote so
// far must be with the client.
func (b *blockSink) Flush(ctx context.Context) error {
	if len(b.buf) == 0 {
		return nil
	}
	if err := b.put(ctx, b.buf); err != nil {
		return err
	}
	b.buf = b.buf[:0]
	return nil
}

// Complete is the end of the device's data (VDC_Complete, or VD_E_CLOSE without it): the
// last partial block, then the stripe's commit of every block in order. Once only.
func (b *blockSink) Complete(ctx context.Context) error {
	if b.committed {
		return nil
	}
	if err := b.Flush(ctx); err != nil {
		return err
	}
	if err := b.stripe.Commit(ctx, b.ids); err != nil {
		return b.s.sideFailed(ctx, b.name, fmt.Errorf("commit stripe: %w", err))
	}
	b.committed = true
	b.buf = nil
	return nil
}

func (b *blockSink) put(ctx context.Context, data []byte) error {
	if len(b.ids) == MaxBlocks {
		return b.s.sideFailed(ctx, b.name, ErrStripeTooLarge)
	}
	id := blockID(len(b.ids))
	if err := b.stripe.PutBlock(ctx, id, data); err != nil {
		return b.s.sideFailed(ctx, b.name, fmt.Errorf("put block %d: %w", len(b.ids), err))
	}
	b.ids = append(b.ids, id)
	b.s.bytes.Add(int64(len(data)))
	b.s.blocks.Add(1)
	return nil
}

// blockID is the n-th block's id: base64 of a fixed-length text, like the ids the endpoint
// makes for a Put Blob body (the vault derives its own block ids from them).
func blockID(n int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "vdi-%08d", n))
}

// stripeReader reads one restore stripe in order for a device's VDC_Reads. The stripe
// reader fetches ahead of sequential reads.
type stripeReader struct {
	s    *session
	name string
	src  datapath.StripeSource
	off  int64
}

func (r *stripeReader) Read(ctx context.Context, p []byte) (int, error) {
	size := r.src.Size()
	if r.off >= size {
		return 0, io.EOF
	}
	if rest := size - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.src.ReadAt(ctx, p, r.off)
	r.off += int64(n)
	r.s.bytes.Add(int64(n))
	if errors.Is(err, io.EOF) {
		if n > 0 {
			return n, nil
		}
		err = fmt.Errorf("stripe ended at %d of %d bytes: %w", r.off, size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return n, r.s.sideFailed(ctx, r.name, fmt.Errorf("read at %d: %w", r.off, err))
	}
	return n, nil
}
