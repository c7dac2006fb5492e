package winvdi

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

// Off windows/amd64 there is no sqlvdi.dll: Open says so with vdi.ErrNoPlatform, which the
// agent and doctor name.
func TestOpenOffWindows(t *testing.T) {
	if runtime.GOOS == "windows" && runtime.GOARCH == "amd64" {
		return // the real library may or may not be registered on a Windows runner
	}
	_, err := Open()
	if !errors.Is(err, vdi.ErrNoPlatform) || !errors.Is(err, ErrPlatform) {
		t.Fatalf("Open() = %v, want vdi.ErrNoPlatform and ErrPlatform", err)
	}
}

// The platform drives the COM objects in the protocol's order: CreateEx with the data path's
// configuration (NULL instance for the default one), GetConfiguration, OpenDevice, the
// command loop on the device, then Close; abort reaches SignalAbort.
func TestPlatformIsTheDataPathsTransport(t *testing.T) {
	f := newFakeSet()
	f.serverConfig = vdConfig{deviceCount: 1, maxTransferSize: 4 << 20}
	data := []byte("backup bytes")
	f.device("sqlvault_tok_p-a1-s1.bak", &vdcCommand{commandCode: uint32(CmdWrite), size: uint32(len(data)), buffer: &data[0]},
		&vdcCommand{commandCode: uint32(CmdComplete)})
	p := &Platform{newSet: func() (*DeviceSet, error) { return newDeviceSet(f), nil }}
	if p.Describe() == "" {
		t.Fatal("no description")
	}
	set, err := p.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Create("", "sqlvault_tok_p-a1-s1.bak", vdi.Config{DeviceCount: 1, Features: vdi.FeatureRequestComplete}); err != nil {
		t.Fatal(err)
	}
	if f.instance != "<NULL>" || f.name != "sqlvault_tok_p-a1-s1.bak" || f.created.deviceCount != 1 || f.created.features != vdi.FeatureRequestComplete {
		t.Fatalf("CreateEx(%q, %q, %+v)", f.instance, f.name, f.created)
	}
	cfg, err := set.GetConfiguration(10 * time.Second)
	if err != nil || cfg.MaxTransferSize != 4<<20 {
		t.Fatalf("GetConfiguration = %+v, %v", cfg, err)
	}
	dev, err := set.OpenDevice("sqlvault_tok_p-a1-s1.bak")
	if err != nil {
		t.Fatal(err)
	}
	var sink collect
	if err := (&vdi.Pump{Device: dev, Sink: &sink}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sink.String() != "backup bytes" {
		t.Fatalf("sink got %q", sink.String())
	}
	if _, err := set.OpenDevice("other"); !errors.Is(err, vdi.ErrInvalid) {
		t.Fatalf("OpenDevice(unknown) = %v, want an error matching vdi.ErrInvalid", err)
	}
	if err := set.SignalAbort(); err != nil {
		t.Fatal(err)
	}
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"CreateEx", "GetConfiguration", "OpenDevice sqlvault_tok_p-a1-s1.bak", "OpenDevice other", "SignalAbort", "Close"}
	if got := f.recorded(); !slices.Equal(got[:len(want)], want) {
		t.Fatalf("calls %v, want %v then releases", got, want)
	}
}
