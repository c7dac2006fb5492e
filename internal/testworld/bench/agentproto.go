package bench

import (
	"bytes"
	"os"
	"strconv"
)

// AgentCommand is one line on agentbench's stdin.
type AgentCommand struct {
	Op      string          `json:"op"` // backup | restore | filelist | resetPeak | stats | quit
	Backup  *BackupRequest  `json:"backup,omitempty"`
	Restore *RestoreRequest `json:"restore,omitempty"`
}

// AgentReply is agentbench's answer, one line on stdout.
type AgentReply struct {
	Error   string        `json:"error,omitempty"`
	Backup  *BackupResult `json:"backup,omitempty"`
	Seconds float64       `json:"seconds,omitempty"` // wall time of the operation
	// CPUSeconds is the process's user+system CPU time spent during the operation.
	CPUSeconds float64 `json:"cpuSeconds"`
	// HWMKiB is VmHWM (peak resident set) from /proc/self/status after the operation: the
	// peak since the process started or since the last resetPeak.
	HWMKiB int64 `json:"hwmKiB"`
	RSSKiB int64 `json:"rssKiB"`
}

// ProcStatus reads VmHWM and VmRSS (KiB) from /proc/self/status.
func ProcStatus() (hwm, rss int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1, -1
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(string(f[0]), 10, 64)
		switch string(k) {
		case "VmHWM":
			hwm = n
		case "VmRSS":
			rss = n
		}
	}
	return hwm, rss
}

// ResetPeak resets VmHWM to the current RSS (Linux 4.0+: write 5 to clear_refs).
func ResetPeak() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
