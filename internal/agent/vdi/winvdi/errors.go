package winvdi

import (
	"errors"
	"fmt"
)

// HRESULT is a COM status: negative (bit 31 set) is a failure.
type HRESULT uint32

// Failed is FAILED(hr).
func (h HRESULT) Failed() bool { return int32(h) < 0 }

// VDI's HRESULTs: MAKE_HRESULT(SEVERITY_ERROR, 0x77, code), so 0x8077xxxx. Values and meanings:
// vdierror.h (both copies agree on every code; there is no code 8). The ref pages name which
// method returns which.
const (
	hrVDNotOpen        HRESULT = 0x80770002 // VD_E_NOTOPEN: the object was not open
	hrVDTimeout        HRESULT = 0x80770003 // VD_E_TIMEOUT: the wait's timeout elapsed
	hrVDAbort          HRESULT = 0x80770004 // VD_E_ABORT: SignalAbort was called (by either side)
	hrVDSecurity       HRESULT = 0x80770005 // VD_E_SECURITY: failed to create the security environment
	hrVDInvalid        HRESULT = 0x80770006 // VD_E_INVALID: an invalid parameter
	hrVDInstanceName   HRESULT = 0x80770007 // VD_E_INSTANCE_NAME: unknown SQL Server instance
	hrVDNotSupported   HRESULT = 0x80770009 // VD_E_NOTSUPPORTED: the configuration is invalid
	hrVDMemory         HRESULT = 0x8077000A // VD_E_MEMORY: out of memory
	hrVDUnexpected     HRESULT = 0x8077000B // VD_E_UNEXPECTED: internal error
	hrVDProtocol       HRESULT = 0x8077000C // VD_E_PROTOCOL: call out of sequence
	hrVDOpen           HRESULT = 0x8077000D // VD_E_OPEN: all devices are open (OpenDevice) / devices still open (Close)
	hrVDClose          HRESULT = 0x8077000E // VD_E_CLOSE: SQL Server closed the device — the normal end
	hrVDBusy           HRESULT = 0x8077000F // VD_E_BUSY: the resource is busy
	hrRegdbClassNotReg HRESULT = 0x80040154 // REGDB_E_CLASSNOTREG (winerror.h, x/sys)
	hrNoInterface      HRESULT = 0x80004002 // E_NOINTERFACE (winerror.h, x/sys)
	hrAccessDenied     HRESULT = 0x80070005 // E_ACCESSDENIED (winerror.h, x/sys)
	hrNotInitialized   HRESULT = 0x800401F0 // CO_E_NOTINITIALIZED (winerror.h, x/sys)
	hrOutOfMemory      HRESULT = 0x8007000E // E_OUTOFMEMORY (winerror.h, x/sys)
	hrInvalidArg       HRESULT = 0x80070057 // E_INVALIDARG (winerror.h, x/sys)
	hrChangedMode      HRESULT = 0x80010106 // RPC_E_CHANGED_MODE: the thread is already in another apartment (winerror.h, x/sys)
	hrSFalse           HRESULT = 0x00000001 // S_FALSE: CoInitializeEx on a thread already in the MTA (x/sys)
)

