package fileacl

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Check reads path's owner and DACL and returns Problem's finding as an error, or nil.
func Check(path string) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("read the access control list of %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("read the owner of %s: %w", path, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("read the access control list of %s: %w", path, err)
	}
	var aces []ACE
	if dacl != nil {
		for i := uint32(0); i < uint32(dacl.AceCount); i++ {
			var ace *windows.ACCESS_ALLOWED_ACE
			if err := windows.GetAce(dacl, i, &ace); err != nil {
				return fmt.Errorf("read the access control list of %s: %w", path, err)
			}
			// Allowed and denied ACEs share this layout; other types carry no SID here.
			if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE && ace.Header.AceType != windows.ACCESS_DENIED_ACE_TYPE {
				continue
			}
			sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
			aces = append(aces, ACE{SID: sid.String(), Allow: ace.Header.AceType == windows.ACCESS_ALLOWED_ACE_TYPE,
				Mask: uint32(ace.Mask), InheritOnly: ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0})
		}
	}
	if p := Problem(path, owner.String(), dacl == nil, aces); p != "" {
		return fmt.Errorf("%s", p)
	}
	return nil
}
