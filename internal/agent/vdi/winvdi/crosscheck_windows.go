//go:build windows && amd64

package winvdi

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// Compile-time checks of this package's copies against golang.org/x/sys/windows, a second
// source for every Win32 and COM value (winerror.h there) and for the GUID layout. Each pair
// of constants fails to compile ("constant overflows") unless the two are equal; each pair of
// arrays has a negative length unless the sizes are equal.
const (
	_ = uint32(CompletionSuccess) - uint32(windows.ERROR_SUCCESS)
	_ = uint32(windows.ERROR_SUCCESS) - uint32(CompletionSuccess)

	_ = uint32(CompletionWriteFault) - uint32(windows.ERROR_WRITE_FAULT)
	_ = uint32(windows.ERROR_WRITE_FAULT) - uint32(CompletionWriteFault)

	_ = uint32(CompletionHandleEOF) - uint32(windows.ERROR_HANDLE_EOF)
	_ = uint32(windows.ERROR_HANDLE_EOF) - uint32(CompletionHandleEOF)

	_ = uint32(CompletionNotSupported) - uint32(windows.ERROR_NOT_SUPPORTED)
	_ = uint32(windows.ERROR_NOT_SUPPORTED) - uint32(CompletionNotSupported)

	_ = uint32(CompletionDiskFull) - uint32(windows.ERROR_DISK_FULL)
	_ = uint32(windows.ERROR_DISK_FULL) - uint32(CompletionDiskFull)

	_ = uint32(CompletionOperationAborted) - uint32(windows.ERROR_OPERATION_ABORTED)
	_ = uint32(windows.ERROR_OPERATION_ABORTED) - uint32(CompletionOperationAborted)

	_ = uint32(CompletionEndOfMedia) - uint32(windows.ERROR_END_OF_MEDIA)
	_ = uint32(windows.ERROR_END_OF_MEDIA) - uint32(CompletionEndOfMedia)

	_ = uint32(CompletionFilemarkDetected) - uint32(windows.ERROR_FILEMARK_DETECTED)
	_ = uint32(windows.ERROR_FILEMARK_DETECTED) - uint32(CompletionFilemarkDetected)

	_ = uint32(CompletionNoDataDetected) - uint32(windows.ERROR_NO_DATA_DETECTED)
	_ = uint32(windows.ERROR_NO_DATA_DETECTED) - uint32(CompletionNoDataDetected)

	_ = uint32(CompletionEOMOverflow) - uint32(windows.ERROR_EOM_OVERFLOW)
	_ = uint32(windows.ERROR_EOM_OVERFLOW) - uint32(CompletionEOMOverflow)

	_ = uint32(hrRegdbClassNotReg) - uint32(windows.REGDB_E_CLASSNOTREG)
	_ = uint32(windows.REGDB_E_CLASSNOTREG) - uint32(hrRegdbClassNotReg)

	_ = uint32(hrNoInterface) - uint32(windows.E_NOINTERFACE)
	_ = uint32(windows.E_NOINTERFACE) - uint32(hrNoInterface)

	_ = uint32(hrAccessDenied) - uint32(windows.E_ACCESSDENIED)
	_ = uint32(windows.E_ACCESSDENIED) - uint32(hrAccessDenied)

	_ = uint32(hrNotInitialized) - uint32(windows.CO_E_NOTINITIALIZED)
	_ = uint32(windows.CO_E_NOTINITIALIZED) - uint32(hrNotInitialized)

	_ = uint32(hrOutOfMemory) - uint32(windows.E_OUTOFMEMORY)
	_ = uint32(windows.E_OUTOFMEMORY) - uint32(hrOutOfMemory)

	_ = uint32(hrInvalidArg) - uint32(windows.E_INVALIDARG)
	_ = uint32(windows.E_INVALIDARG) - uint32(hrInvalidArg)

	_ = uint32(hrChangedMode) - uint32(windows.RPC_E_CHANGED_MODE)
	_ = uint32(windows.RPC_E_CHANGED_MODE) - uint32(hrChangedMode)

	_ = uint32(hrSFalse) - uint32(windows.S_FALSE)
	_ = uint32(windows.S_FALSE) - uint32(hrSFalse)

	_ = uint32(infiniteMillis) - uint32(windows.INFINITE)
	_ = uint32(windows.INFINITE) - uint32(infiniteMillis)
)

var cmdProbe vdcCommand

var (
	// GUID is convertible to windows.GUID (same field names and types) and as large.
	_ = windows.GUID(GUID{})
	_ [unsafe.Sizeof(windows.GUID{}) - unsafe.Sizeof(GUID{})]struct{}
	_ [unsafe.Sizeof(GUID{}) - unsafe.Sizeof(windows.GUID{})]struct{}

	// VDC_Command's 64-bit layout (abi.go), on the one target the calls are built for.
	_ [unsafe.Sizeof(cmdProbe) - sizeofVDCCommand]struct{}
	_ [sizeofVDCCommand - unsafe.Sizeof(cmdProbe)]struct{}
	_ [unsafe.Offsetof(cmdProbe.buffer) - offsetofCommandBuffer]struct{}
	_ [offsetofCommandBuffer - unsafe.Offsetof(cmdProbe.buffer)]struct{}
	_ [unsafe.Offsetof(cmdProbe.position) - offsetofCommandPosition]struct{}
	_ [offsetofCommandPosition - unsafe.Offsetof(cmdProbe.position)]struct{}
)
