package winvdi

import (
	"fmt"
	"unsafe"
)

// Sources named in this file (and the package's other files), by short name:
//
//	vdi.h       bareos/bareos core/src/win32/vdi/include/vdi.h — Microsoft's sample header from
//	            microsoft/sql-server-samples samples/features/sqlvdi (MIDL 7.00.0408, 2004;
//	            has VDF_RequestComplete and VDC_Complete)
//	vdi.h/nt5   tongzx/nt5src Source/XPSP1/NT/drivers/storage/volsnap/vss/server/modules/
//	            sqllib/inc/vdi.h — the copy Windows' own SQL writer was built with (MIDL 5.01, 1999)
//	vdiguid.h   bareos/bareos core/src/win32/vdi/include/vdiguid.h, and vdiguid.h beside vdi.h/nt5
//	vdierror.h  bareos/bareos core/src/win32/vdi/include/vdierror.h, and vdierror.h beside vdi.h/nt5
//	vdi.h/linux Microsoft's SQL Server on Linux VDI sample header, samples/features/sqlvdi-linux/
//	            vdi.h of microsoft/sql-server-samples, read from the mirror rebsonoliveira/sql-server
//	            (same VDConfig, VDFeatures, VDCommands as vdi.h; C++ classes instead of COM)
//	mthread     specialized806/sql-server-samples samples/features/sqlvdi/mthread/mthread.cpp
//	            (a fork of microsoft/sql-server-samples: Microsoft's multi-stream sample)
//	sqlpipe     duncansmart/sqlpipe SqlPipe.cpp
//	bareos-fd   bareos/bareos core/src/win32/plugins/filed/mssqlvdi-fd.cc
//	pbsgui      sol1/pbsgui crates/pbsgui-engine/src/sql/vdi.rs (Rust, windows crate COM interfaces)
//	spec        "SQL Server 2005 Virtual Backup Device Interface Specification", as published at
//	            documentation.help/MS-SQL-Server-Virtual-Backup/ (VDConfig Structure, VDC_Command,
//	            VDC_Read, VDC_Write, Command General Rules, Command Inputs/Outputs)
//	ref         MicrosoftDocs/sql-docs docs/relational-databases/backup-restore/vdi-reference/*.md
//	x/sys       golang.org/x/sys/windows v0.47.0 (zerrors_windows.go, types_windows.go); the
//	            windows build checks our copies against it at compile time (crosscheck_windows.go)

// GUID is a COM GUID in memory order (Data1..Data4, 16 bytes), the layout
// golang.org/x/sys/windows.GUID and the C struct _GUID share.
type GUID struct {
	Data1 uint32
	Data2 uint16
	Data3 uint16
	Data4 [8]byte
}

// String is the registry form, {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}, lower case.
func (g GUID) String() string {
	return fmt.Sprintf("{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
		g.Data1, g.Data2, g.Data3, g.Data4[0], g.Data4[1],
		g.Data4[2], g.Data4[3], g.Data4[4], g.Data4[5], g.Data4[6], g.Data4[7])
}

var (
	// iidClientVirtualDevice is IID_IClientVirtualDevice: vdiguid.h (both copies, MIDL_DEFINE_GUID
	// and the plain const), MIDL_INTERFACE("40700424-0080-11d2-851f-00c04fc21759") in vdi.h and
	// vdi.h/nt5, pbsgui.
	iidClientVirtualDevice = GUID{0x40700424, 0x0080, 0x11d2, [8]byte{0x85, 0x1f, 0x00, 0xc0, 0x4f, 0xc2, 0x17, 0x59}}

	// clsidClientVirtualDeviceSet is CLSID_MSSQL_ClientVirtualDeviceSet. vdi.h and vdi.h/nt5 both
	// "#define CLSID_MSSQL_ClientVirtualDeviceSet IID_IClientVirtualDeviceSet": the class ID is
	// the IID of the original IClientVirtualDeviceSet (40700425-…). mthread passes
	// IID_IClientVirtualDeviceSet as the class ID ("we use a single IID for both the class and
	// interface identifiers"); pbsgui uses 0x40700425_0080_11d2_851f_00c04fc21759.
	clsidClientVirtualDeviceSet = GUID{0x40700425, 0x0080, 0x11d2, [8]byte{0x85, 0x1f, 0x00, 0xc0, 0x4f, 0xc2, 0x17, 0x59}}

	// iidClientVirtualDeviceSet2 is IID_IClientVirtualDeviceSet2: vdiguid.h (both copies),
	// MIDL_INTERFACE("d0e6eb07-7a62-11d2-8573-00c04fc21759") in vdi.h and vdi.h/nt5, pbsgui.
	iidClientVirtualDeviceSet2 = GUID{0xd0e6eb07, 0x7a62, 0x11d2, [8]byte{0x85, 0x73, 0x00, 0xc0, 0x4f, 0xc2, 0x17, 0x59}}
)

