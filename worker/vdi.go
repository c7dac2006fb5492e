package worker

import (
	"runtime"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/winvdi"
)

// OpenVDI opens this machine's VDI client library, the transport of instances configured
// with dataPath: vdi (agent.Options.VDI) and what doctor reports: sqlvdi.dll's COM class on
// Windows, libsqlvdi.so on Linux. vdi.ErrNoPlatform (with the reason) when there is none.
func OpenVDI() (vdi.Platform, error) {
	switch runtime.GOOS {
	case "windows":
		return winvdi.Open()
	case "linux":
		// TODO(issue 14, linuxvdi): return linuxvdi.Open() — the Linux transport over
		// /opt/mssql/lib/libsqlvdi.so is being built in its own branch; wire it here when
		// it lands.
		return nil, vdi.ErrNoPlatform
	}
	return nil, vdi.ErrNoPlatform
}
