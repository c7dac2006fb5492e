package vdistandin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Errors of the simulator's side.
var (
	// ErrNoSet: no client created a set of that name (no socket, or nobody listening).
	ErrNoSet = errors.New("vdistandin: no virtual device set of that name")
	// ErrDeviceCount: the client's set has a device count other than the statement's.
	ErrDeviceCount = errors.New("vdistandin: the set's device count differs from the statement's devices")
	// ErrClientAborted: the client signalled abort, or its process went away.
	ErrClientAborted = errors.New("vdistandin: the client aborted the virtual device set")
)

// CompletionError is a command the client completed with a failure code.
type CompletionError struct {
	Command uint32 // the command code
	Code    uint32 // the Win32 completion code
}

func (e *CompletionError) Error() string {
	return fmt.Sprintf("vdistandin: the client completed command %d with code %d", e.Command, e.Code)
}

// helloTimeout bounds the hello exchange: the library answers from GetConfiguration, which a
// client calls right after sending the statement (the Microsoft sample waits 10 s there).
const helloTimeout = 30 * time.Second

// Set is the simulator's end of one open virtual device set.
type Set struct {
	Config  Config    // the client's VDConfig
	Devices []*Device // in the statement's order
}

// OpenSet opens the set names[0] in dir for a statement naming the devices names: one
// connection per device, each announced with its name, index and the statement's sizes.
func OpenSet(ctx context.Context, dir string, names []string, blockSize, maxTransfer uint32) (*Set, error) {
	set := &Set{}
	fail := func(err error) (*Set, error) {
		for _, d := range set.Devices {
			d.Abort()
		}
		return nil, err
	}
	path := SocketPath(dir, names[0])
	for i, name := range names {
		var dialer net.Dialer
		conn, err := dialer.DialContext(ctx, "unix", path)
		if err != nil {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
				return fail(fmt.Errorf("%w: %q (%s)", ErrNoSet, names[0], path))
			}
			return fail(fmt.Errorf("vdistandin: open the set %q: %w", names[0], err))
		}
		d := &Device{Name: name, conn: conn}
		d.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
		set.Devices = append(set.Devices, d)
		payload := make([]byte, 20+len(name))
		binary.LittleEndian.PutUint32(payload[0:], uint32(i))
		binary.LittleEndian.PutUint32(payload[4:], uint32(len(names)))
		binary.LittleEndian.PutUint32(payload[8:], blockSize)
		binary.LittleEndian.PutUint32(payload[12:], maxTransfer)
		binary.LittleEndian.PutUint32(payload[16:], uint32(len(name)))
		copy(payload[20:], name)
		_ = conn.SetDeadline(time.Now().Add(helloTimeout))
		if err := d.send(frameHello, 0, 0, 0, payload); err != nil {
			return fail(d.transportError(ctx, err))
		}
		h, body, err := d.recv()
		if err != nil {
			return fail(d.transportError(ctx, err))
		}
		if h.typ != frameConfig || len(body) != 44 {
			return fail(fmt.Errorf("%w: the set answered its hello with frame %d", ErrClientAborted, h.typ))
		}
		_ = conn.SetDeadline(time.Time{})
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		var f [11]uint32
		for k := range f {
			f[k] = binary.LittleEndian.Uint32(body[4*k:])
		}
		set.Config = Config{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]}
		if int(set.Config.DeviceCount) != len(names) {
			return fail(fmt.Errorf("%w: the set has %d, the statement %d", ErrDeviceCount, set.Config.DeviceCount, len(names)))
		}
	}
	return set, nil
}

