package winvdi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

type collect struct{ bytes.Buffer }

func (c *collect) Write(_ context.Context, p []byte) error { _, err := c.Buffer.Write(p); return err }

type source struct{ r io.Reader }

func (s source) Read(_ context.Context, p []byte) (int, error) { return s.r.Read(p) }

func openFake(t *testing.T, f *fakeSet, name string) *Device {
	t.Helper()
	d, err := newDeviceSet(f).OpenDevice(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The command loop of internal/agent/vdi runs a backup over this client.
func TestPumpBacksUpThroughTheClient(t *testing.T) {
	a, b := []byte("first "), []byte("second")
	f := newFakeSet()
	dev := f.device("dev",
		&vdcCommand{commandCode: uint32(CmdWrite), size: uint32(len(a)), buffer: &a[0]},
		&vdcCommand{commandCode: uint32(CmdFlush)},
		&vdcCommand{commandCode: uint32(CmdWrite), size: uint32(len(b)), buffer: &b[0]},
		&vdcCommand{commandCode: uint32(CmdComplete)},
		&vdcCommand{commandCode: uint32(CmdSkipMarks), size: 3},
	)
	var sink collect
	p := vdi.Pump{Device: openFake(t, f, "dev").VDI(), Sink: &sink, Wait: time.Second}
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v, want nil at VD_E_CLOSE", err)
	}
	if sink.String() != "first second" {
		t.Fatalf("sink got %q", sink.String())
	}
	want := []struct{ code, bytes uint32 }{{0, 6}, {0, 0}, {0, 6}, {0, 0}, {uint32(CompletionNotSupported), 0}}
	if len(dev.completed) != len(want) {
		t.Fatalf("%d completions, want %d", len(dev.completed), len(want))
	}
	for i, w := range want {
		if c := dev.completed[i]; c.code != w.code || c.bytes != w.bytes {
			t.Errorf("completion %d: code %d bytes %d, want %d %d", i, c.code, c.bytes, w.code, w.bytes)
		}
	}
	if dev.timeouts[0] != 1000 {
		t.Errorf("the pump's one-second wait reached VDI as %d ms", dev.timeouts[0])
	}
}

// A restore: the pump fills SQL Server's buffers; the short read at the end is ERROR_HANDLE_EOF.
func TestPumpRestoresThroughTheClient(t *testing.T) {
	buf1, buf2 := make([]byte, 8), make([]byte, 8)
	f := newFakeSet()
	dev := f.device("dev",
		&vdcCommand{commandCode: uint32(CmdRead), size: 8, buffer: &buf1[0]},
		&vdcCommand{commandCode: uint32(CmdRead), size: 8, buffer: &buf2[0]},
	)
	p := vdi.Pump{Device: openFake(t, f, "dev").VDI(), Source: source{bytes.NewReader([]byte("0123456789"))}}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if string(buf1) != "01234567" || string(buf2[:2]) != "89" {
		t.Fatalf("SQL Server's buffers hold %q %q", buf1, buf2)
	}
	if c := dev.completed; len(c) != 2 || c[0].code != 0 || c[0].bytes != 8 || c[1].code != uint32(CompletionHandleEOF) || c[1].bytes != 2 {
		t.Fatalf("completions %+v", c)
	}
}

// VD_E_ABORT from this client is the loop's abort.
func TestPumpSeesTheClientsAbort(t *testing.T) {
	f := newFakeSet()
	dev := f.device("dev")
	dev.block = make(chan struct{})
	_ = f.SignalAbort()
	p := vdi.Pump{Device: openFake(t, f, "dev").VDI()}
	if err := p.Run(context.Background()); !errors.Is(err, vdi.ErrAborted) {
		t.Fatalf("Run = %v, want vdi.ErrAborted", err)
	}
}

func TestErrorsMatchTheLoopsErrors(t *testing.T) {
	for hr, want := range map[HRESULT]vdi.Error{hrVDClose: vdi.ErrClose, hrVDTimeout: vdi.ErrTimeout, hrVDAbort: vdi.ErrAbort} {
		err := check("IClientVirtualDevice::GetCommand", hr)
		if !errors.Is(err, want) {
			t.Errorf("%#x does not match %v", uint32(hr), want)
		}
		for _, other := range []vdi.Error{vdi.ErrClose, vdi.ErrTimeout, vdi.ErrAbort} {
			if other != want && errors.Is(err, other) {
				t.Errorf("%#x matches %v too", uint32(hr), other)
			}
		}
	}
}

func TestLoopCommandCompletedOnce(t *testing.T) {
	f := newFakeSet()
	dev := f.device("dev", &vdcCommand{commandCode: uint32(CmdClearError)})
	d := openFake(t, f, "dev").VDI()
	cmd, err := d.GetCommand(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CompleteCommand(cmd, vdi.ErrorSuccess, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.CompleteCommand(cmd, vdi.ErrorSuccess, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second completion = %v", err)
	}
	if err := d.CompleteCommand(&vdi.Command{}, vdi.ErrorSuccess, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("completing a stranger's command = %v", err)
	}
	if len(dev.completed) != 1 {
		t.Fatalf("%d completions reached the library", len(dev.completed))
	}
}
