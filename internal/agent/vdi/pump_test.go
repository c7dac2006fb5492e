package vdi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeDevice plays SQL Server's side of one virtual device: it hands out scripted commands
// (or errors) and records how the client completed each.
type fakeDevice struct {
	script  []step
	done    []completion
	waits   []time.Duration
	aborted bool // CompleteCommand answers VD_E_ABORT
}

type step struct {
	cmd *Command
	err error
}

type completion struct {
	code        CommandCode
	status, n   uint32
	bufferAfter []byte
}

func (d *fakeDevice) GetCommand(timeout time.Duration) (*Command, error) {
	d.waits = append(d.waits, timeout)
	if len(d.script) == 0 {
		return nil, ErrClose
	}
	s := d.script[0]
	d.script = d.script[1:]
	if errors.Is(s.err, ErrTimeout) {
		time.Sleep(time.Millisecond)
	}
	return s.cmd, s.err
}

func (d *fakeDevice) CompleteCommand(cmd *Command, status, n uint32, _ int64) error {
	if d.aborted {
		return ErrAbort
	}
	d.done = append(d.done, completion{code: cmd.Code, status: status, n: n, bufferAfter: append([]byte(nil), cmd.Buffer...)})
	return nil
}

func write(s string) step { return step{cmd: &Command{Code: CmdWrite, Buffer: []byte(s)}} }
func read(n int) step     { return step{cmd: &Command{Code: CmdRead, Buffer: make([]byte, n)}} }
func code(c CommandCode) step {
	return step{cmd: &Command{Code: c}}
}

type bufSink struct {
	bytes.Buffer
	flushes int
	fail    error
}

func (s *bufSink) Write(_ context.Context, p []byte) error {
	if s.fail != nil {
		return s.fail
	}
	_, err := s.Buffer.Write(p)
	return err
}

func (s *bufSink) Flush(context.Context) error { s.flushes++; return nil }

type readerSource struct {
	r    io.Reader
	fail error
}

func (s readerSource) Read(_ context.Context, p []byte) (int, error) {
	if s.fail != nil {
		return 0, s.fail
	}
	return s.r.Read(p)
}

// A backup device: every VDC_Write lands in the sink in order and completes with
// ERROR_SUCCESS and its size; VDC_Flush reaches the sink; VDC_ClearError and VDC_Complete
// are acknowledged; an unknown command gets ERROR_NOT_SUPPORTED and the loop goes on; a
// wait that times out is simply asked again; VD_E_CLOSE ends the loop without error.
func TestPumpBackupCommandLoop(t *testing.T) {
	dev := &fakeDevice{script: []step{write("BACKUP "), {err: ErrTimeout}, write("bytes"), code(CmdFlush),
		code(CmdClearError), code(CmdRewind), write("!"), code(CmdComplete)}}
	sink := &bufSink{}
	p := &Pump{Device: dev, Sink: sink, Wait: 250 * time.Millisecond}
	require.NoError(t, p.Run(context.Background()))
	assert.Equal(t, "BACKUP bytes!", sink.String())
	assert.Equal(t, 1, sink.flushes)
	assert.Equal(t, int64(13), p.Bytes())
	assert.Equal(t, int64(7), p.Commands())
	var got []completion
	for _, c := range dev.done {
		got = append(got, completion{code: c.code, status: c.status, n: c.n})
	}
	assert.Equal(t, []completion{{CmdWrite, ErrorSuccess, 7, nil}, {CmdWrite, ErrorSuccess, 5, nil}, {CmdFlush, ErrorSuccess, 0, nil},
		{CmdClearError, ErrorSuccess, 0, nil}, {CmdRewind, ErrorNotSupported, 0, nil}, {CmdWrite, ErrorSuccess, 1, nil},
		{CmdComplete, ErrorSuccess, 0, nil}}, got)
	for _, w := range dev.waits {
		assert.Equal(t, 250*time.Millisecond, w, "every GetCommand waits the pump's Wait")
	}
}

// A restore device: VDC_Read fills SQL Server's buffer from the source; the read that
// finds the end completes with ERROR_HANDLE_EOF and the bytes it did read.
func TestPumpRestoreCommandLoop(t *testing.T) {
	dev := &fakeDevice{script: []step{read(4), read(4), read(4)}}
	p := &Pump{Device: dev, Source: readerSource{r: bytes.NewReader([]byte("0123456789"))}}
	require.NoError(t, p.Run(context.Background()))
	require.Len(t, dev.done, 3)
	assert.Equal(t, completion{CmdRead, ErrorSuccess, 4, []byte("0123")}, dev.done[0])
	assert.Equal(t, completion{CmdRead, ErrorSuccess, 4, []byte("4567")}, dev.done[1])
	assert.Equal(t, CmdRead, dev.done[2].code)
	assert.Equal(t, ErrorHandleEOF, dev.done[2].status)
	assert.Equal(t, uint32(2), dev.done[2].n)
	assert.Equal(t, []byte("89"), dev.done[2].bufferAfter[:2])
	assert.Equal(t, int64(10), p.Bytes())
}

// A Write to a restore device (no sink) or a Read from a backup device (no source) is not
// supported; the loop answers and goes on.
func TestPumpRefusesTheWrongDirection(t *testing.T) {
	dev := &fakeDevice{script: []step{read(4), write("x")}}
	require.NoError(t, (&Pump{Device: dev, Sink: &bufSink{}}).Run(context.Background()))
	assert.Equal(t, ErrorNotSupported, dev.done[0].status)
	assert.Equal(t, ErrorSuccess, dev.done[1].status)
	dev = &fakeDevice{script: []step{write("x")}}
	require.NoError(t, (&Pump{Device: dev, Source: readerSource{r: bytes.NewReader(nil)}}).Run(context.Background()))
	assert.Equal(t, ErrorNotSupported, dev.done[0].status)
}

