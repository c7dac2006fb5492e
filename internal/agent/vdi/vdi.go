// Package vdi is the platform-independent part of a client of SQL Server's Virtual Device
// Interface (issue 14): the protocol's constants and the command loop that moves a virtual
// device's bytes to a sink (BACKUP … TO VIRTUAL_DEVICE) or from a source (RESTORE … FROM
// VIRTUAL_DEVICE). The platform transports implement Platform: the COM component of
// sqlvdi.dll on Windows (winvdi), libsqlvdi.so on Linux (linuxvdi).
//
// Every constant and rule here names its source in internal/sqlsim/FIDELITY.md, section
// "VDI (issue 14)": Microsoft's "Virtual device interface (VDI) reference", the "SQL Server
// on Linux VDI client SDK specification", and the headers of Microsoft's Linux VDI sample
// (vdi.h, vdierror.h).
package vdi

import (
	"errors"
	"fmt"
	"time"
)

// Config is VDConfig (vdi.h): eleven 32-bit fields in this order. The client passes it to
// CreateEx/Create; GetConfiguration returns the one SQL Server chose.
type Config struct {
	DeviceCount           uint32 // devices in the set: one per stripe
	Features              uint32 // VDF_* bits; FeaturesLikePipe for a sequential device
	PrefixZoneSize        uint32
	Alignment             uint32
	SoftFileMarkBlockSize uint32
	EOMWarningSize        uint32
	ServerTimeOut         uint32 // milliseconds
	BlockSize             uint32
	MaxIODepth            uint32
	MaxTransferSize       uint32
	BufferAreaSize        uint32
}

// Feature bits (vdi.h VDFeatures) the product may ask for.
const (
	FeaturesLikePipe       uint32 = 0      // VDF_LikePipe: strictly sequential I/O, basic commands only
	FeatureRequestComplete uint32 = 0x2000 // VDF_RequestComplete: SQL Server sends VDC_Complete at the end
)

// CommandCode is VDC_Command.commandCode (vdi.h VDCommands).
type CommandCode int32

// Command codes, numbered as vdi.h numbers them (VDC_Read = 1, each next one + 1).
const (
	CmdRead            CommandCode = 1
	CmdWrite           CommandCode = 2
	CmdClearError      CommandCode = 3
	CmdRewind          CommandCode = 4
	CmdWriteMark       CommandCode = 5
	CmdSkipMarks       CommandCode = 6
	CmdSkipBlocks      CommandCode = 7
	CmdLoad            CommandCode = 8
	CmdGetPosition     CommandCode = 9
	CmdSetPosition     CommandCode = 10
	CmdDiscard         CommandCode = 11
	CmdFlush           CommandCode = 12
	CmdSnapshot        CommandCode = 13
	CmdMountSnapshot   CommandCode = 14
	CmdPrepareToFreeze CommandCode = 15
	CmdFileInfoBegin   CommandCode = 16
	CmdFileInfoEnd     CommandCode = 17
	CmdGetError        CommandCode = 18
	CmdComplete        CommandCode = 19
)

func (c CommandCode) String() string {
	names := map[CommandCode]string{CmdRead: "VDC_Read", CmdWrite: "VDC_Write", CmdClearError: "VDC_ClearError",
		CmdFlush: "VDC_Flush", CmdComplete: "VDC_Complete", CmdGetPosition: "VDC_GetPosition", CmdSetPosition: "VDC_SetPosition"}
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("VDC_%d", int32(c))
}

// Completion codes: the Win32 status a client returns with CompleteCommand (the Linux
// vdi.h defines the ones VDI uses).
const (
	ErrorSuccess          uint32 = 0   // ERROR_SUCCESS: every successful command
	ErrorHandleEOF        uint32 = 38  // ERROR_HANDLE_EOF: a read found the end of the data
	ErrorNotSupported     uint32 = 50  // ERROR_NOT_SUPPORTED: a command the client does not implement
	ErrorDiskFull         uint32 = 112 // ERROR_DISK_FULL
	ErrorOperationAborted uint32 = 995 // ERROR_OPERATION_ABORTED: what SignalAbort completes pending commands with
)

