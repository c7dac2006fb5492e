package worker

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/host/doctor"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

func newDoctorCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check from this VM everything a backup needs, and name the fix for each problem",
		Long: `doctor checks: the configuration; Temporal reachable (with its TLS settings); the vault
reachable and writable (a probe blob is written and deleted); the vault key present, readable
and private; each SQL Server instance reachable and its login sysadmin; its data path — the
configured one, or without one vdi where this machine has SQL Server's VDI client library
(sqlvdi.dll on Windows, agent.vdiLibrary on Linux) and url otherwise — and where the library
was found or why it was not; for a url instance, SQL
Server resolving the endpoint's name and trusting its certificate — proven by a real BACKUP
DATABASE model TO URL … WITH COPY_ONLY into an endpoint session that discards the bytes; for a
vdi instance, the same backup TO VIRTUAL_DEVICE through the agent's VDI path; and free memory.

The round trip binds the endpoint's address, so run doctor while the service is stopped
(otherwise that line is skipped). Exit status 1 when any check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := ""
			if f := cmd.Flags().Lookup("config"); (f == nil || f.Value.String() == "") && os.Getenv("SQLVAULT_CONFIG") == "" {
				if _, err := os.Stat(config.Platform().ConfigFile); err == nil {
					path = config.Platform().ConfigFile
				}
			}
			cfg, err := config.Load(path, os.Getenv, cmd.Flags())
			if err != nil {
				return err
			}
			var rs []doctor.Result
			if err := cfg.Validate(); err != nil {
				rs = append(rs, doctor.Result{Check: "config", Status: doctor.Fail, Detail: err.Error(),
					Fix: "correct the configuration (sqlvault-worker config show lists every problem)"})
			} else {
				rs = append(rs, doctor.Result{Check: "config", Status: doctor.OK, Detail: "valid"})
			}
			rs = append(rs, doctor.Run(cmd.Context(), realDoctorEnv(cfg))...)
			rs = append(rs, codecCheck(cmd.Context(), cfg))
			out := cmd.OutOrStdout()
			if asJSON {
				if err := doctor.PrintJSON(out, rs); err != nil {
					return err
				}
			} else {
				doctor.PrintTable(out, rs)
			}
			if doctor.Failed(rs) {
				return fmt.Errorf("doctor: some checks failed; each failing line names its fix")
			}
			return nil
		},
	}
	config.BindFlags(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return c
}

// realDoctorEnv wires the checks to the real Temporal, vault, SQL Server and endpoint.
func realDoctorEnv(cfg *config.Config) doctor.Env {
	return doctor.Env{
		Config: cfg,
		DialTemporal: func(ctx context.Context) error {
			tc, err := temporalx.Dial(ctx, cfg.Temporal, zap.NewNop())
			if err != nil {
				return err
			}
			tc.Close()
			return nil
		},
		OpenVault: func(ctx context.Context) (vault.Store, error) { return azstore.FromConfig(ctx, cfg.Vault) },
		VaultProtection: func(ctx context.Context) (azstore.Protection, error) {
			a, err := azstore.AccountFromConfig(cfg.Vault)
			if err != nil {
				return azstore.Protection{}, err
			}
			return a.Protection(ctx)
		},
		OpenInstance: func(_ context.Context, in config.Instance) (doctor.Instance, error) {
			dsn, err := in.DSN()
			if err != nil {
				return nil, err
			}
			conn, err := sqlserver.Open(dsn)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return conn, nil
		},
		StartEndpoint: func() (*endpoint.Server, error) {
			ep := cfg.Agent.Endpoint
			s, err := endpoint.New(endpoint.Options{Host: ep.Host, Listen: ep.Listen, CertFile: ep.CertFile, KeyFile: ep.KeyFile})
			if err != nil {
				return nil, err
			}
			if err := s.Start(); err != nil {
				return nil, err
			}
			return s, nil
		},
		FreeMemory: doctor.FreeMemory,
		VDI:        OpenVDI(cfg.Agent.VDILibrary),
	}
}

// codecCheck says whether Temporal payloads are encrypted here and whether the codec key
// file loads through the KEK, as the worker will load it at start.
func codecCheck(ctx context.Context, cfg *config.Config) doctor.Result {
	if cfg.Codec.KeyFile == "" {
		return doctor.Result{Check: "payload codec", Status: doctor.Warn, Detail: "Temporal payloads are not encrypted (codec.keyFile unset)",
			Fix: "set codec.keyFile to the fleet's codec key file (`sqlvault codec init` makes one); see README, Payload encryption"}
	}
	codec, err := payloadcodec.FromConfig(ctx, cfg.Codec, cfg.Key)
	if err != nil {
		return doctor.Result{Check: "payload codec", Status: doctor.Fail, Detail: err.Error(),
			Fix: "install the fleet's codec key file at codec.keyFile (mode 0600), wrapped under the KEK this machine has"}
	}
	return doctor.Result{Check: "payload codec", Status: doctor.OK,
		Detail: fmt.Sprintf("payloads encrypted with codec key %s (%d key(s) in %s)", codec.ActiveKeyID(), len(codec.KeyIDs()), cfg.Codec.KeyFile)}
}
