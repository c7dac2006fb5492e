package winvdi

import "unsafe"

// Command is one command GetCommand returned, until it is handed back to CompleteCommand.
// It reads VDC_Command in the library's memory; the data buffer is the shared memory SQL
// Server reads or writes, so Buffer is not a copy.
type Command struct {
	c *vdcCommand // nil once completed
}

func newCommand(c *vdcCommand) *Command { return &Command{c: c} }

// Code is what SQL Server asks for.
func (c *Command) Code() CommandCode {
	if c.c == nil {
		return 0
	}
	return CommandCode(c.c.commandCode)
}

// Size is the byte count of a VDC_Read or VDC_Write; for other commands the field carries
// command-specific counts (spec "VDC_Command Client Command Inputs": "overloaded for some
// commands").
func (c *Command) Size() uint32 {
	if c.c == nil {
		return 0
	}
	return c.c.size
}

// Position is the device position the command refers to; defined only for random-access
// devices (spec VDC_Read, VDC_Write: "Position is defined only if VDF_RandomAccess is set").
func (c *Command) Position() uint64 {
	if c.c == nil {
		return 0
	}
	return c.c.position
}

// Buffer is the command's data, Size bytes of shared memory: for VDC_Write the backup bytes
// to store, for VDC_Read the space to fill with restore bytes. It is nil for commands that
// move no data, and after CompleteCommand — the memory then belongs to SQL Server again, so
// nothing may keep the slice (copy what must outlive the command).
func (c *Command) Buffer() []byte {
	if c.c == nil || c.c.buffer == nil || c.c.size == 0 || !CommandCode(c.c.commandCode).carriesBuffer() {
		return nil
	}
	return unsafe.Slice(c.c.buffer, c.c.size)
}

// take hands the command's C pointer to CompleteCommand and detaches it, so a Command is
// completed at most once and its buffer is not reachable through it afterwards.
func (c *Command) take() *vdcCommand {
	p := c.c
	c.c = nil
	return p
}