// Close closes every device (the normal end).
func (s *Set) Close() error {
	var first error
	for _, d := range s.Devices {
		if err := d.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Abort ends every device abnormally.
func (s *Set) Abort() {
	for _, d := range s.Devices {
		d.Abort()
	}
}

// Device is one virtual device of an open set. One goroutine drives it.
type Device struct {
	Name string
	conn net.Conn
	stop func() bool

	once sync.Once
}

type header struct {
	typ      uint32
	code     int32
	size     int32
	payload  uint32
	position int64
}

func (d *Device) send(typ uint32, code, size int32, position int64, payload []byte) error {
	var b [headerSize]byte
	binary.LittleEndian.PutUint32(b[0:], typ)
	binary.LittleEndian.PutUint32(b[4:], uint32(code))
	binary.LittleEndian.PutUint32(b[8:], uint32(size))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(b[16:], uint64(position))
	if len(payload) == 0 {
		_, err := d.conn.Write(b[:])
		return err
	}
	bufs := net.Buffers{b[:], payload}
	_, err := bufs.WriteTo(d.conn)
	return err
}

func (d *Device) recv() (header, []byte, error) {
	var b [headerSize]byte
	if _, err := io.ReadFull(d.conn, b[:]); err != nil {
		return header{}, nil, err
	}
	h := header{
		typ: binary.LittleEndian.Uint32(b[0:]), code: int32(binary.LittleEndian.Uint32(b[4:])),
		size: int32(binary.LittleEndian.Uint32(b[8:])), payload: binary.LittleEndian.Uint32(b[12:]),
		position: int64(binary.LittleEndian.Uint64(b[16:])),
	}
	if h.payload > 64<<20 {
		return h, nil, fmt.Errorf("vdistandin: frame of %d bytes", h.payload)
	}
	body := make([]byte, h.payload)
	if _, err := io.ReadFull(d.conn, body); err != nil {
		return h, nil, err
	}
	return h, body, nil
}

// transportError names a failed exchange: the statement's context ended, or the client
// went away (which the server treats as an abort).
func (d *Device) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w (%s: %v)", ErrClientAborted, d.Name, err)
}

// do sends one command and waits for its completion. into receives a VDC_Read's data.
func (d *Device) do(ctx context.Context, code int32, size int, data []byte, into []byte) (uint32, int, error) {
	if err := d.send(frameCommand, code, int32(size), 0, data); err != nil {
		return 0, 0, d.transportError(ctx, err)
	}
	h, body, err := d.recv()
	if err != nil {
		return 0, 0, d.transportError(ctx, err)
	}
	switch h.typ {
	case frameCompletion:
	case frameAbort:
		// SignalAbort completes the outstanding command with ERROR_OPERATION_ABORTED.
		return ErrorOperationAborted, 0, ErrClientAborted
	default:
		return 0, 0, fmt.Errorf("%w: unexpected frame %d", ErrClientAborted, h.typ)
	}
	n := int(h.size)
	if n < 0 || n > size {
		return uint32(h.code), 0, fmt.Errorf("vdistandin: the client reported %d bytes for a %d-byte command", n, size)
	}
	copy(into, body)
	return uint32(h.code), n, nil
}

// Write hands p to the client (VDC_Write). A completion other than ERROR_SUCCESS is a
// *CompletionError.
func (d *Device) Write(ctx context.Context, p []byte) error {
	code, _, err := d.do(ctx, CmdWrite, len(p), p, nil)
	if err != nil {
		return err
	}
	if code != ErrorSuccess {
		return &CompletionError{Command: CmdWrite, Code: code}
	}
	return nil
}

// Read asks the client to fill p (VDC_Read): n bytes came, eof when the client completed
// with ERROR_HANDLE_EOF (the end of the data).
func (d *Device) Read(ctx context.Context, p []byte) (n int, eof bool, err error) {
	code, n, err := d.do(ctx, CmdRead, len(p), nil, p)
	if err != nil {
		return 0, false, err
	}
	switch code {
	case ErrorSuccess:
		return n, false, nil
	case ErrorHandleEOF:
		return n, true, nil
	}
	return n, false, &CompletionError{Command: CmdRead, Code: code}
}

// Command sends a command without data (VDC_Flush, VDC_ClearError, VDC_Complete).
func (d *Device) Command(ctx context.Context, code int32) error {
	c, _, err := d.do(ctx, code, 0, nil, nil)
	if err != nil {
		return err
	}
	if c != ErrorSuccess {
		return &CompletionError{Command: uint32(code), Code: c}
	}
	return nil
}

// Close ends the device normally: the client's next GetCommand returns VD_E_CLOSE.
func (d *Device) Close() error {
	var err error
	d.once.Do(func() {
		err = d.send(frameClose, 0, 0, 0, nil)
		d.stop()
		_ = d.conn.Close()
	})
	return err
}

// Abort ends the device abnormally: the client's calls return VD_E_ABORT.
func (d *Device) Abort() {
	d.once.Do(func() {
		_ = d.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = d.send(frameAbort, ErrorOperationAborted, 0, 0, nil)
		d.stop()
		_ = d.conn.Close()
	})
}
