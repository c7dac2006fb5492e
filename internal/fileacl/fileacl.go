// Package fileacl decides whether a Windows file's access control list keeps a secret
// private: only the owner, SYSTEM, Administrators and service accounts (NT SERVICE\…) may
// read or change it — the Windows counterpart of "mode 0600". The decision is plain Go,
// tested on Linux; reading the ACL (Check) is the thin Windows part.
package fileacl

import (
	"fmt"
	"strings"
)

// ACE is one access control entry, reduced to what the decision needs.
type ACE struct {
	SID   string // S-1-…
	Allow bool   // an allow entry (deny entries never open a file up)
	Mask  uint32
	// InheritOnly entries apply to children, not to the file itself.
	InheritOnly bool
}

// Access rights that read or change a file's content or its protection.
const (
	fileReadData  = 0x1
	fileWriteData = 0x2
	fileAppend    = 0x4
	writeDAC      = 0x40000
	writeOwner    = 0x80000
	genericAll    = 0x10000000
	genericWrite  = 0x40000000
	genericRead   = 0x80000000
	sensitive     = fileReadData | fileWriteData | fileAppend | writeDAC | writeOwner | genericAll | genericWrite | genericRead
)

// Well-known SIDs allowed to hold a secret.
const (
	SIDSystem         = "S-1-5-18"
	SIDAdministrators = "S-1-5-32-544"
	sidServicePrefix  = "S-1-5-80-" // NT SERVICE\<name>: one service's own account
)

// names of the broad groups most often found on a too-open file, for the message.
var names = map[string]string{
	"S-1-1-0":      "Everyone",
	"S-1-5-11":     "Authenticated Users",
	"S-1-5-32-545": "Users",
	"S-1-5-32-546": "Guests",
	"S-1-5-4":      "INTERACTIVE",
	"S-1-5-2":      "NETWORK",
}

// Problem says which entries let someone else than the owner, SYSTEM, Administrators or a
// service account read or change the file, or "" when none does. nullDACL is a file with
// no ACL at all, which Windows treats as full access for everyone.
func Problem(path, owner string, nullDACL bool, aces []ACE) string {
	if nullDACL {
		return fmt.Sprintf("%s has no access control list, so everyone can read it", path)
	}
	var open []string
	for _, a := range aces {
		if !a.Allow || a.InheritOnly || a.Mask&sensitive == 0 {
			continue
		}
		if a.SID == owner || a.SID == SIDSystem || a.SID == SIDAdministrators || strings.HasPrefix(a.SID, sidServicePrefix) {
			continue
		}
		who := a.SID
		if n, ok := names[a.SID]; ok {
			who = n + " (" + a.SID + ")"
		}
		open = append(open, who)
	}
	if len(open) == 0 {
		return ""
	}
	return fmt.Sprintf("%s can be read or changed by %s; allow only the service account and Administrators", path, strings.Join(open, ", "))
}
