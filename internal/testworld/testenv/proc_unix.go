//go:build unix

package testenv

import (
	"os"
	"syscall"
	"time"
)

// processGroupAttr puts the service in its own process group: azurite-blob is a node
// script, and killing the group also takes down anything node started.
func processGroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup asks the group to stop, and kills it if it has not exited within 5 s.
func killGroup(p *os.Process, exited <-chan struct{}) {
	_ = syscall.Kill(-p.Pid, syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	<-exited
}
