package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlvault/sqlvault/internal/agent/host/hosttest"
)

var spec = ServiceSpec{Executable: "/usr/bin/sqlvault-worker", ConfigFile: "/etc/sqlvault/agent.yaml"}

func TestUnitText(t *testing.T) {
	u := UnitText(spec)
	for _, line := range []string{
		"ExecStart=/usr/bin/sqlvault-worker --config /etc/sqlvault/agent.yaml",
		"Restart=on-failure",
		"User=sqlvault",
		"StateDirectory=sqlvault",
		"StateDirectoryMode=0700",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE",
		"EnvironmentFile=-/etc/sqlvault/agent.env",
		"WantedBy=multi-user.target",
	} {
		if !strings.Contains(u, "\n"+line+"\n") {
			t.Errorf("unit lacks %q:\n%s", line, u)
		}
	}
	q := UnitText(ServiceSpec{Executable: "/opt/sql vault/sqlvault-worker", ConfigFile: "/etc/sqlvault/agent.yaml"})
	if !strings.Contains(q, `ExecStart="/opt/sql vault/sqlvault-worker" --config`) {
		t.Errorf("a path with a space is not quoted:\n%s", q)
	}
}

func TestSystemdInstallFreshMachine(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	r := &hosttest.Runner{}
	var log []string
	s := Systemd{Root: Root(root), Runner: r, Log: func(f string, a ...any) { log = append(log, f) }}
	if err := s.Install(ctx, spec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, SystemdUnitFile))
	if err != nil || string(b) != UnitText(spec) {
		t.Fatalf("unit file: %v\n%s", err, b)
	}
	want := []string{
		"useradd --system --user-group --home-dir /var/lib/sqlvault --no-create-home --shell /usr/sbin/nologin --comment sqlvault agent sqlvault",
		"systemctl daemon-reload",
		"systemctl enable sqlvault-agent.service",
	}
	if !reflect.DeepEqual(r.Calls, want) {
		t.Fatalf("calls\n%q\nwant\n%q", r.Calls, want)
	}
	if len(log) != 3 {
		t.Fatalf("every step reports what it did: %q", log)
	}
}

func TestSystemdInstallAgainChangesNothing(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/bash\nsqlvault:x:998:998::/var/lib/sqlvault:/usr/sbin/nologin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &hosttest.Runner{}
	s := Systemd{Root: Root(root), Runner: r}
	if err := s.Install(ctx, spec); err != nil {
		t.Fatal(err)
	}
	r.Reset()
	if err := s.Install(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// No user creation, no daemon-reload: only the (idempotent) enable.
	if !reflect.DeepEqual(r.Calls, []string{"systemctl enable sqlvault-agent.service"}) {
		t.Fatalf("calls %q", r.Calls)
	}
}

func TestSystemdControlAndUninstall(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	r := &hosttest.Runner{Output: map[string]string{"systemctl is-active": "active\n", "systemctl is-enabled": "enabled\n"}}
	s := Systemd{Root: Root(root), Runner: r}
	if err := s.Start(ctx); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start before install = %v", err)
	}
	if _, err := s.Status(ctx); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Status before install = %v", err)
	}
	if err := s.Install(ctx, spec); err != nil {
		t.Fatal(err)
	}
	r.Reset()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(ctx)
	if err != nil || st != "sqlvault-agent: active, enabled (unit /etc/systemd/system/sqlvault-agent.service)" {
		t.Fatalf("Status = %q, %v", st, err)
	}
	if err := s.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, SystemdUnitFile)); !os.IsNotExist(err) {
		t.Fatalf("unit file still there: %v", err)
	}
	want := []string{
		"systemctl start sqlvault-agent.service", "systemctl stop sqlvault-agent.service",
		"systemctl is-active sqlvault-agent.service", "systemctl is-enabled sqlvault-agent.service",
		"systemctl disable --now sqlvault-agent.service", "systemctl daemon-reload",
	}
	if !reflect.DeepEqual(r.Calls, want) {
		t.Fatalf("calls\n%q\nwant\n%q", r.Calls, want)
	}
	r.Reset()
	if err := s.Uninstall(ctx); err != nil || len(r.Calls) != 0 {
		t.Fatalf("second Uninstall = %v, calls %q", err, r.Calls)
	}
}

func TestSystemdInstallReportsAFailingUseradd(t *testing.T) {
	r := &hosttest.Runner{Fail: map[string]string{"useradd": "useradd: Permission denied."}}
	err := Systemd{Root: Root(t.TempDir()), Runner: r}.Install(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("err = %v", err)
	}
}

// After installing the deb or rpm, the unit is the package's: start, stop and status work;
// uninstall says to remove the package rather than leave it half removed.
func TestSystemdWithThePackagedUnit(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(PackagedUnitFile)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, PackagedUnitFile), []byte(UnitText(spec)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &hosttest.Runner{Output: map[string]string{"systemctl is-active": "inactive\n", "systemctl is-enabled": "enabled\n"}}
	s := Systemd{Root: Root(root), Runner: r}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Status(ctx); err != nil || st != "sqlvault-agent: inactive, enabled (unit /usr/lib/systemd/system/sqlvault-agent.service)" {
		t.Fatalf("Status = %q, %v", st, err)
	}
	if err := s.Uninstall(ctx); err == nil || !strings.Contains(err.Error(), "remove the package") {
		t.Fatalf("Uninstall = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, PackagedUnitFile)); err != nil {
		t.Fatalf("the packaged unit was touched: %v", err)
	}
}
