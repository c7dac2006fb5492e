//go:build !windows

package doctor

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/sqlvault/sqlvault/internal/agent/host"
)

func keyPermissionFix(path string) string {
	return fmt.Sprintf("chmod 600 %s && chown %s %s (readable by the service's user only)", path, host.ServiceUser, path)
}

// FreeMemory reads MemAvailable from /proc/meminfo.
func FreeMemory() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no MemAvailable in /proc/meminfo")
}
