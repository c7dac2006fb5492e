package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"

	"github.com/sqlvault/sqlvault/internal/agent/host"
	"github.com/sqlvault/sqlvault/internal/config"
)

// runAsService runs the worker under the Windows Service Control Manager when the SCM
// started this process (ran is false otherwise, and the caller runs it in the console).
// The log goes to %ProgramData%\sqlvault\logs\agent.log (a service has no console), and
// an error that ends the service also goes to the Application event log.
func runAsService(runWorker func(context.Context) error) (ran bool, err error) {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return false, nil
	}
	logDir := config.Platform().LogDir
	if err := os.MkdirAll(logDir, 0o700); err == nil {
		if f, err := os.OpenFile(filepath.Join(logDir, "agent.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
			os.Stderr = f // the zap logger writes to "stderr", opened after this
		}
	}
	h := &serviceHandler{run: runWorker}
	if err := svc.Run(host.ServiceName, h); err != nil {
		h.err = fmt.Errorf("run as a service: %w", err)
	}
	if h.err != nil {
		if el, err := eventlog.Open(host.ServiceName); err == nil {
			_ = el.Error(1, h.err.Error())
			el.Close()
		}
	}
	return true, h.err
}

type serviceHandler struct {
	run func(context.Context) error
	err error
}

// Execute answers the SCM: running until Stop or Shutdown, then a clean stop. An error
// from the worker ends the service with exit code 1, which the recovery actions set by
// `service install` turn into a restart.
func (h *serviceHandler) Execute(_ []string, requests <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			h.err = err
			if err != nil {
				return true, 1
			}
			return false, 0
		case c := <-requests:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
				h.err = <-done
				return false, 0
			}
		}
	}
}
