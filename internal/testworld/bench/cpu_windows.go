//go:build windows

package bench

import "syscall"

// CPUSeconds is the process's user+system CPU time (GetProcessTimes: 100 ns units). The
// benchmarks run on Linux; this keeps `GOOS=windows go vet ./...` whole.
func CPUSeconds() float64 {
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return 0
	}
	var created, exited, kernel, user syscall.Filetime
	if err := syscall.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return 0
	}
	ticks := func(f syscall.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return float64(ticks(kernel)+ticks(user)) / 1e7
}
