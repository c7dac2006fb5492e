package sqlsim

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// faultState holds the faults a test has armed on an instance. Guarded by Instance.mu.
type faultState struct {
	refuseLogins bool
	stream       *StreamFault
	reply        *ReplyStall
}

// StreamFault makes the next BACKUP or RESTORE data stream misbehave after AfterBytes
// bytes have crossed the device: fail it (as an I/O error on the device), or stall it for
// Stall (while the statement stays cancellable), or both (stall, then fail).
type StreamFault struct {
	AfterBytes int64
	Fail       bool
	Stall      time.Duration
	// Times is how many streams the fault applies to (default 1).
	Times int
	// Skip lets that many streams pass untouched first (e.g. 3 to hit the third RESTORE
	// LOG after the full of a chain).
	Skip int

	mu      sync.Mutex
	used    int
	skipped int
}

// InjectStreamFault arms f for the next f.Times BACKUP/RESTORE streams of this instance
// (RESTORE HEADERONLY/FILELISTONLY/LABELONLY read only metadata and do not count).
func (in *Instance) InjectStreamFault(f *StreamFault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults.stream = f
}

// ReplyStall holds back the end of the reply to the next batch whose text Match accepts,
// after the batch ran and its effects are applied, for Stall or until the client goes away:
// the window in which a client that crashes loses the answer to a statement SQL Server
// completed (a RESTORE applied, its success never reported).
type ReplyStall struct {
	Match func(sql string) bool
	Stall time.Duration

	once    sync.Once
	reached chan struct{}
}

// Reached is closed when a batch has run and its reply is being held.
func (r *ReplyStall) Reached() <-chan struct{} {
	r.once.Do(func() { r.reached = make(chan struct{}) })
	return r.reached
}

// InjectReplyStall arms r for the next matching batch on this instance.
func (in *Instance) InjectReplyStall(r *ReplyStall) {
	r.Reached()
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults.reply = r
}

// stallReply applies an armed ReplyStall to a batch that completed.
func (in *Instance) stallReply(ctx context.Context, sql string) {
	in.mu.Lock()
	r := in.faults.reply
	if r == nil || !r.Match(sql) {
		in.mu.Unlock()
		return
	}
	in.faults.reply = nil
	in.mu.Unlock()
	r.Reached()
	close(r.reached)
	t := time.NewTimer(r.Stall)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// RefuseLogins makes every new login fail with 18456 until turned off.
func (in *Instance) RefuseLogins(on bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults.refuseLogins = on
}

// DropConnections abruptly closes every client connection (the listener stays up), like a
// network fault between the agent and SQL Server. It returns how many were dropped.
func (in *Instance) DropConnections() int { return in.srv.DropConnections() }

// takeStreamFault consumes one use of the armed stream fault, if any.
func (in *Instance) takeStreamFault() *StreamFault {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.faults.stream
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.skipped < f.Skip {
		f.skipped++
		return nil
	}
	f.used++
	if f.used >= f.Times {
		in.faults.stream = nil
	}
	return f
}

// faultError is the simulated device failure.
type faultError struct{ device string }

func (e *faultError) Error() string { return fmt.Sprintf("simulated I/O fault on %s", e.device) }

// faultCounter counts bytes across every stripe of one stream and fires the fault once.
type faultCounter struct {
	mu    sync.Mutex
	n     int64
	fired bool
}

// faultWriter passes writes to a device, applying a stream fault.
type faultWriter struct {
	w      io.Writer
	fault  *StreamFault
	ctx    context.Context
	device string
	count  *faultCounter
}

func (f *faultWriter) Write(p []byte) (int, error) {
	if err := applyFault(f.ctx, f.fault, f.count, int64(len(p)), f.device); err != nil {
		return 0, err
	}
	return f.w.Write(p)
}

// faultReaderAt passes reads from a device, applying a stream fault.
type faultReaderAt struct {
	r      io.ReaderAt
	fault  *StreamFault
	ctx    context.Context
	device string
	count  *faultCounter
}

func (f *faultReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := applyFault(f.ctx, f.fault, f.count, int64(len(p)), f.device); err != nil {
		return 0, err
	}
	return f.r.ReadAt(p, off)
}

func applyFault(ctx context.Context, fault *StreamFault, c *faultCounter, n int64, device string) error {
	if fault == nil {
		return nil
	}
	c.mu.Lock()
	c.n += n
	trigger := !c.fired && c.n > fault.AfterBytes
	if trigger {
		c.fired = true
	}
	fired := c.fired
	c.mu.Unlock()
	if !trigger {
		if fired && fault.Fail {
			return &faultError{device: device}
		}
		return nil
	}
	if fault.Stall > 0 {
		t := time.NewTimer(fault.Stall)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if fault.Fail {
		return &faultError{device: device}
	}
	return nil
}
