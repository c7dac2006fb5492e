// Package worker is the `sqlvault-worker` binary (cmd/sqlvault-worker): it runs sqlvault's Temporal workers: the control role (every workflow and the
// vault-side activities) and the agent role (the activities that touch SQL Server and
// backup bytes, on each SQL Server VM), or both in one process.
package worker

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/buildinfo"
	"github.com/sqlvault/sqlvault/internal/config"
)

// NewRoot is the root command of the binary.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "sqlvault-worker",
		Short: "Run sqlvault's Temporal workers (control, agent, or both)",
		Long: `sqlvault-worker runs the roles its configuration names:

  control  every workflow, and the activities that read and write the vault catalog
  agent    on a SQL Server VM: discovery, backup and restore streams through the agent's
           HTTPS blob endpoint, on the task queue sqlvault-agent-<vm>
  both     the two in one process (the embedded default stack)

Configuration: --config FILE (YAML), SQLVAULT_* environment variables, then flags.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := func(ctx context.Context) error {
				cfg, err := loadConfig(cmd.Flags())
				if err != nil {
					return err
				}
				return run(ctx, cfg)
			}
			// Under the Windows service manager a configuration error goes to the event log too.
			if ran, err := runAsService(start); ran {
				return err
			}
			return start(cmd.Context())
		},
	}
	config.BindFlags(root.Flags())
	root.AddCommand(newKeyCmd(), newCertCmd(), newConfigCmd(), buildinfo.NewCommand("sqlvault-worker"),
		newServiceCmd(), newSetupCmd(), newDoctorCmd(), newCodecServerCmd())
	return root
}

func loadConfig(fs *pflag.FlagSet) (*config.Config, error) {
	cfg, err := config.Load("", os.Getenv, fs)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the configuration has problems:\n%w", err)
	}
	return cfg, nil
}

func newKeyCmd() *cobra.Command {
	key := &cobra.Command{Use: "key", Short: "Manage the vault encryption key"}
	var file string
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Create a new random vault key file (refuses to overwrite one)",
		Long: `generate writes 32 random bytes (base64) to --file with mode 0600 and prints the key ID
that every manifest will record. Keep a copy of the key somewhere safe: the vault cannot be
restored without it.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := blockcrypt.GenerateKeyFile(file)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (key id %s)\n", file, k.ID())
			return nil
		},
	}
	gen.Flags().StringVar(&file, "file", "vault.key", "path of the new key file")
	key.AddCommand(gen)
	return key
}

func newCertCmd() *cobra.Command {
	cert := &cobra.Command{Use: "cert", Short: "Manage the agent endpoint's certificate"}
	var host, dir string
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Create a CA and a server certificate for the agent endpoint, and print how to make SQL Server trust it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			certFile, keyFile, caFile, err := endpoint.GenerateSelfSigned(host, dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "certificate: %s\nkey:         %s\nCA:          %s\n\n", certFile, keyFile, caFile)
			fmt.Fprintf(out, "Set agent.endpoint.certFile and agent.endpoint.keyFile to these files.\n\n%s\n", endpoint.TrustInstructions(host, caFile))
			return nil
		},
	}
	gen.Flags().StringVar(&host, "host", "sqlvault-agent.local", "DNS name SQL Server uses to reach the agent")
	gen.Flags().StringVar(&dir, "dir", ".", "directory for the certificate files")
	cert.AddCommand(gen)
	return cert
}

func newConfigCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (secret references only, never values) and its problems",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load("", os.Getenv, cmd.Flags())
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), cfg.Redacted())
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("the configuration has problems:\n%w", err)
			}
			return nil
		},
	}
	config.BindFlags(show.Flags())
	c.AddCommand(show)
	return c
}
