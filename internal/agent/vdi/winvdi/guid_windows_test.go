//go:build windows && amd64

package winvdi

import (
	"testing"

	"golang.org/x/sys/windows"
)

// Windows' own parser reads the registry form of each GUID into the same 16 bytes.
func TestGUIDsParseOnWindows(t *testing.T) {
	for _, g := range []GUID{iidClientVirtualDevice, clsidClientVirtualDeviceSet, iidClientVirtualDeviceSet2} {
		parsed, err := windows.GUIDFromString(g.String())
		if err != nil {
			t.Fatalf("GUIDFromString(%s): %v", g, err)
		}
		if parsed != windows.GUID(g) {
			t.Errorf("%s parses to %v", g, parsed)
		}
	}
}
