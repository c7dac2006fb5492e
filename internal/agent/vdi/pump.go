package vdi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Sink takes a backup device's bytes in order (a pipe-like device: strictly sequential).
// p is only valid during the call.
type Sink interface {
	Write(ctx context.Context, p []byte) error
}

// Flusher is a Sink that acts on VDC_Flush.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Completer is a Sink that acts on VDC_Complete (sent at the end of a backup when the set
// asked for VDF_RequestComplete): the sink makes the device's data durable there — the vault
// path commits the stripe — before the command is completed, so SQL Server finishes the
// BACKUP only once the stripe is committed, and fails it when the commit fails.
type Completer interface {
	Complete(ctx context.Context) error
}

// Source gives a restore device's bytes in order. Read has io.Reader's contract; io.EOF
// ends the data.
type Source interface {
	Read(ctx context.Context, p []byte) (int, error)
}

// Pump runs one virtual device's command loop: VDC_Write into Sink (backup), VDC_Read from
// Source (restore), VDC_Flush and VDC_Complete to the sink (Flusher, Completer) or else
// acknowledged, VDC_ClearError acknowledged,
// anything else answered ERROR_NOT_SUPPORTED. Run returns nil when SQL Server closes the
// device (VD_E_CLOSE) — which ends the transfer, not the statement: whether the BACKUP or
// RESTORE succeeded is the statement's result, which the caller reads.
type Pump struct {
	Device Device
	Sink   Sink   // backup
	Source Source // restore
	// Wait is each GetCommand's timeout (0: one second); between waits Run checks ctx.
	Wait time.Duration
	// Idle bounds the time without a command (0: no bound; the activity's stall watch
	// judges the stream as a whole).
	Idle time.Duration

	bytes    atomic.Int64
	commands atomic.Int64
}

// Bytes is how many bytes the pump moved so far (for heartbeats); safe to call concurrently.
func (p *Pump) Bytes() int64 { return p.bytes.Load() }

// Commands is how many commands the pump completed so far.
func (p *Pump) Commands() int64 { return p.commands.Load() }

// Run loops until SQL Server closes the device (nil), the set is aborted (ErrAborted), ctx
// ends (ctx.Err()), the idle limit passes (ErrIdle), or the sink or source fails (its
// error, after the command was completed with ERROR_OPERATION_ABORTED so SQL Server fails
// the statement). On any error the caller signals abort on the set and closes it (the
// transport's job, not the loop's); on nil it closes the set once every device is closed.
func (p *Pump) Run(ctx context.Context) error {
	wait := p.Wait
	if wait <= 0 {
		wait = time.Second
	}
	last := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cmd, err := p.Device.GetCommand(wait)
		switch {
		case err == nil:
		case errors.Is(err, ErrClose):
			return nil
		case errors.Is(err, ErrTimeout):
			if p.Idle > 0 && time.Since(last) > p.Idle {
				return fmt.Errorf("%w (%s, %d bytes moved)", ErrIdle, p.Idle, p.Bytes())
			}
			continue
		case errors.Is(err, ErrAbort):
			return ErrAborted
		default:
			return fmt.Errorf("vdi: get the next command: %w", err)
		}
		last = time.Now()
		code, n, failure := p.execute(ctx, cmd)
		if err := p.Device.CompleteCommand(cmd, code, n, 0); err != nil {
			if errors.Is(err, ErrAbort) {
				return ErrAborted
			}
			return fmt.Errorf("vdi: complete %s: %w", cmd.Code, err)
		}
		p.commands.Add(1)
		if failure != nil {
			return failure
		}
	}
}

// execute carries out one command and says how to complete it; failure is set when the
// agent's side failed and the loop must end.
func (p *Pump) execute(ctx context.Context, cmd *Command) (code, transferred uint32, failure error) {
	switch cmd.Code {
	case CmdWrite:
		if p.Sink == nil {
			return ErrorNotSupported, 0, nil
		}
		if err := p.Sink.Write(ctx, cmd.Buffer); err != nil {
			return ErrorOperationAborted, 0, err
		}
		p.bytes.Add(int64(len(cmd.Buffer)))
		return ErrorSuccess, uint32(len(cmd.Buffer)), nil
	case CmdRead:
		if p.Source == nil {
			return ErrorNotSupported, 0, nil
		}
		n, err := readFull(ctx, p.Source, cmd.Buffer)
		p.bytes.Add(int64(n))
		switch {
		case err == nil:
			return ErrorSuccess, uint32(n), nil
		case errors.Is(err, io.EOF):
			return ErrorHandleEOF, uint32(n), nil
		default:
			return ErrorOperationAborted, uint32(n), err
		}
	case CmdFlush:
		if f, ok := p.Sink.(Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				return ErrorOperationAborted, 0, err
			}
		}
		return ErrorSuccess, 0, nil
	case CmdComplete:
		if c, ok := p.Sink.(Completer); ok {
			if err := c.Complete(ctx); err != nil {
				return ErrorOperationAborted, 0, err
			}
		}
		return ErrorSuccess, 0, nil
	case CmdClearError:
		return ErrorSuccess, 0, nil
	}
	return ErrorNotSupported, 0, nil
}

// readFull fills p unless the data ends first (io.EOF with the bytes read).
func readFull(ctx context.Context, src Source, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := src.Read(ctx, p[n:])
		n += k
		if err != nil {
			return n, err
		}
		if k == 0 {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}
