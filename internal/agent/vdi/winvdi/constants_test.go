package winvdi

import "testing"

// enum VDCommands counts from VDC_Read = 1 in this order (vdi.h).
func TestCommandCodesFollowTheEnum(t *testing.T) {
	order := []string{"VDC_Read", "VDC_Write", "VDC_ClearError", "VDC_Rewind", "VDC_WriteMark",
		"VDC_SkipMarks", "VDC_SkipBlocks", "VDC_Load", "VDC_GetPosition", "VDC_SetPosition",
		"VDC_Discard", "VDC_Flush", "VDC_Snapshot", "VDC_MountSnapshot", "VDC_PrepareToFreeze",
		"VDC_FileInfoBegin", "VDC_FileInfoEnd", "VDC_GetError", "VDC_Complete"}
	for i, name := range order {
		if got := CommandCode(i + 1).String(); got != name {
			t.Errorf("code %d is %s, want %s", i+1, got, name)
		}
	}
	if len(commandNames) != len(order) {
		t.Errorf("%d named commands, the enum has %d", len(commandNames), len(order))
	}
	if got := CommandCode(99).String(); got != "VDC_99" {
		t.Errorf("unknown code prints %q", got)
	}
	if CmdRead != 1 || CmdWrite != 2 || CmdClearError != 3 || CmdFlush != 12 || CmdComplete != 19 {
		t.Errorf("the codes the data path uses are wrong")
	}
}

func TestFeatures(t *testing.T) {
	if FeatLikeTape != 0x173 {
		t.Errorf("VDF_LikeTape = %#x, want 0x173 (FileMarks|Removable|Rewind|Position|SkipBlocks|ReversePosition)", uint32(FeatLikeTape))
	}
	if FeatLikeDisk != FeatRandomAccess || FeatLikePipe != 0 {
		t.Errorf("VDF_LikeDisk/VDF_LikePipe wrong")
	}
	for f, want := range map[Features]string{
		0:                                    "VDF_LikePipe",
		FeatRequestComplete:                  "VDF_RequestComplete",
		FeatWriteMedia | FeatCompleteEnabled: "VDF_WriteMedia|VDF_CompleteEnabled",
		FeatReadMedia | 0x4:                  "VDF_ReadMedia|0x4",
	} {
		if got := f.String(); got != want {
			t.Errorf("Features(%#x) = %q, want %q", uint32(f), got, want)
		}
	}
}

func TestOnlyTransfersCarryABuffer(t *testing.T) {
	for c := CommandCode(1); c <= CmdComplete; c++ {
		if want := c == CmdRead || c == CmdWrite; c.carriesBuffer() != want {
			t.Errorf("%v carriesBuffer = %v", c, !want)
		}
	}
}