// The errors a VDI call can end in. Test with errors.Is; the *Error that wraps them keeps the
// call and the raw HRESULT. What the messages tell an operator to do for VD_E_SECURITY and
// E_ACCESSDENIED is an assumption: sqlpipe reports E_ACCESSDENIED from CreateEx as "you must be
// logged in as a Windows administrator", and CreateEx's reference says it edits the process's
// DACL so that the SQL Server service account may open the shared memory; nothing documents the
// exact right a service account needs.
var (
	ErrNotOpen      = errors.New("the virtual device set is not open (VD_E_NOTOPEN)")
	ErrTimeout      = errors.New("timed out waiting for SQL Server on the virtual device (VD_E_TIMEOUT)")
	ErrAbort        = errors.New("the virtual device set was aborted by the agent or by SQL Server (VD_E_ABORT); SQL Server's error for the BACKUP or RESTORE says why")
	ErrSecurity     = errors.New("VDI could not create its security environment (VD_E_SECURITY): the agent's Windows account needs the right to create global objects (services have it; check the account the agent runs as)")
	ErrInvalid      = errors.New("VDI refused a parameter (VD_E_INVALID): a device name that is not in the set, or a command that is not active")
	ErrInstanceName = errors.New("VDI does not know that SQL Server instance (VD_E_INSTANCE_NAME): give the instance name alone, or leave it empty for the default instance, and run the agent on SQL Server's machine")
	ErrNotSupported = errors.New("VDI refused the configuration (VD_E_NOTSUPPORTED): check the device count (1 to 64) and the requested features")
	ErrMemory       = errors.New("VDI ran out of memory (VD_E_MEMORY)")
	ErrUnexpected   = errors.New("VDI internal error (VD_E_UNEXPECTED)")
	ErrProtocol     = errors.New("VDI call out of sequence (VD_E_PROTOCOL)")
	ErrOpen         = errors.New("every device of the set is already open, or devices were still open at Close (VD_E_OPEN)")
	ErrClose        = errors.New("SQL Server closed the virtual device (VD_E_CLOSE)")
	ErrBusy         = errors.New("the virtual device is busy (VD_E_BUSY)")

	ErrNotRegistered    = errors.New("SQL Server's VDI component (sqlvdi.dll) is not registered on this machine (REGDB_E_CLASSNOTREG): the agent must run on the SQL Server machine; repair the SQL Server installation if it does")
	ErrNoInterface      = errors.New("the installed sqlvdi.dll does not offer IClientVirtualDeviceSet2 (E_NOINTERFACE): install a current SQL Server")
	ErrAccessDenied     = errors.New("Windows refused the agent's account (E_ACCESSDENIED): run the agent as LocalSystem or as a local administrator")
	ErrCOMUninitialized = errors.New("COM is not initialized on this thread (CO_E_NOTINITIALIZED)")
	ErrOutOfMemory      = errors.New("out of memory (E_OUTOFMEMORY)")
	ErrInvalidArg       = errors.New("invalid argument (E_INVALIDARG)")

	// ErrPlatform: NewDeviceSet off windows/amd64, where there is no sqlvdi.dll.
	ErrPlatform = errors.New("the Windows VDI client runs only on windows/amd64")

	// ErrReleased is a call on a DeviceSet or Device after Close released it.
	ErrReleased = errors.New("the virtual device set is closed")
)

var hresultErrors = map[HRESULT]error{
	hrVDNotOpen: ErrNotOpen, hrVDTimeout: ErrTimeout, hrVDAbort: ErrAbort, hrVDSecurity: ErrSecurity,
	hrVDInvalid: ErrInvalid, hrVDInstanceName: ErrInstanceName, hrVDNotSupported: ErrNotSupported,
	hrVDMemory: ErrMemory, hrVDUnexpected: ErrUnexpected, hrVDProtocol: ErrProtocol, hrVDOpen: ErrOpen,
	hrVDClose: ErrClose, hrVDBusy: ErrBusy,
	hrRegdbClassNotReg: ErrNotRegistered, hrNoInterface: ErrNoInterface, hrAccessDenied: ErrAccessDenied,
	hrNotInitialized: ErrCOMUninitialized, hrOutOfMemory: ErrOutOfMemory, hrInvalidArg: ErrInvalidArg,
}

// Error is a failed VDI or COM call: which call, and the HRESULT it returned.
type Error struct {
	Op      string // e.g. "IClientVirtualDevice::GetCommand"
	HRESULT HRESULT
	err     error // the named error for HRESULT; nil if it has none
}

func (e *Error) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %v [0x%08X]", e.Op, e.err, uint32(e.HRESULT))
	}
	return fmt.Sprintf("%s failed with HRESULT 0x%08X", e.Op, uint32(e.HRESULT))
}

// Unwrap gives the named error (ErrTimeout, ErrAbort, ErrClose, …), for errors.Is.
func (e *Error) Unwrap() error { return e.err }

// check is nil for a success HRESULT (S_OK, S_FALSE, any non-negative value), else an *Error
// for op.
func check(op string, hr HRESULT) error {
	if !hr.Failed() {
		return nil
	}
	return &Error{Op: op, HRESULT: hr, err: hresultErrors[hr]}
}
