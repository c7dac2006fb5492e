package doctor

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/sqlvault/sqlvault/internal/agent/host"
)

func keyPermissionFix(path string) string {
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r *S-1-5-32-544:F *S-1-5-18:F "%s:R" (the service account and Administrators only)`, path, host.WindowsServiceAccount)
}

// memoryStatusEx is MEMORYSTATUSEX.
type memoryStatusEx struct {
	length               uint32
	memoryLoad           uint32
	totalPhys            uint64
	availPhys            uint64
	totalPageFile        uint64
	availPageFile        uint64
	totalVirtual         uint64
	availVirtual         uint64
	availExtendedVirtual uint64
}

var globalMemoryStatusEx = windows.NewLazySystemDLL("kernel32.dll").NewProc("GlobalMemoryStatusEx")

// FreeMemory is the available physical memory (GlobalMemoryStatusEx).
func FreeMemory() (uint64, error) {
	var m memoryStatusEx
	m.length = uint32(unsafe.Sizeof(m))
	if r, _, err := globalMemoryStatusEx.Call(uintptr(unsafe.Pointer(&m))); r == 0 {
		return 0, fmt.Errorf("GlobalMemoryStatusEx: %w", err)
	}
	return m.availPhys, nil
}