// Abort, from GetCommand or from CompleteCommand, ends the loop with ErrAborted.
func TestPumpAbort(t *testing.T) {
	dev := &fakeDevice{script: []step{write("a"), {err: ErrAbort}, write("never")}}
	sink := &bufSink{}
	err := (&Pump{Device: dev, Sink: sink}).Run(context.Background())
	assert.ErrorIs(t, err, ErrAborted)
	assert.Equal(t, "a", sink.String(), "no command after the abort")

	dev = &fakeDevice{script: []step{write("a")}, aborted: true}
	assert.ErrorIs(t, (&Pump{Device: dev, Sink: &bufSink{}}).Run(context.Background()), ErrAborted)
}

// The agent's side failing (the vault) completes the command with ERROR_OPERATION_ABORTED,
// so SQL Server fails the statement, and ends the loop with the sink's or source's error —
// never an EOF that SQL Server could take for the end of the data.
func TestPumpSinkAndSourceFailures(t *testing.T) {
	vaultDown := errors.New("vault unavailable")
	dev := &fakeDevice{script: []step{write("a"), write("b")}}
	err := (&Pump{Device: dev, Sink: &bufSink{fail: vaultDown}}).Run(context.Background())
	assert.ErrorIs(t, err, vaultDown)
	require.Len(t, dev.done, 1)
	assert.Equal(t, ErrorOperationAborted, dev.done[0].status)

	dev = &fakeDevice{script: []step{read(4), read(4)}}
	err = (&Pump{Device: dev, Source: readerSource{fail: vaultDown}}).Run(context.Background())
	assert.ErrorIs(t, err, vaultDown)
	require.Len(t, dev.done, 1)
	assert.Equal(t, ErrorOperationAborted, dev.done[0].status)
}

// completingSink commits at VDC_Complete (Completer); fail makes the commit fail.
type completingSink struct {
	bufSink
	completed []string // the sink's content at each Complete
	fail      error
}

func (s *completingSink) Complete(context.Context) error {
	s.completed = append(s.completed, s.String())
	return s.fail
}

// VDC_Complete reaches a Completer once every byte before it is in the sink, and its
// failure completes the command with ERROR_OPERATION_ABORTED, so SQL Server fails the
// BACKUP instead of finishing it without a committed stripe.
func TestPumpCompleteReachesTheSink(t *testing.T) {
	dev := &fakeDevice{script: []step{write("all "), write("data"), code(CmdFlush), code(CmdComplete)}}
	sink := &completingSink{}
	require.NoError(t, (&Pump{Device: dev, Sink: sink}).Run(context.Background()))
	assert.Equal(t, []string{"all data"}, sink.completed)
	assert.Equal(t, completion{CmdComplete, ErrorSuccess, 0, nil}, dev.done[3])

	commitFailed := errors.New("commit failed")
	dev = &fakeDevice{script: []step{write("x"), code(CmdComplete), write("never")}}
	err := (&Pump{Device: dev, Sink: &completingSink{fail: commitFailed}}).Run(context.Background())
	assert.ErrorIs(t, err, commitFailed)
	require.Len(t, dev.done, 2)
	assert.Equal(t, ErrorOperationAborted, dev.done[1].status)
}

// Timeouts: a cancelled context ends the loop between waits; the idle limit ends a device
// that sends nothing with ErrIdle; any other HRESULT is an error naming it.
func TestPumpTimeoutsAndOtherErrors(t *testing.T) {
	forever := make([]step, 1000)
	for i := range forever {
		forever[i] = step{err: ErrTimeout}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dev := &fakeDevice{script: append([]step(nil), forever...)}
	assert.ErrorIs(t, (&Pump{Device: dev, Sink: &bufSink{}}).Run(ctx), context.Canceled)

	dev = &fakeDevice{script: append([]step(nil), forever...)}
	err := (&Pump{Device: dev, Sink: &bufSink{}, Idle: 20 * time.Millisecond}).Run(context.Background())
	assert.ErrorIs(t, err, ErrIdle)
	assert.NotEmpty(t, dev.script, "ended by the idle limit, not by running out of script")

	dev = &fakeDevice{script: []step{{err: ErrProtocol}}}
	err = (&Pump{Device: dev, Sink: &bufSink{}}).Run(context.Background())
	assert.ErrorIs(t, err, ErrProtocol)
	assert.Contains(t, err.Error(), "VD_E_PROTOCOL (0x8077000C)")
}

// The constants are the headers' values: VDConfig is eleven 32-bit fields (44 bytes, what
// the COM and the .so transports will pass by pointer), command codes count from VDC_Read
// = 1 to VDC_Complete = 19, HRESULTs are 0x8077xxxx.
func TestProtocolConstants(t *testing.T) {
	assert.Equal(t, uintptr(44), unsafe.Sizeof(Config{}))
	assert.Equal(t, CommandCode(1), CmdRead)
	assert.Equal(t, CommandCode(2), CmdWrite)
	assert.Equal(t, CommandCode(3), CmdClearError)
	assert.Equal(t, CommandCode(12), CmdFlush)
	assert.Equal(t, CommandCode(19), CmdComplete)
	assert.Equal(t, Error(0x80770003), ErrTimeout)
	assert.Equal(t, Error(0x80770004), ErrAbort)
	assert.Equal(t, Error(0x8077000e), ErrClose)
	assert.Equal(t, "VDC_Write", CmdWrite.String())
	assert.Equal(t, "VDC_4", CmdRewind.String())
}