// Vtable slots. A COM object's first word points to its vtable, an array of function
// pointers in declaration order, inherited interfaces first (IUnknown: QueryInterface,
// AddRef, Release). Every method takes the object pointer ("This") as its first argument.
// Order: the C-style IClientVirtualDeviceVtbl and IClientVirtualDeviceSet2Vtbl in vdi.h and
// vdi.h/nt5 (identical), the C++ declarations in both, and pbsgui's #[interface] traits
// (IClientVirtualDeviceSet2: IClientVirtualDeviceSet: IUnknown, same method order).
const (
	slotQueryInterface = 0
	slotAddRef         = 1
	slotRelease        = 2

	// IClientVirtualDeviceSet2 (IClientVirtualDeviceSet's eight methods, then its own two).
	slotSetCreate            = 3 // Create(LPCWSTR lpName, VDConfig*) — deprecated by CreateEx (ref)
	slotSetGetConfiguration  = 4 // GetConfiguration(DWORD dwTimeOut, VDConfig* pCfg)
	slotSetOpenDevice        = 5 // OpenDevice(LPCWSTR lpName, IClientVirtualDevice** ppVirtualDevice)
	slotSetClose             = 6 // Close(void)
	slotSetSignalAbort       = 7 // SignalAbort(void)
	slotSetOpenInSecondary   = 8 // OpenInSecondary(LPCWSTR lpSetName)
	slotSetGetBufferHandle   = 9 // GetBufferHandle(BYTE* pBuffer, DWORD* pBufferHandle)
	slotSetMapBufferHandle   = 10
	slotSetCreateEx          = 11 // CreateEx(LPCWSTR lpInstanceName, LPCWSTR lpName, VDConfig* pCfg)
	slotSetOpenInSecondaryEx = 12 // OpenInSecondaryEx(LPCWSTR lpInstanceName, LPCWSTR lpSetName)

	// IClientVirtualDevice.
	slotDeviceGetCommand      = 3 // GetCommand(DWORD dwTimeOut, VDC_Command** ppCmd)
	slotDeviceCompleteCommand = 4 // CompleteCommand(VDC_Command* pCmd, DWORD dwCompletionCode, DWORD dwBytesTransferred, DWORDLONG dwlPosition)
)

// vdConfig is struct VDConfig exactly as C lays it out: eleven "unsigned long" fields under
// #pragma pack(8) (vdi.h, vdi.h/nt5), uint32_t in vdi.h/linux. Windows is LLP64, so unsigned
// long is 32 bits on windows/amd64 too: 44 bytes, no padding. spec's "VDConfig Structure"
// gives each field as UINT32. Field order: vdi.h, vdi.h/nt5, vdi.h/linux, pbsgui.
type vdConfig struct {
	deviceCount           uint32 // client: number of devices, 1..64 (spec)
	features              uint32 // client requests, server answers (Features)
	prefixZoneSize        uint32 // client: bytes before each aligned buffer; 0 = none
	alignment             uint32 // client: minimum buffer alignment
	softFileMarkBlockSize uint32 // client: only with VDF_FileMarks
	eomWarningSize        uint32 // client: end-of-media warning zone; 0 = none
	serverTimeOut         uint32 // client: ms SQL Server waits for the client; 0 = infinite (spec)
	blockSize             uint32 // server: the device BLOCKSIZE
	maxIODepth            uint32 // server: deprecated, always 4 (spec)
	maxTransferSize       uint32 // server: the largest transfer
	bufferAreaSize        uint32 // server
}

// vdcCommand is struct VDC_Command as C lays it out on windows/amd64 (#pragma pack(8)):
//
//	DWORD     commandCode  offset 0
//	DWORD     size         offset 4
//	DWORDLONG position     offset 8
//	BYTE*     buffer       offset 16
//	                       size 24
//
// Sources: vdi.h, vdi.h/nt5 (DWORD, DWORD, DWORDLONG, BYTE*), vdi.h/linux (int32_t, int32_t,
// int64_t, uint8_t*), pbsgui (u32, u32, u64, *mut u8), spec's "VDC_Command Client Command
// Inputs" (UINT32 code, PTR buffer, UINT32 size, UINT64 position — a table, not the memory
// order). The library owns this memory; we only read it through the pointer GetCommand
// returns, and hand the same pointer back to CompleteCommand.
type vdcCommand struct {
	commandCode uint32
	size        uint32
	position    uint64
	buffer      *byte
}

// The C layouts above, for 64-bit Windows, as the tests and the windows build check them.
const (
	sizeofVDConfig          = 44
	sizeofVDCCommand        = 24
	offsetofCommandSize     = 4
	offsetofCommandPosition = 8
	offsetofCommandBuffer   = 16
)

// Compile-time: the Go structs have the C sizes (on a 64-bit target; the windows code is
// built for amd64 only). A mismatch makes one of these array lengths negative.
var (
	_ [unsafe.Sizeof(vdConfig{}) - sizeofVDConfig]struct{}
	_ [sizeofVDConfig - unsafe.Sizeof(vdConfig{})]struct{}
)
