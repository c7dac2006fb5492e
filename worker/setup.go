package worker

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/agent/host"
	"github.com/sqlvault/sqlvault/internal/agent/host/setup"
	"github.com/sqlvault/sqlvault/internal/config"
)

// defaultEndpointHost is the name setup gives the endpoint when none is configured: a
// name of its own, because mapping the VM's own name to a loopback address in the hosts
// file would change where everything else on the VM reaches it.
const defaultEndpointHost = "sqlvault-agent.local"

func newSetupCmd() *cobra.Command { return newSetupCmdOn(realMachine()) }

func newSetupCmdOn(m machine) *cobra.Command {
	var undo bool
	var adminDSN, instance string
	c := &cobra.Command{
		Use:   "setup",
		Short: "Ready this VM for the agent: endpoint certificate, trusted CA, hosts entry, SQL login, configuration (idempotent; --undo reverses it)",
		Long: `setup does, once and idempotently, what readying a SQL Server VM takes, and says what it did:

  1. creates the endpoint's certificate (a private CA and a server certificate) if there is none
  2. makes the machine trust that CA (Linux: the system store; Windows: LocalMachine Root),
     so SQL Server's BACKUP TO URL accepts the endpoint
  3. maps the endpoint's name to its loopback address in the hosts file (a marked block)
  4. creates the SQL login the service connects as and adds it to sysadmin, when the
     administrator connection may; otherwise it prints the T-SQL for a sysadmin to run
     (Windows: NT SERVICE\sqlvault-agent, no password; Linux: the SQL login sqlvault-agent,
     its password in a file only the service reads)
  5. writes the configuration when there is none (the flags fill it in)

What it changed is recorded in the state folder; setup --undo removes exactly that.
Run as root (Linux) or Administrator (Windows), after ` + "`sqlvault-worker service install`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			mach := m.setupMachine(out)
			if adminDSN == "" && runtime.GOOS == "windows" {
				// The Administrator running setup, with Windows authentication.
				adminDSN = "sqlserver://localhost?database=master&encrypt=true&TrustServerCertificate=true&app+name=sqlvault-setup"
			}
			if adminDSN != "" {
				conn, err := setup.OpenSQL(adminDSN)
				if err != nil {
					return err
				}
				defer conn.Close()
				mach.Admin = conn
			}
			if undo {
				return setup.Undo(ctx, mach)
			}
			cfg, err := m.setupConfig(cmd, mach, instance)
			if err != nil {
				return err
			}
			if err := setup.Run(ctx, mach, cfg); err != nil {
				return err
			}
			fmt.Fprintf(out, "\nNext: put the vault key at %s, run `sqlvault-worker doctor --config %s`, then `sqlvault-worker service start`.\n", cfg.Key.File, mach.Paths.ConfigFile)
			return nil
		},
	}
	config.BindFlags(c.Flags())
	c.Flags().BoolVar(&undo, "undo", false, "remove what setup added (recorded in the state folder), and nothing else")
	c.Flags().StringVar(&adminDSN, "sql-admin-dsn", os.Getenv("SQLVAULT_SETUP_SQL_ADMIN_DSN"),
		"connection string of a sysadmin, used once to create the service's login (Windows default: your own Windows login on localhost; Linux: none, the T-SQL is printed) (env SQLVAULT_SETUP_SQL_ADMIN_DSN)")
	c.Flags().StringVar(&instance, "instance", "", "the local instance's @@SERVERNAME for the written configuration (default: the VM name)")
	return c
}

// setupMachine is the real machine's pieces for this operating system.
func (m machine) setupMachine(out interface{ Write([]byte) (int, error) }) setup.Machine {
	p := config.Platform()
	mach := setup.Machine{Root: m.Root, Paths: p, Out: out}
	if runtime.GOOS == "windows" {
		hosts := host.WindowsHostsFile
		if sr := os.Getenv("SystemRoot"); sr != "" {
			hosts = sr + `\System32\drivers\etc\hosts`
		}
		mach.Trust = host.WindowsTrust{Runner: m.Runner}
		mach.Hosts = host.HostsFile{Path: hosts}
		mach.Owner = host.WindowsOwner{Runner: m.Runner}
		mach.Login = host.Login{Name: host.WindowsServiceAccount}
		mach.PrivateConfigDir = true
	} else {
		mach.Trust = host.LinuxTrust{Root: m.Root, Runner: m.Runner}
		mach.Hosts = host.HostsFile{Path: m.Root.Path(host.LinuxHostsFile)}
		mach.Owner = host.LinuxOwner{Root: m.Root}
		mach.Login = host.Login{Name: host.ServiceName, PasswordFile: p.ConfigDir + "/" + setup.PasswordFileName}
	}
	if m.Owner != nil {
		mach.Owner = m.Owner
	}
	return mach
}

// setupConfig is the configuration setup writes when there is none: the existing file's
// (so the certificate and hosts entry match it), or the flags', made an agent with the
// local instance.
func (m machine) setupConfig(cmd *cobra.Command, mach setup.Machine, instance string) (*config.Config, error) {
	path := ""
	if f := cmd.Flags().Lookup("config"); f != nil && f.Value.String() != "" {
		path = f.Value.String()
	} else if _, err := os.Stat(m.Root.Path(mach.Paths.ConfigFile)); err == nil {
		path = m.Root.Path(mach.Paths.ConfigFile)
	}
	cfg, err := config.Load(path, os.Getenv, cmd.Flags())
	if err != nil {
		return nil, err
	}
	if path == "" { // a new configuration
		cfg.Role = config.RoleAgent
		if f := cmd.Flags().Lookup("endpoint-host"); (f == nil || !f.Changed) && os.Getenv("SQLVAULT_AGENT_ENDPOINT_HOST") == "" {
			cfg.Agent.Endpoint.Host = defaultEndpointHost
		}
		if len(cfg.Agent.Instances) == 0 {
			if instance == "" {
				instance = cfg.Agent.VM
			}
			// The instance on this machine; its certificate is usually self-signed, and the
			// connection never leaves the machine.
			in := config.Instance{Name: instance, Host: "localhost", Port: config.DefaultSQLPort, Encrypt: "true", TrustServerCertificate: true}
			if !mach.Login.Windows() {
				in.User, in.Password = mach.Login.Name, config.Secret{File: mach.Login.PasswordFile}
			}
			cfg.Agent.Instances = []config.Instance{in}
		}
	}
	return cfg, nil
}
