package worker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlvault/sqlvault/internal/agent/host"
	"github.com/sqlvault/sqlvault/internal/agent/host/hosttest"
	"github.com/sqlvault/sqlvault/internal/config"
)

type givenTo struct{ paths []string }

func (g *givenTo) Give(_ context.Context, p string, _ bool) error {
	g.paths = append(g.paths, p)
	return nil
}

// A fresh Linux VM (a temporary root): service install, setup, setup again, setup --undo,
// service uninstall — through the commands a person types.
func TestServiceInstallSetupUndoOnAFreshLinuxVM(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/local/share/ca-certificates", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// useradd (faked) would add this line.
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/bash\nsqlvault:x:998:998::/var/lib/sqlvault:/usr/sbin/nologin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SQLVAULT_SETUP_SQL_ADMIN_DSN", "")
	r := &hosttest.Runner{}
	m := machine{Root: host.Root(root), Runner: r, Executable: "/usr/bin/sqlvault-worker", Owner: &givenTo{}}
	cmd := func(name string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		c := newSetupCmdOn(m)
		if name == "service" {
			c = newServiceCmdOn(m)
		}
		c.SetArgs(args)
		c.SetOut(&out)
		c.SetErr(&out)
		if err := c.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
		}
		return out.String()
	}
	cmd("service", "install")
	before, _ := hosttest.Take(root)

	out := cmd("setup", "--vm", "sqlvm1", "--temporal-address", "temporal.example:7233")
	for _, want := range []string{
		"created endpoint certificate /etc/sqlvault/endpoint/sqlvault-endpoint.crt for sqlvault-agent.local",
		"hosts file: sqlvault-agent.local → 127.0.0.5",
		"IF SUSER_ID(N'sqlvault-agent') IS NULL CREATE LOGIN [sqlvault-agent] WITH PASSWORD = N'<the password in /etc/sqlvault/sql-password>'",
		"wrote configuration /etc/sqlvault/agent.yaml",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("setup output lacks %q:\n%s", want, out)
		}
	}
	cfg, err := config.Load(filepath.Join(root, "etc/sqlvault/agent.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Agent.Instances
	if cfg.Role != config.RoleAgent || cfg.Temporal.Address != "temporal.example:7233" || len(in) != 1 || in[0].Name != "sqlvm1" ||
		in[0].User != "sqlvault-agent" || in[0].Password.File != "/etc/sqlvault/sql-password" || cfg.Agent.Endpoint.Host != "sqlvault-agent.local" {
		t.Fatalf("written config:\n%s", cfg.Redacted())
	}
	// The unit the service runs reads the configuration setup wrote.
	if unit, _ := os.ReadFile(filepath.Join(root, host.SystemdUnitFile)); !strings.Contains(string(unit), "--config /etc/sqlvault/agent.yaml\n") {
		t.Fatalf("unit:\n%s", unit)
	}

	done, _ := hosttest.Take(root)
	if out := cmd("setup"); strings.Contains(out, "created") || strings.Contains(out, "wrote") {
		t.Errorf("second setup changed something:\n%s", out)
	}
	if again, _ := hosttest.Take(root); hosttest.Diff(done, again) != "" {
		t.Fatalf("second setup changed the root:\n%s", hosttest.Diff(done, again))
	}
	cmd("setup", "--undo")
	after, _ := hosttest.Take(root)
	if d := hosttest.Diff(before, after); d != "" {
		t.Fatalf("setup --undo left:\n%s", d)
	}
	cmd("service", "uninstall")
}
