//go:build !unix

package testenv

import (
	"os"
	"syscall"
)

func processGroupAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process, exited <-chan struct{}) {
	_ = p.Kill()
	<-exited
}
