package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// WindowsServices is the Windows ServiceManager: the Service Control Manager through
// golang.org/x/sys/windows/svc/mgr. Cross-compiled and vetted on Linux, never run there.
type WindowsServices struct {
	Log Logf
}

// NewServiceManager is the manager for this operating system.
func NewServiceManager(_ Root, _ Runner, log Logf) ServiceManager { return WindowsServices{Log: log} }

func (w WindowsServices) Install(_ context.Context, spec ServiceSpec) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service install: connect to the service control manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(ServiceName); err == nil {
		s.Close()
		w.Log.printf("unchanged: service %s exists (uninstall it first to change it)", ServiceName)
		return nil
	}
	s, err := m.CreateService(ServiceName, spec.Executable, mgr.Config{
		DisplayName:  "sqlvault agent",
		Description:  "Backs up this machine's SQL Server databases to Azure Blob Storage (sqlvault).",
		StartType:    mgr.StartAutomatic,
		ErrorControl: mgr.ErrorNormal,
		// A virtual account: Windows creates and manages NT SERVICE\sqlvault-agent; it has no
		// password, and SQL Server can grant it a login of its own.
		ServiceStartName: WindowsServiceAccount,
		SidType:          windows.SERVICE_SID_TYPE_UNRESTRICTED,
		DelayedAutoStart: true, // after SQL Server and the network are up
	}, "--config", spec.ConfigFile)
	if err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	defer s.Close()
	w.Log.printf("created service %s (automatic start, account %s)", ServiceName, WindowsServiceAccount)
	// Restart after 5 s, 30 s, then every minute; the failure count resets after a day.
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		{Type: mgr.ServiceRestart, Delay: time.Minute},
	}, 24*60*60); err != nil {
		return fmt.Errorf("service install: recovery actions: %w", err)
	}
	// An exit with an error code counts as a failure too, not only a crash.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("service install: recovery actions: %w", err)
	}
	w.Log.printf("set recovery: restart on failure")
	if err := eventlog.InstallAsEventCreate(ServiceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		// An existing source (from an earlier install) is fine.
		w.Log.printf("event log source %s: %v", ServiceName, err)
	} else {
		w.Log.printf("registered event log source %s (Application log)", ServiceName)
	}
	return nil
}

func (w WindowsServices) Uninstall(ctx context.Context) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service uninstall: connect to the service control manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(ServiceName)
	if err != nil {
		w.Log.printf("unchanged: %s is not installed", ServiceName)
		return nil
	}
	defer s.Close()
	if st, err := s.Query(); err == nil && st.State != svc.Stopped {
		if err := stopAndWait(ctx, s); err != nil {
			return err
		}
		w.Log.printf("stopped %s", ServiceName)
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("service uninstall: %w", err)
	}
	_ = eventlog.Remove(ServiceName)
	w.Log.printf("removed service %s and its event log source", ServiceName)
	return nil
}

func (w WindowsServices) open() (*mgr.Mgr, *mgr.Service, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the service control manager (run as Administrator): %w", err)
	}
	s, err := m.OpenService(ServiceName)
	if err != nil {
		m.Disconnect()
		return nil, nil, ErrNotInstalled
	}
	return m, s, nil
}

func (w WindowsServices) Start(context.Context) error {
	m, s, err := w.open()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	if err := s.Start(); err != nil {
		return fmt.Errorf("service start: %w", err)
	}
	w.Log.printf("started: %s", ServiceName)
	return nil
}

func (w WindowsServices) Stop(ctx context.Context) error {
	m, s, err := w.open()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	if err := stopAndWait(ctx, s); err != nil {
		return err
	}
	w.Log.printf("stopped: %s", ServiceName)
	return nil
}

func stopAndWait(ctx context.Context, s *mgr.Service) error {
	st, err := s.Control(svc.Stop)
	if err != nil {
		return fmt.Errorf("service stop: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for st.State != svc.Stopped {
		if time.Now().After(deadline) {
			return errors.New("service stop: the service did not stop within 60 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		if st, err = s.Query(); err != nil {
			return fmt.Errorf("service stop: %w", err)
		}
	}
	return nil
}

func (w WindowsServices) Status(context.Context) (string, error) {
	m, s, err := w.open()
	if err != nil {
		return "", err
	}
	defer m.Disconnect()
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return "", err
	}
	cfg, err := s.Config()
	if err != nil {
		return "", err
	}
	states := map[svc.State]string{svc.Stopped: "stopped", svc.StartPending: "starting", svc.StopPending: "stopping",
		svc.Running: "running", svc.ContinuePending: "continuing", svc.PausePending: "pausing", svc.Paused: "paused"}
	start := map[uint32]string{mgr.StartAutomatic: "automatic", mgr.StartManual: "manual", mgr.StartDisabled: "disabled"}[cfg.StartType]
	return fmt.Sprintf("%s: %s, %s start, account %s", ServiceName, states[st.State], start, cfg.ServiceStartName), nil
}
