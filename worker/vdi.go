package worker

import (
	"runtime"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/linuxvdi"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/winvdi"
)

// OpenVDI returns the opener of this machine's VDI client library, the transport of the VDI
// data path (agent.Options.VDI) and what doctor reports: sqlvdi.dll's COM class on Windows,
// libsqlvdi.so at library (agent.vdiLibrary; "" is its default path) on Linux. The opener
// returns vdi.ErrNoPlatform, with the reason, when there is none — also on Linux builds
// without cgo, which cannot call the library.
func OpenVDI(library string) func() (vdi.Platform, error) {
	return func() (vdi.Platform, error) {
		switch runtime.GOOS {
		case "windows":
			return winvdi.Open()
		case "linux":
			return linuxvdi.Open(library)
		}
		return nil, vdi.ErrNoPlatform
	}
}
