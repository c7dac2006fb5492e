package winvdi

import "testing"

func TestCommandBufferIsTheSharedMemory(t *testing.T) {
	mem := make([]byte, 16)
	cmd := newCommand(&vdcCommand{commandCode: uint32(CmdRead), size: 8, buffer: &mem[4]})
	b := cmd.Buffer()
	if len(b) != 8 {
		t.Fatalf("buffer of %d bytes, want the command's size 8", len(b))
	}
	copy(b, "restore!")
	if string(mem[4:12]) != "restore!" || mem[3] != 0 || mem[12] != 0 {
		t.Fatalf("writing the buffer did not fill exactly the command's bytes: %q", mem)
	}
}

func TestCommandWithoutData(t *testing.T) {
	mem := make([]byte, 8)
	for _, raw := range []*vdcCommand{
		{commandCode: uint32(CmdFlush), size: 8, buffer: &mem[0]}, // size/buffer mean nothing for a flush
		{commandCode: uint32(CmdWrite), size: 0, buffer: &mem[0]},
		{commandCode: uint32(CmdWrite), size: 8, buffer: nil},
	} {
		if b := newCommand(raw).Buffer(); b != nil {
			t.Errorf("%v size %d: buffer of %d bytes, want none", CommandCode(raw.commandCode), raw.size, len(b))
		}
	}
}

// After CompleteCommand takes it, a command no longer reaches SQL Server's memory, and cannot
// be completed twice.
func TestCommandTakenOnce(t *testing.T) {
	mem := make([]byte, 8)
	raw := &vdcCommand{commandCode: uint32(CmdWrite), size: 8, position: 7, buffer: &mem[0]}
	cmd := newCommand(raw)
	if got := cmd.take(); got != raw {
		t.Fatalf("take returned %p, want %p", got, raw)
	}
	if cmd.take() != nil {
		t.Fatalf("a command was taken twice")
	}
	if cmd.Buffer() != nil || cmd.Code() != 0 || cmd.Size() != 0 || cmd.Position() != 0 {
		t.Fatalf("a completed command still reads the library's memory")
	}
}
