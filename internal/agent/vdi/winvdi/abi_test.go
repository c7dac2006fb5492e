package winvdi

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

// The memory layouts the library reads and writes, against the C layout for 64-bit Windows
// (MSVC, #pragma pack(8), LLP64) worked out from the header's field types.
func TestVDConfigLayout(t *testing.T) {
	var c vdConfig
	if got := unsafe.Sizeof(c); got != sizeofVDConfig {
		t.Fatalf("sizeof(VDConfig) = %d, want %d", got, sizeofVDConfig)
	}
	// Eleven 32-bit fields, in header order, back to back.
	offsets := []uintptr{
		unsafe.Offsetof(c.deviceCount), unsafe.Offsetof(c.features), unsafe.Offsetof(c.prefixZoneSize),
		unsafe.Offsetof(c.alignment), unsafe.Offsetof(c.softFileMarkBlockSize), unsafe.Offsetof(c.eomWarningSize),
		unsafe.Offsetof(c.serverTimeOut), unsafe.Offsetof(c.blockSize), unsafe.Offsetof(c.maxIODepth),
		unsafe.Offsetof(c.maxTransferSize), unsafe.Offsetof(c.bufferAreaSize),
	}
	for i, off := range offsets {
		if off != uintptr(4*i) {
			t.Errorf("VDConfig field %d at offset %d, want %d", i, off, 4*i)
		}
	}
}

func TestVDCCommandLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Fatalf("these layouts are windows/amd64's; run the test on a 64-bit host")
	}
	var c vdcCommand
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof", unsafe.Sizeof(c), sizeofVDCCommand},
		{"commandCode", unsafe.Offsetof(c.commandCode), 0},
		{"size", unsafe.Offsetof(c.size), offsetofCommandSize},
		{"position", unsafe.Offsetof(c.position), offsetofCommandPosition},
		{"buffer", unsafe.Offsetof(c.buffer), offsetofCommandBuffer},
	} {
		if f.got != f.want {
			t.Errorf("VDC_Command %s = %d, want %d", f.name, f.got, f.want)
		}
	}
}

// A command the library wrote is read field by field from the right bytes.
func TestCommandReadsTheCLayout(t *testing.T) {
	data := []byte("backup bytes")
	var raw [sizeofVDCCommand]byte
	binary.LittleEndian.PutUint32(raw[0:], uint32(CmdWrite))
	binary.LittleEndian.PutUint32(raw[offsetofCommandSize:], uint32(len(data)))
	binary.LittleEndian.PutUint64(raw[offsetofCommandPosition:], 0x0102030405060708)
	*(**byte)(unsafe.Pointer(&raw[offsetofCommandBuffer])) = &data[0]

	cmd := newCommand((*vdcCommand)(unsafe.Pointer(&raw[0])))
	if cmd.Code() != CmdWrite || cmd.Size() != uint32(len(data)) || cmd.Position() != 0x0102030405060708 {
		t.Fatalf("read code %v size %d position %#x", cmd.Code(), cmd.Size(), cmd.Position())
	}
	if got := string(cmd.Buffer()); got != string(data) {
		t.Fatalf("buffer %q, want %q", got, data)
	}
}

// The GUIDs as the headers write them (the MIDL_INTERFACE strings and the coclass define), and
// their memory image, which is what CoCreateInstance reads.
func TestGUIDs(t *testing.T) {
	for _, g := range []struct {
		name string
		guid GUID
		want string
	}{
		{"IID_IClientVirtualDevice", iidClientVirtualDevice, "{40700424-0080-11d2-851f-00c04fc21759}"},
		{"CLSID_MSSQL_ClientVirtualDeviceSet (= IID_IClientVirtualDeviceSet)", clsidClientVirtualDeviceSet, "{40700425-0080-11d2-851f-00c04fc21759}"},
		{"IID_IClientVirtualDeviceSet2", iidClientVirtualDeviceSet2, "{d0e6eb07-7a62-11d2-8573-00c04fc21759}"},
	} {
		if got := g.guid.String(); got != g.want {
			t.Errorf("%s = %s, want %s", g.name, got, g.want)
		}
	}
	if unsafe.Sizeof(GUID{}) != 16 {
		t.Fatalf("sizeof(GUID) = %d, want 16", unsafe.Sizeof(GUID{}))
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&iidClientVirtualDeviceSet2)), 16)
	want := []byte{0x07, 0xeb, 0xe6, 0xd0, 0x62, 0x7a, 0xd2, 0x11, 0x85, 0x73, 0x00, 0xc0, 0x4f, 0xc2, 0x17, 0x59}
	if string(mem) != string(want) {
		t.Fatalf("IID_IClientVirtualDeviceSet2 in memory % x, want % x", mem, want)
	}
}

// IClientVirtualDeviceSet2's vtable is IUnknown's three, IClientVirtualDeviceSet's eight,
// then its own two, in the headers' declaration order.
func TestVtableSlots(t *testing.T) {
	set := []int{slotQueryInterface, slotAddRef, slotRelease, slotSetCreate, slotSetGetConfiguration,
		slotSetOpenDevice, slotSetClose, slotSetSignalAbort, slotSetOpenInSecondary, slotSetGetBufferHandle,
		slotSetMapBufferHandle, slotSetCreateEx, slotSetOpenInSecondaryEx}
	for i, s := range set {
		if s != i {
			t.Errorf("IClientVirtualDeviceSet2 method %d has slot %d", i, s)
		}
	}
	if slotDeviceGetCommand != 3 || slotDeviceCompleteCommand != 4 {
		t.Errorf("IClientVirtualDevice GetCommand/CompleteCommand at %d/%d, want 3/4", slotDeviceGetCommand, slotDeviceCompleteCommand)
	}
}
