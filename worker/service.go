package worker

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/agent/host"
	"github.com/sqlvault/sqlvault/internal/config"
)

// machine is the machine the service and setup commands change: the real one, or
// a temporary root and a recording runner in tests.
type machine struct {
	Root   host.Root
	Runner host.Runner
	// Executable is the path the service runs; "" means this binary.
	Executable string
	// Owner replaces the platform's way of giving files to the service account (tests).
	Owner host.Owner
}

func realMachine() machine { return machine{Root: "/", Runner: host.ExecRunner{}} }

func (m machine) executable() (string, error) {
	if m.Executable != "" {
		return m.Executable, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(exe)
}

func newServiceCmd() *cobra.Command { return newServiceCmdOn(realMachine()) }

func newServiceCmdOn(m machine) *cobra.Command {
	c := &cobra.Command{
		Use:   "service",
		Short: "Install and control the agent as a service (sqlvault-agent: systemd on Linux, a Windows service on Windows)",
		Long: `service installs this binary as the sqlvault-agent service and controls it.

Linux: a systemd unit (/etc/systemd/system/sqlvault-agent.service) that runs as the system
user sqlvault, restarts on failure and keeps its state in /var/lib/sqlvault (mode 0700).
Windows: a service with automatic start that runs as the virtual account
NT SERVICE\sqlvault-agent, restarts on failure, logs to %ProgramData%\sqlvault\logs and
reports errors to the Application event log.

Run as root (Linux) or as Administrator (Windows). Then run ` + "`sqlvault-worker setup`" + `.`,
	}
	var configFile string
	manager := func(cmd *cobra.Command) host.ServiceManager {
		out := cmd.OutOrStdout()
		return host.NewServiceManager(m.Root, m.Runner, func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...) })
	}
	install := &cobra.Command{
		Use:   "install",
		Short: "Install the sqlvault-agent service (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := m.executable()
			if err != nil {
				return err
			}
			return manager(cmd).Install(cmd.Context(), host.ServiceSpec{Executable: exe, ConfigFile: configFile})
		},
	}
	install.Flags().StringVar(&configFile, "config", config.Platform().ConfigFile, "configuration file the service reads")
	verb := func(use, short string, do func(host.ServiceManager, *cobra.Command) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return do(manager(cmd), cmd) }}
	}
	c.AddCommand(install,
		verb("uninstall", "Stop and remove the service (keeps the configuration, key and state)", func(s host.ServiceManager, cmd *cobra.Command) error {
			return s.Uninstall(cmd.Context())
		}),
		verb("start", "Start the service", func(s host.ServiceManager, cmd *cobra.Command) error { return s.Start(cmd.Context()) }),
		verb("stop", "Stop the service", func(s host.ServiceManager, cmd *cobra.Command) error { return s.Stop(cmd.Context()) }),
		verb("status", "Print whether the service is installed and running", func(s host.ServiceManager, cmd *cobra.Command) error {
			st, err := s.Status(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), st)
			return nil
		}),
	)
	return c
}
