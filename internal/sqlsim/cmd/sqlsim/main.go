// Command sqlsim runs the SQL Server simulator standalone: one instance with a few sample
// databases that any TDS client (go-mssqldb, sqlcmd, Azure Data Studio with encryption off)
// can query and back up to URL. It is a development and demo stand-in, not a database.
package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/vdistandin"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

type options struct {
	listen, machine, instance, edition string
	login, password                    string
	sample                             bool
	caFile                             string
	resolve, forward                   []string
	workload                           int
}

func newCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "sqlsim",
		Short: "Run the SQL Server simulator (a test and demo stand-in for SQL Server 2022)",
		Long: `sqlsim serves TDS on --listen with SQL authentication and no TLS (connect with
encrypt=disable). BACKUP … TO URL and RESTORE … FROM URL reach HTTPS blob endpoints whose
host names resolve through --resolve (port 443: like SQL Server, the simulator refuses a
URL with a port) and whose certificates chain to --trust-ca.`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:14330", "TDS listen address")
	f.StringVar(&o.machine, "machine", "SQLVM1", "machine (VM) name; @@SERVERNAME is machine or machine\\instance")
	f.StringVar(&o.instance, "instance", "", "named instance (empty: the default instance)")
	f.StringVar(&o.edition, "edition", "developer", "edition: enterprise, developer, standard or express")
	f.StringVar(&o.login, "login", "sa", "sysadmin login name")
	f.StringVar(&o.password, "password", "", "sysadmin password (default: $SQLSIM_PASSWORD, else Sim-Passw0rd)")
	f.BoolVar(&o.sample, "sample", true, "create the sample databases")
	f.StringVar(&o.caFile, "trust-ca", "", "PEM file of CA certificates the simulated host trusts for HTTPS backup URLs")
	f.StringSliceVar(&o.resolve, "resolve", nil, "host=ip entries of the simulated host's name resolution (repeatable)")
	f.StringSliceVar(&o.forward, "forward", nil, "ip:443=ip:port port redirects on the simulated host, for an endpoint that cannot bind 443 (repeatable)")
	f.IntVar(&o.workload, "workload", 0, "page writes per second to each sample database (0: none)")
	cmd.AddCommand(newVDILibraryCommand())
	return cmd
}

// newVDILibraryCommand builds the stand-in libsqlvdi.so (vdistandin.Build) and prints its
// path, for a stack whose agent loads it (agent.vdiLibrary): its sets then talk to this
// simulator through Unix sockets in $SQLSIM_VDI_DIR, which both processes must share.
func newVDILibraryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "vdi-library",
		Short: "Build the stand-in libsqlvdi.so (with g++) and print its path",
		Long: `vdi-library compiles the project's stand-in for SQL Server on Linux's VDI client library
(cached by the hash of its sources) and prints the file's path. An agent that loads it
(agent.vdiLibrary) backs up and restores through TO/FROM VIRTUAL_DEVICE with this simulator;
the agent and the simulator must see the same SQLSIM_VDI_DIR (default /tmp/sqlsim-vdi).`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := vdistandin.Build()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), lib)
			return nil
		},
	}
}

func run(ctx context.Context, o options) error {
	log, err := zap.NewProduction()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if o.password == "" {
		o.password = os.Getenv("SQLSIM_PASSWORD")
	}
	if o.password == "" {
		o.password = "Sim-Passw0rd"
	}
	cfg := sqlsim.Config{Logger: log, Resolve: map[string]string{}}
	for _, r := range o.resolve {
		host, ip, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("--resolve %q: want host=ip", r)
		}
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("--resolve %q: %q is not an IP address (a hosts file maps names to addresses, not ports)", r, ip)
		}
		cfg.Resolve[host] = ip
	}
	for _, r := range o.forward {
		from, to, ok := strings.Cut(r, "=")
		_, _, ferr := net.SplitHostPort(from)
		_, _, terr := net.SplitHostPort(to)
		if !ok || ferr != nil || terr != nil {
			return fmt.Errorf("--forward %q: want ip:port=ip:port, e.g. 127.0.0.5:443=127.0.0.5:8443", r)
		}
		if cfg.Forward == nil {
			cfg.Forward = map[string]string{}
		}
		cfg.Forward[from] = to
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return fmt.Errorf("--trust-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--trust-ca %s: no PEM certificates in the file", o.caFile)
		}
		cfg.TrustedRoots = pool
	}
	editions := map[string]sqlsim.Edition{"enterprise": sqlsim.Enterprise, "developer": sqlsim.Developer,
		"standard": sqlsim.Standard, "express": sqlsim.Express}
	ed, ok := editions[strings.ToLower(o.edition)]
	if !ok {
		return fmt.Errorf("--edition %q: want enterprise, developer, standard or express", o.edition)
	}
	sim := sqlsim.New(cfg)
	defer func() { _ = sim.Close() }()
	in, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: o.machine, Instance: o.instance, Edition: ed,
		Listen: o.listen, Logins: []sqlsim.Login{{Name: o.login, Password: o.password, Sysadmin: true}}})
	if err != nil {
		return err
	}
	var dbs []*sqlsim.Database
	if o.sample {
		for _, spec := range SampleDatabases() {
			db, err := in.CreateDatabase(spec)
			if err != nil {
				return err
			}
			if !spec.ReadOnly {
				dbs = append(dbs, db)
			}
		}
	}
	fmt.Printf("sqlsim: %s listening on %s (login %s; encrypt=disable)\n", in.ServerName(), in.Addr(), o.login)
	fmt.Printf("  go-mssqldb: sqlserver://%s:<password>@%s?encrypt=disable\n", o.login, in.Addr())
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.workload > 0 {
		go workload(ctx, log, dbs, o.workload)
	}
	<-ctx.Done()
	fmt.Println("sqlsim: stopping")
	return nil
}

// SampleDatabases are the demo databases: ordinary ones, one in SIMPLE recovery, a
// read-only archive, and a name that needs quoting everywhere.
func SampleDatabases() []sqlsim.DatabaseSpec {
	return []sqlsim.DatabaseSpec{
		{Name: "SalesDB", SizeBytes: 64 << 20, Recovery: "FULL"},
		{Name: "HR", SizeBytes: 16 << 20, Recovery: "SIMPLE"},
		{Name: "Archive2019", SizeBytes: 32 << 20, Recovery: "FULL", ReadOnly: true},
		{Name: "Ops]Log 'Ünïcode'", SizeBytes: 8 << 20, Recovery: "FULL"},
	}
}

func workload(ctx context.Context, log *zap.Logger, dbs []*sqlsim.Database, perSecond int) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, db := range dbs {
				if _, err := db.Write(perSecond); err != nil {
					log.Debug("workload write skipped", zap.String("database", db.Name()), zap.Error(err))
				}
			}
		}
	}
}
