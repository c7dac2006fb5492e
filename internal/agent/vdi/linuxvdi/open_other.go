//go:build !(linux && cgo)

package linuxvdi

import (
	"fmt"
	"runtime"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

// Open fails in this build: the Linux client needs cgo to call libsqlvdi.so's C++ interface.
func Open(path string) (vdi.Platform, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("%w: libsqlvdi.so is SQL Server on Linux's library and this is %s", vdi.ErrNoPlatform, runtime.GOOS)
	}
	return nil, fmt.Errorf("%w: this agent was built without cgo (CGO_ENABLED=0); build it with cgo and a C compiler to use SQL Server's libsqlvdi.so", vdi.ErrNoPlatform)
}
