package setup

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

// fakeAdmin is a SQL Server that knows one login.
type fakeAdmin struct {
	state host.LoginState
	execs []string
}

func (f *fakeAdmin) LoginState(context.Context, string) (host.LoginState, error) { return f.state, nil }

func (f *fakeAdmin) Exec(_ context.Context, b string) error {
	f.execs = append(f.execs, b)
	switch {
	case strings.Contains(b, "CREATE LOGIN"):
		f.state.Exists = true
	case strings.Contains(b, "ADD MEMBER"):
		f.state.IsSysadmin = true
	case strings.Contains(b, "DROP MEMBER"):
		f.state.IsSysadmin = false
	case strings.Contains(b, "DROP LOGIN"):
		f.state.Exists = false
	}
	return nil
}

type recordingOwner struct{ given []string }

func (o *recordingOwner) Give(_ context.Context, p string, _ bool) error {
	o.given = append(o.given, p)
	return nil
}

// freshLinuxVM is a temporary root with what a fresh Debian VM has that setup touches.
func freshLinuxVM(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/local/share/ca-certificates", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/hosts":  "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n",
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\nsqlvault:x:998:998::/var/lib/sqlvault:/usr/sbin/nologin\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func linuxMachine(root string, r host.Runner, admin *fakeAdmin, owner host.Owner, out *bytes.Buffer) Machine {
	paths := config.PlatformPaths{ConfigDir: "/etc/sqlvault", ConfigFile: "/etc/sqlvault/agent.yaml", KeyFile: "/etc/sqlvault/vault.key",
		EndpointDir: "/etc/sqlvault/endpoint", StateDir: "/var/lib/sqlvault", LogDir: "/var/log/sqlvault"}
	m := Machine{Root: host.Root(root), Paths: paths,
		Trust: host.LinuxTrust{Root: host.Root(root), Runner: r},
		Hosts: host.HostsFile{Path: filepath.Join(root, host.LinuxHostsFile)},
		Login: host.Login{Name: "sqlvault-agent", PasswordFile: "/etc/sqlvault/sql-password"}, Out: out}
	if admin != nil { // a typed nil would not be a nil interface
		m.Admin = admin
	}
	if owner != nil {
		m.Owner = owner
	}
	return m
}

func agentConfig() *config.Config {
	c := config.Default()
	c.Role = config.RoleAgent
	c.Agent.VM = "sqlvm1"
	c.Agent.Endpoint.Host = "sqlvault-agent.local"
	c.Agent.Instances = []config.Instance{{Name: "SQLVM1", Host: "localhost", Port: 1433, User: "sqlvault-agent",
		Password: config.Secret{File: "/etc/sqlvault/sql-password"}, Encrypt: "true"}}
	return c
}

func TestSetupOnAFreshLinuxVMThenAgainThenUndo(t *testing.T) {
	ctx := context.Background()
	root := freshLinuxVM(t)
	before, err := hosttest.Take(root)
	if err != nil {
		t.Fatal(err)
	}
	r := &hosttest.Runner{}
	admin := &fakeAdmin{state: host.LoginState{CallerMay: true}}
	owner := &recordingOwner{}
	var out bytes.Buffer
	m := linuxMachine(root, r, admin, owner, &out)

	if err := Run(ctx, m, agentConfig()); err != nil {
		t.Fatalf("setup: %v\n%s", err, out.String())
	}
	t.Logf("setup:\n%s", out.String())
	// The files a working agent needs.
	for _, f := range []string{"etc/sqlvault/agent.yaml", "etc/sqlvault/endpoint/sqlvault-endpoint.crt", "etc/sqlvault/endpoint/sqlvault-endpoint.key",
		"etc/sqlvault/endpoint/sqlvault-endpoint-ca.crt", "etc/sqlvault/sql-password", "var/lib/sqlvault/setup-state.json",
		"usr/local/share/ca-certificates/sqlvault-endpoint-ca-sqlvault-agent.local.crt"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	for dir, want := range map[string]os.FileMode{"var/lib/sqlvault": 0o700, "etc/sqlvault/endpoint": 0o700, "etc/sqlvault": 0o755} {
		if st, err := os.Stat(filepath.Join(root, dir)); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", dir, st.Mode().Perm(), err, want)
		}
	}
	if ip, _ := m.Hosts.Mapping("sqlvault-agent.local"); ip != "127.0.0.5" {
		t.Errorf("hosts maps the endpoint to %q", ip)
	}
	if strings.Join(r.Calls, ";") != "update-ca-certificates" {
		t.Errorf("calls %q", r.Calls)
	}
	if len(admin.execs) != 2 || !strings.HasPrefix(admin.execs[0], "IF SUSER_ID(N'sqlvault-agent') IS NULL CREATE LOGIN [sqlvault-agent] WITH PASSWORD = N'Sv1-") ||
		admin.execs[1] != "ALTER SERVER ROLE [sysadmin] ADD MEMBER [sqlvault-agent];" {
		t.Errorf("T-SQL run: %q", admin.execs)
	}
	pw, _ := os.ReadFile(filepath.Join(root, "etc/sqlvault/sql-password"))
	if !strings.Contains(admin.execs[0], strings.TrimSpace(string(pw))) {
		t.Errorf("the login's password is not the one in the password file")
	}
	for _, want := range []string{"/etc/sqlvault/endpoint", "/var/lib/sqlvault", "/etc/sqlvault/endpoint/sqlvault-endpoint.key", "/etc/sqlvault/sql-password"} {
		if !strings.Contains(strings.Join(owner.given, "\n")+"\n", want+"\n") {
			t.Errorf("%s was not given to the service account: %q", want, owner.given)
		}
	}
	// The written configuration loads and points at what setup made.
	cfg, err := config.Load(filepath.Join(root, "etc/sqlvault/agent.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Role != config.RoleAgent || cfg.Agent.Endpoint.CertFile != "/etc/sqlvault/endpoint/sqlvault-endpoint.crt" ||
		cfg.Agent.Endpoint.KeyFile != "/etc/sqlvault/endpoint/sqlvault-endpoint.key" || cfg.Agent.Instances[0].Password.File != "/etc/sqlvault/sql-password" {
		t.Errorf("config: %+v", cfg)
	}
	for _, step := range []string{"created endpoint certificate", "trusted the endpoint CA", "hosts file: sqlvault-agent.local → 127.0.0.5",
		"created SQL login [sqlvault-agent]", "added SQL login [sqlvault-agent] to sysadmin", "wrote configuration /etc/sqlvault/agent.yaml"} {
		if !strings.Contains(out.String(), step) {
			t.Errorf("setup did not say %q", step)
		}
	}

	// Again: nothing changes, and it says so.
	after1, _ := hosttest.Take(root)
	r.Reset()
	admin.execs = nil
	out.Reset()
	if err := Run(ctx, m, agentConfig()); err != nil {
		t.Fatal(err)
	}
	after2, _ := hosttest.Take(root)
	if d := hosttest.Diff(after1, after2); d != "" {
		t.Fatalf("a second setup changed:\n%s", d)
	}
	if len(r.Calls) != 0 || len(admin.execs) != 0 {
		t.Fatalf("a second setup ran %q and %q", r.Calls, admin.execs)
	}
	if strings.Count(out.String(), "unchanged:") != 5 {
		t.Errorf("second run output:\n%s", out.String())
	}

	// Undo: the root is as it was, byte for byte; the login is gone; the CA is untrusted.
	out.Reset()
	if err := Undo(ctx, m); err != nil {
		t.Fatal(err)
	}
	t.Logf("undo:\n%s", out.String())
	undone, _ := hosttest.Take(root)
	if d := hosttest.Diff(before, undone); d != "" {
		t.Fatalf("undo left differences:\n%s", d)
	}
	if admin.state.Exists || admin.state.IsSysadmin {
		t.Errorf("login left: %+v (ran %q)", admin.state, admin.execs)
	}
	if strings.Join(r.Calls, ";") != "update-ca-certificates --fresh" {
		t.Errorf("undo calls %q", r.Calls)
	}
	out.Reset()
	if err := Undo(ctx, m); err != nil || !strings.Contains(out.String(), "nothing to undo") {
		t.Fatalf("second undo: %v %s", err, out.String())
	}
}

func TestUndoKeepsWhatSetupDidNotAdd(t *testing.T) {
	ctx := context.Background()
	root := freshLinuxVM(t)
	// The machine already has a configuration, an existing login that is sysadmin.
	if err := os.MkdirAll(filepath.Join(root, "etc/sqlvault"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/sqlvault/agent.yaml"), []byte("role: agent\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := hosttest.Take(root)
	admin := &fakeAdmin{state: host.LoginState{Exists: true, IsSysadmin: true, CallerMay: true}}
	var out bytes.Buffer
	m := linuxMachine(root, &hosttest.Runner{}, admin, nil, &out)
	if err := Run(ctx, m, agentConfig()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/sqlvault/agent.yaml")); string(b) != "role: agent\n" {
		t.Fatalf("setup rewrote an existing config: %q", b)
	}
	// After setup, the operator puts the vault key in the config folder.
	if err := os.WriteFile(filepath.Join(root, "etc/sqlvault/vault.key"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Undo(ctx, m); err != nil {
		t.Fatal(err)
	}
	if len(admin.execs) != 0 || !admin.state.Exists {
		t.Fatalf("undo touched a login setup did not create: %q", admin.execs)
	}
	after, _ := hosttest.Take(root)
	if d := hosttest.Diff(before, after); d != "+ etc/sqlvault/vault.key" {
		t.Fatalf("undo: want only the operator's key added, got:\n%s", d)
	}
}

func TestSetupPrintsTheTSQLWhenItMayNot(t *testing.T) {
	for name, admin := range map[string]*fakeAdmin{
		"no admin connection": nil,
		"not sysadmin":        {state: host.LoginState{CallerMay: false}},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			m := linuxMachine(freshLinuxVM(t), &hosttest.Runner{}, admin, nil, &out)
			m.Login = host.Login{Name: `NT SERVICE\sqlvault-agent`} // as on Windows
			if err := Run(context.Background(), m, agentConfig()); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				`IF SUSER_ID(N'NT SERVICE\sqlvault-agent') IS NULL CREATE LOGIN [NT SERVICE\sqlvault-agent] FROM WINDOWS;`,
				`ALTER SERVER ROLE [sysadmin] ADD MEMBER [NT SERVICE\sqlvault-agent];`,
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %s:\n%s", want, out.String())
				}
			}
			if admin != nil && len(admin.execs) != 0 {
				t.Errorf("ran %q without the right to", admin.execs)
			}
		})
	}
}

// On Windows the whole %ProgramData%\sqlvault folder goes to the service account, so the
// vault key copied there later inherits a private ACL.
func TestPrivateConfigDirIsGivenToTheService(t *testing.T) {
	owner := &recordingOwner{}
	m := linuxMachine(freshLinuxVM(t), &hosttest.Runner{}, nil, owner, &bytes.Buffer{})
	m.PrivateConfigDir = true
	if err := Run(context.Background(), m, agentConfig()); err != nil {
		t.Fatal(err)
	}
	if len(owner.given) == 0 || owner.given[0] != "/etc/sqlvault" {
		t.Fatalf("given: %q", owner.given)
	}
}
