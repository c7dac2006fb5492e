package fileacl

import (
	"strings"
	"testing"
)

const (
	owner   = "S-1-5-21-1-2-3-1001"
	service = "S-1-5-80-1234-5678" // NT SERVICE\sqlvault-agent
)

func TestPrivateACLs(t *testing.T) {
	for name, aces := range map[string][]ACE{
		"service and admins":             {{SID: service, Allow: true, Mask: genericRead}, {SID: SIDAdministrators, Allow: true, Mask: genericAll}, {SID: SIDSystem, Allow: true, Mask: genericAll}},
		"owner only":                     {{SID: owner, Allow: true, Mask: genericAll}},
		"users denied":                   {{SID: "S-1-5-32-545", Allow: false, Mask: genericAll}, {SID: owner, Allow: true, Mask: genericAll}},
		"users may only read attributes": {{SID: "S-1-5-32-545", Allow: true, Mask: 0x80 /* FILE_READ_ATTRIBUTES */}},
		"inherit-only entry for users":   {{SID: "S-1-5-32-545", Allow: true, Mask: genericRead, InheritOnly: true}},
	} {
		if p := Problem(`C:\ProgramData\sqlvault\vault.key`, owner, false, aces); p != "" {
			t.Errorf("%s: %s", name, p)
		}
	}
}

func TestOpenACLs(t *testing.T) {
	for name, tc := range map[string]struct {
		aces []ACE
		null bool
		want string
	}{
		"users can read (the ProgramData default)": {aces: []ACE{{SID: "S-1-5-32-545", Allow: true, Mask: 0x120089 /* FILE_GENERIC_READ */}}, want: "Users (S-1-5-32-545)"},
		"everyone full control":                    {aces: []ACE{{SID: "S-1-1-0", Allow: true, Mask: 0x1F01FF}}, want: "Everyone"},
		"another user can write":                   {aces: []ACE{{SID: "S-1-5-21-1-2-3-1002", Allow: true, Mask: fileWriteData}}, want: "S-1-5-21-1-2-3-1002"},
		"no ACL":                                   {null: true, want: "no access control list"},
	} {
		p := Problem(`C:\k`, owner, tc.null, tc.aces)
		if !strings.Contains(p, tc.want) {
			t.Errorf("%s: %q, want it to name %q", name, p, tc.want)
		}
	}
}
