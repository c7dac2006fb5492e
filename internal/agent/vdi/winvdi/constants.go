package winvdi

import (
	"fmt"
	"strings"
)

// CommandCode is VDC_Command.commandCode: what SQL Server asks of the device (enum VDCommands).
type CommandCode uint32

// The command codes. enum VDCommands counts up from VDC_Read = 1 in declaration order: vdi.h,
// vdi.h/linux (all nineteen); vdi.h/nt5 (1..14, VDC_Read..VDC_MountSnapshot, predating the
// rest); bareos-fd's switch uses the names up to VDC_Complete; pbsgui uses Read 1, Write 2,
// ClearError 3, Flush 12. VDC_GetError (18) and VDC_Complete (19) are in vdi.h and
// vdi.h/linux only (two copies of Microsoft's current header).
const (
	CmdRead            CommandCode = 1  // VDC_Read: restore — fill Buffer with the next Size bytes
	CmdWrite           CommandCode = 2  // VDC_Write: backup — Buffer holds Size bytes of the backup
	CmdClearError      CommandCode = 3  // VDC_ClearError: clear a pending error; complete with success
	CmdRewind          CommandCode = 4  // VDC_Rewind
	CmdWriteMark       CommandCode = 5  // VDC_WriteMark
	CmdSkipMarks       CommandCode = 6  // VDC_SkipMarks
	CmdSkipBlocks      CommandCode = 7  // VDC_SkipBlocks
	CmdLoad            CommandCode = 8  // VDC_Load
	CmdGetPosition     CommandCode = 9  // VDC_GetPosition
	CmdSetPosition     CommandCode = 10 // VDC_SetPosition
	CmdDiscard         CommandCode = 11 // VDC_Discard
	CmdFlush           CommandCode = 12 // VDC_Flush: make what was written durable
	CmdSnapshot        CommandCode = 13 // VDC_Snapshot
	CmdMountSnapshot   CommandCode = 14 // VDC_MountSnapshot
	CmdPrepareToFreeze CommandCode = 15 // VDC_PrepareToFreeze
	CmdFileInfoBegin   CommandCode = 16 // VDC_FileInfoBegin
	CmdFileInfoEnd     CommandCode = 17 // VDC_FileInfoEnd
	CmdGetError        CommandCode = 18 // VDC_GetError (vdi.h, vdi.h/linux)
	CmdComplete        CommandCode = 19 // VDC_Complete: backup data all sent (needs VDF_RequestComplete; KB3188454)
)

var commandNames = map[CommandCode]string{
	CmdRead: "VDC_Read", CmdWrite: "VDC_Write", CmdClearError: "VDC_ClearError", CmdRewind: "VDC_Rewind",
	CmdWriteMark: "VDC_WriteMark", CmdSkipMarks: "VDC_SkipMarks", CmdSkipBlocks: "VDC_SkipBlocks",
	CmdLoad: "VDC_Load", CmdGetPosition: "VDC_GetPosition", CmdSetPosition: "VDC_SetPosition",
	CmdDiscard: "VDC_Discard", CmdFlush: "VDC_Flush", CmdSnapshot: "VDC_Snapshot",
	CmdMountSnapshot: "VDC_MountSnapshot", CmdPrepareToFreeze: "VDC_PrepareToFreeze",
	CmdFileInfoBegin: "VDC_FileInfoBegin", CmdFileInfoEnd: "VDC_FileInfoEnd",
	CmdGetError: "VDC_GetError", CmdComplete: "VDC_Complete",
}

func (c CommandCode) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("VDC_%d", uint32(c))
}

// carriesBuffer says whether the command's buffer field addresses data: only the transfers.
// spec "Command Inputs": Buffer is an input of VDC_Read and VDC_Write only; for the others
// Size is "overloaded" (a count of marks or blocks) or unused.
func (c CommandCode) carriesBuffer() bool { return c == CmdRead || c == CmdWrite }

// Features is VDConfig.features (enum VDFeatures): the client's requests in CreateEx, SQL
// Server's answer from GetConfiguration.
type Features uint32

// Feature bits: vdi.h, vdi.h/linux (all); vdi.h/nt5 (all but VDF_SnapshotPrepare,
// VDF_EnumFrozenFiles, VDF_VSSWriter, VDF_RequestComplete, VDF_CompleteEnabled, which it
// predates); the bits that are in the 2004 and Linux headers only are from two copies of
// Microsoft's current header. bareos-fd requests VDF_LikePipe|VDF_RequestComplete for a backup
// and tests VDF_CompleteEnabled after GetConfiguration; mthread tests VDF_WriteMedia for the
// direction.
const (
	FeatRemovable       Features = 0x1
	FeatRewind          Features = 0x2
	FeatPosition        Features = 0x10
	FeatSkipBlocks      Features = 0x20
	FeatReversePosition Features = 0x40
	FeatDiscard         Features = 0x80
	FeatFileMarks       Features = 0x100
	FeatRandomAccess    Features = 0x200
	FeatSnapshotPrepare Features = 0x400
	FeatEnumFrozenFiles Features = 0x800
	FeatVSSWriter       Features = 0x1000
	FeatRequestComplete Features = 0x2000  // client asks for VDC_Complete at the end of a backup
	FeatWriteMedia      Features = 0x10000 // server: the set will be written (BACKUP)
	FeatReadMedia       Features = 0x20000 // server: the set will be read (RESTORE)
	FeatCompleteEnabled Features = 0x40000 // server: VDC_Complete will be sent
	FeatLatchStats      Features = 0x80000000

	// FeatLikePipe is no feature at all: a strictly sequential device, the basic commands only
	// (mthread's comment; spec "Client Supported Commands", pipe-like column).
	FeatLikePipe Features = 0
	FeatLikeTape          = FeatFileMarks | FeatRemovable | FeatRewind | FeatPosition | FeatSkipBlocks | FeatReversePosition
	FeatLikeDisk          = FeatRandomAccess
)