// Error is a VDI HRESULT (vdierror.h: facility 0x77, severity error). The named ones are
// what the command loop acts on; errors.Is compares codes.
type Error uint32

// VDI errors (vdierror.h).
const (
	ErrNotOpen      Error = 0x80770002 // VD_E_NOTOPEN
	ErrTimeout      Error = 0x80770003 // VD_E_TIMEOUT: the wait's timeout elapsed
	ErrAbort        Error = 0x80770004 // VD_E_ABORT: SignalAbort by the client or SQL Server
	ErrSecurity     Error = 0x80770005 // VD_E_SECURITY
	ErrInvalid      Error = 0x80770006 // VD_E_INVALID
	ErrInstanceName Error = 0x80770007 // VD_E_INSTANCE_NAME
	ErrNotSupported Error = 0x80770009 // VD_E_NOTSUPPORTED: a configuration field is invalid or unsupported
	ErrMemory       Error = 0x8077000a // VD_E_MEMORY
	ErrUnexpected   Error = 0x8077000b // VD_E_UNEXPECTED
	ErrProtocol     Error = 0x8077000c // VD_E_PROTOCOL
	ErrOpen         Error = 0x8077000d // VD_E_OPEN: all devices are open (or still open, from Close)
	ErrClose        Error = 0x8077000e // VD_E_CLOSE: SQL Server closed the device — the normal end
	ErrBusy         Error = 0x8077000f // VD_E_BUSY
)

func (e Error) Error() string {
	names := map[Error]string{ErrNotOpen: "VD_E_NOTOPEN", ErrTimeout: "VD_E_TIMEOUT", ErrAbort: "VD_E_ABORT",
		ErrSecurity: "VD_E_SECURITY", ErrInvalid: "VD_E_INVALID", ErrInstanceName: "VD_E_INSTANCE_NAME",
		ErrNotSupported: "VD_E_NOTSUPPORTED", ErrMemory: "VD_E_MEMORY", ErrUnexpected: "VD_E_UNEXPECTED",
		ErrProtocol: "VD_E_PROTOCOL", ErrOpen: "VD_E_OPEN", ErrClose: "VD_E_CLOSE", ErrBusy: "VD_E_BUSY"}
	if n, ok := names[e]; ok {
		return fmt.Sprintf("vdi: %s (0x%08X)", n, uint32(e))
	}
	return fmt.Sprintf("vdi: HRESULT 0x%08X", uint32(e))
}

// Command is one VDC_Command as the client sees it.
type Command struct {
	Code CommandCode
	// Buffer is SQL Server's buffer, len = the command's size: the bytes to take (Write)
	// or the space to fill (Read). Valid until CompleteCommand.
	Buffer   []byte
	Position int64
}

// Device is one open virtual device (IClientVirtualDevice on Windows, ClientVirtualDevice
// on Linux).
type Device interface {
	// GetCommand waits up to timeout for the next command (a negative timeout: no limit).
	// Its errors are Error values: ErrClose when SQL Server closed the device, ErrTimeout,
	// ErrAbort.
	GetCommand(timeout time.Duration) (*Command, error)
	// CompleteCommand tells SQL Server the command is done: a completion code, and for Read
	// and Write the bytes transferred. Errors: ErrAbort, ErrInvalid, ErrProtocol.
	CompleteCommand(cmd *Command, completionCode uint32, bytesTransferred uint32, position int64) error
}

// Named outcomes of the command loop.
var (
	// ErrAborted: the set was aborted (VD_E_ABORT), by SQL Server or by SignalAbort.
	ErrAborted = errors.New("vdi: the backup or restore was aborted (VD_E_ABORT): SQL Server ended it, or the agent signalled abort; SQL Server's error says why")
	// ErrIdle: SQL Server sent no command for longer than the pump's Idle limit.
	ErrIdle = errors.New("vdi: SQL Server sent no command on the virtual device for too long")
)
