// Package vdistandin is the project's stand-in for SQL Server on Linux's VDI client library
// (libsqlvdi.so) and the simulator's side of it. The library is C++ (src/): it exports the
// documented interface of the real one (src/sqlvdi.h), so the product's client
// (internal/agent/vdi/linuxvdi) loads and calls it exactly as it would the real library, and
// Build compiles it with the machine's g++. Between the library and the simulator runs a
// transport of the stand-in's own, Unix sockets instead of POSIX shared memory:
//
//   - ClientVirtualDeviceSet::Create(name) listens on Dir()/SocketName(name).
//   - The simulator, running BACKUP … TO VIRTUAL_DEVICE or RESTORE … FROM VIRTUAL_DEVICE,
//     calls OpenSet, which dials that socket once per device and says hello; the library
//     answers with the client's VDConfig, and GetConfiguration returns once every device
//     has said hello.
//   - Each Device then carries one command at a time (Write, Read, Flush, ClearError,
//     Complete) and waits for the client's completion; Close ends the device (the client's
//     GetCommand returns VD_E_CLOSE), Abort ends it abnormally (VD_E_ABORT). The library
//     sends an abort frame when the client calls SignalAbort.
//
// Frames, both ways: a 24-byte little-endian header (type u32, code i32, size i32, payload
// length u32, position i64), then the payload.
package vdistandin

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
)

// DirEnv names the environment variable holding the directory of the sets' sockets, read by
// the library at Create and by the simulator at each statement. Unset: DefaultDir.
const DirEnv = "SQLSIM_VDI_DIR"

// DefaultDir is where sets' sockets go when DirEnv is unset.
const DefaultDir = "/tmp/sqlsim-vdi"

// Dir is the directory of the sets' sockets.
func Dir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	return DefaultDir
}

// SocketName is the file in Dir a set listens on: the set's name with ".vdi" when it is at
// most 64 plain characters (letters, digits, '-', '_', '.'), else "h-<FNV-1a 64 of the
// name>.vdi" (a Unix socket path holds at most 107 bytes). src/standin.cc computes the same.
func SocketName(set string) string {
	plain := set != "" && len(set) <= 64 && set != "." && set != ".."
	for _, c := range []byte(set) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			plain = false
		}
	}
	if plain {
		return set + ".vdi"
	}
	h := fnv.New64a()
	h.Write([]byte(set))
	return fmt.Sprintf("h-%016x.vdi", h.Sum64())
}

// SocketPath is the socket of set in dir.
func SocketPath(dir, set string) string { return filepath.Join(dir, SocketName(set)) }

// Frame types.
const (
	frameHello      = 1 // simulator → library: index, count, blockSize, maxTransferSize, name length, name
	frameCommand    = 2 // simulator → library: code, size, position; VDC_Write's data
	frameClose      = 3 // simulator → library: the device is closed (VD_E_CLOSE)
	frameAbort      = 4 // either way: the set is aborted (VD_E_ABORT)
	frameConfig     = 5 // library → simulator: the client's VDConfig (44 bytes)
	frameCompletion = 6 // library → simulator: completion code, bytes transferred, position; VDC_Read's data
)

const headerSize = 24

// Command codes (vdi.h VDCommands) the simulator sends.
const (
	CmdRead       = 1
	CmdWrite      = 2
	CmdClearError = 3
	CmdFlush      = 12
	CmdComplete   = 19
)

// Completion codes (Win32) the simulator interprets.
const (
	ErrorSuccess          = 0
	ErrorHandleEOF        = 38
	ErrorOperationAborted = 995
)

// FeatureRequestComplete is VDF_RequestComplete: the client asks for VDC_Complete at the end
// of a backup.
const FeatureRequestComplete = 0x2000

// Config is the client's VDConfig as the library reports it.
type Config struct {
	DeviceCount, Features, PrefixZoneSize, Alignment, SoftFileMarkBlockSize, EOMWarningSize,
	ServerTimeOut, BlockSize, MaxIODepth, MaxTransferSize, BufferAreaSize uint32
}