var featureNames = []struct {
	f    Features
	name string
}{
	{FeatRemovable, "Removable"}, {FeatRewind, "Rewind"}, {FeatPosition, "Position"},
	{FeatSkipBlocks, "SkipBlocks"}, {FeatReversePosition, "ReversePosition"}, {FeatDiscard, "Discard"},
	{FeatFileMarks, "FileMarks"}, {FeatRandomAccess, "RandomAccess"}, {FeatSnapshotPrepare, "SnapshotPrepare"},
	{FeatEnumFrozenFiles, "EnumFrozenFiles"}, {FeatVSSWriter, "VSSWriter"},
	{FeatRequestComplete, "RequestComplete"}, {FeatWriteMedia, "WriteMedia"}, {FeatReadMedia, "ReadMedia"},
	{FeatCompleteEnabled, "CompleteEnabled"}, {FeatLatchStats, "LatchStats"},
}

// String lists the set bits by their VDF_ names; unknown bits as hex.
func (f Features) String() string {
	if f == 0 {
		return "VDF_LikePipe"
	}
	var parts []string
	rest := f
	for _, n := range featureNames {
		if f&n.f != 0 {
			parts = append(parts, "VDF_"+n.name)
			rest &^= n.f
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint32(rest)))
	}
	return strings.Join(parts, "|")
}

// CompletionCode is the Win32 status a client hands back with CompleteCommand (ref
// IClientVirtualDevice::CompleteCommand: "a WIN32 status code … ERROR_SUCCESS is used in all
// cases to denote a successfully executed command"). Values: winerror.h, as in x/sys
// (checked at compile time on windows) and, for the ones it defines, vdi.h/linux's own
// #defines (0, 38, 50, 112, 995); 29 also in pbsgui. The tape-style codes (1100, 1101, 1104,
// 1129) have x/sys as their only source for the value (assumption; a pipe-like device never
// needs them).
type CompletionCode uint32

const (
	// CompletionSuccess: every command, when done (spec "Command General Rules").
	CompletionSuccess CompletionCode = 0 // ERROR_SUCCESS
	// CompletionWriteFault: a VDC_Write the client could not store for another reason
	// (pbsgui uses it for a failed write; the spec names no code for that case — assumption
	// that SQL Server fails the BACKUP on any non-success code).
	CompletionWriteFault CompletionCode = 29 // ERROR_WRITE_FAULT
	// CompletionHandleEOF: VDC_Read with no more data (spec VDC_Read; mthread).
	CompletionHandleEOF CompletionCode = 38 // ERROR_HANDLE_EOF
	// CompletionNotSupported: a command the client does not implement (spec "Command General
	// Rules"; mthread, sqlpipe, pbsgui default branches).
	CompletionNotSupported CompletionCode = 50 // ERROR_NOT_SUPPORTED
	// CompletionDiskFull: VDC_Write that cannot be stored; SQL Server aborts the BACKUP (spec
	// VDC_Write; mthread).
	CompletionDiskFull CompletionCode = 112 // ERROR_DISK_FULL
	// CompletionOperationAborted: what outstanding commands complete with after SignalAbort
	// (spec "Command General Rules"; ref SignalAbort).
	CompletionOperationAborted CompletionCode = 995 // ERROR_OPERATION_ABORTED
	// CompletionEndOfMedia: VDC_Write reached the end-of-media warning zone (spec VDC_Write).
	CompletionEndOfMedia CompletionCode = 1100 // ERROR_END_OF_MEDIA
	// CompletionFilemarkDetected: VDC_Read past a filemark (spec VDC_Read).
	CompletionFilemarkDetected CompletionCode = 1101 // ERROR_FILEMARK_DETECTED
	// CompletionNoDataDetected: VDC_Read with no more data, handled like ERROR_HANDLE_EOF (spec).
	CompletionNoDataDetected CompletionCode = 1104 // ERROR_NO_DATA_DETECTED
	// CompletionEOMOverflow: VDC_Write cannot store more; SQL Server aborts (spec VDC_Write).
	CompletionEOMOverflow CompletionCode = 1129 // ERROR_EOM_OVERFLOW
)

// Whence is enum VDWhence (VDC_Beginning 0, VDC_Current 1, VDC_End 2: vdi.h, vdi.h/nt5,
// vdi.h/linux), the origin of VDC_SetPosition on positioning devices. A pipe-like device
// never sees it; kept so the header is complete.
type Whence uint32

const (
	WhenceBeginning Whence = 0
	WhenceCurrent   Whence = 1
	WhenceEnd       Whence = 2
)
