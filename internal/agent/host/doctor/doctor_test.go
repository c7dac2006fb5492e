package doctor

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/testworld/fakekeyvault"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// fakeInstance answers Server and fails Run as told.
type fakeInstance struct {
	info   sqlserver.ServerInfo
	runErr error
	ran    []string
}

func (f *fakeInstance) Server(context.Context) (sqlserver.ServerInfo, error) { return f.info, nil }
func (f *fakeInstance) CreateCredential(context.Context, string, string) error {
	return nil
}
func (f *fakeInstance) DropCredential(context.Context, string) error { return nil }
func (f *fakeInstance) Run(_ context.Context, q string, _ []any, _ func(sqlserver.Message)) error {
	f.ran = append(f.ran, q)
	return f.runErr
}
func (f *fakeInstance) Close() error { return nil }

// failingStore is a vault that refuses writes.
type failingStore struct{ vault.Store }

func (failingStore) Put(context.Context, string, []byte, vault.PutOptions) error {
	return errors.New("403 AuthorizationPermissionMismatch")
}

// healthy is an Env in which every check passes; each test breaks one thing.
func healthy(t *testing.T) (Env, *fakeInstance) {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "vault.key")
	if _, err := blockcrypt.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	certFile, keyPEM, _, err := endpoint.GenerateSelfSigned("sqlvault-agent.local", dir)
	if err != nil {
		t.Fatal(err)
	}
	listen, err := testenv.Loopback443()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Role = config.RoleAgent
	cfg.Key.File = keyFile
	cfg.Vault.AccountURL = "https://acct.blob.core.windows.net"
	cfg.Agent.Endpoint = config.Endpoint{Host: "sqlvault-agent.local", Listen: listen, CertFile: certFile, KeyFile: keyPEM}
	cfg.Agent.Instances = []config.Instance{{Name: "SQLVM1", Host: "localhost", Port: 1433}}
	inst := &fakeInstance{info: sqlserver.ServerInfo{ServerName: "SQLVM1", ProductVersion: "16.0", Login: "sqlvault-agent", IsSysadmin: true}}
	env := Env{
		Config:       cfg,
		DialTemporal: func(context.Context) error { return nil },
		OpenVault:    func(context.Context) (vault.Store, error) { return vault.NewMemStore(), nil },
		VaultProtection: func(context.Context) (azstore.Protection, error) {
			return azstore.Protection{SoftDelete: true, SoftDeleteDays: 14, ImmutableVersions: true}, nil
		},
		OpenInstance: func(context.Context, config.Instance) (Instance, error) { return inst, nil },
		StartEndpoint: func() (*endpoint.Server, error) {
			s, err := endpoint.New(endpoint.Options{Host: cfg.Agent.Endpoint.Host, Listen: cfg.Agent.Endpoint.Listen, CertFile: certFile, KeyFile: keyPEM})
			if err != nil {
				return nil, err
			}
			return s, s.Start()
		},
		FreeMemory: func() (uint64, error) { return 4 << 30, nil },
	}
	return env, inst
}

// line returns the result of the named check.
func line(t *testing.T, rs []Result, check string) Result {
	t.Helper()
	for _, r := range rs {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no %q line in %+v", check, rs)
	return Result{}
}

func TestHealthyFakesPass(t *testing.T) {
	env, inst := healthy(t)
	rs := Run(context.Background(), env)
	if Failed(rs) {
		t.Fatalf("failed: %+v", rs)
	}
	if len(inst.ran) != 1 || !strings.Contains(inst.ran[0], "BACKUP DATABASE @p1 TO URL = @p2 WITH FORMAT, CHECKSUM, COPY_ONLY") {
		t.Fatalf("round trip ran %q", inst.ran)
	}
	if len(rs) != 9 {
		t.Fatalf("want temporal, vault, vault protection, key, 4 instance lines and memory: %+v", rs)
	}
	if r := line(t, rs, "instance SQLVM1 data path"); !strings.HasPrefix(r.Detail, "url (") || !strings.Contains(r.Detail, "no VDI client library") {
		t.Fatalf("data path line: %+v", r)
	}
}

// Each misconfiguration fails its own line, and the line names the fix.
func TestEachMisconfigurationFailsItsLineWithTheFix(t *testing.T) {
	cases := []struct {
		name, check, fix string
		breakIt          func(*Env, *fakeInstance)
	}{
		{"temporal down", "temporal", "check temporal.address", func(e *Env, _ *fakeInstance) {
			e.DialTemporal = func(context.Context) error { return errors.New("connection refused") }
		}},
		{"vault unreachable", "vault", "check vault.accountUrl", func(e *Env, _ *fakeInstance) {
			e.OpenVault = func(context.Context) (vault.Store, error) { return nil, errors.New("no such host") }
		}},
		{"vault read-only", "vault", "Storage Blob Data Contributor", func(e *Env, _ *fakeInstance) {
			e.OpenVault = func(context.Context) (vault.Store, error) { return failingStore{vault.NewMemStore()}, nil }
		}},
		{"key missing", "key", "copy the vault's key file to", func(e *Env, _ *fakeInstance) {
			e.Config.Key.File = filepath.Join(t.TempDir(), "absent.key")
		}},
		{"VM's own key missing", "key", "copy this VM's own key file to", func(e *Env, _ *fakeInstance) {
			e.Config.Key.File, e.Config.Key.Scope = filepath.Join(t.TempDir(), "absent.key"), config.KeyScopeVM
		}},
		{"key readable by others", "key", "chmod 600", func(e *Env, _ *fakeInstance) {
			if err := os.Chmod(e.Config.Key.File, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"instance unreachable", "instance SQLVM1", "check agent.instances SQLVM1", func(e *Env, _ *fakeInstance) {
			e.OpenInstance = func(context.Context, config.Instance) (Instance, error) {
				return nil, errors.New("dial tcp 127.0.0.1:1433: connection refused")
			}
		}},
		{"login not sysadmin", "instance SQLVM1 login", "ALTER SERVER ROLE [sysadmin] ADD MEMBER [sqlvault-agent];", func(_ *Env, i *fakeInstance) {
			i.info.IsSysadmin = false
		}},
		{"endpoint certificate not trusted", "instance SQLVM1 endpoint", "does not trust the endpoint's certificate", func(_ *Env, i *fakeInstance) {
			i.runErr = errors.New("mssql: Cannot open backup device 'https://sqlvault-agent.local/x/doctor.bak'. Operating system error 12175(A security error occurred.).")
		}},
		{"endpoint name not resolved", "instance SQLVM1 endpoint", "adds 127.", func(_ *Env, i *fakeInstance) {
			i.runErr = errors.New("mssql: Cannot open backup device 'https://sqlvault-agent.local/x/doctor.bak'. Operating system error 12007(The server name or address could not be resolved).")
		}},
		{"endpoint certificate missing", "instance SQLVM1 endpoint", "sqlvault-worker setup creates a certificate", func(e *Env, _ *fakeInstance) {
			e.StartEndpoint = func() (*endpoint.Server, error) {
				return endpoint.New(endpoint.Options{Host: "sqlvault-agent.local", CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"})
			}
		}},
		{"memory low", "memory", "lower agent.maxConcurrentBackups", func(e *Env, _ *fakeInstance) {
			e.FreeMemory = func() (uint64, error) { return 100 << 20, nil }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, inst := healthy(t)
			c.breakIt(&env, inst)
			rs := Run(context.Background(), env)
			if !Failed(rs) {
				t.Fatalf("no failure: %+v", rs)
			}
			r := line(t, rs, c.check)
			if r.Status != Fail || !strings.Contains(r.Fix, c.fix) {
				t.Fatalf("%s: %+v; want FAIL with a fix containing %q", c.check, r, c.fix)
			}
			for _, other := range rs {
				if other.Status == Fail && other.Check != c.check {
					t.Errorf("another line failed too: %+v", other)
				}
			}
			var table bytes.Buffer
			PrintTable(&table, rs)
			if !strings.Contains(table.String(), "fix: "+r.Fix) {
				t.Errorf("the table does not show the fix:\n%s", table.String())
			}
		})
	}
}

func TestEndpointInUseIsSkippedNotFailed(t *testing.T) {
	env, _ := healthy(t)
	first, err := env.StartEndpoint() // the running service holds the address
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	rs := Run(context.Background(), env)
	r := line(t, rs, "instance SQLVM1 endpoint")
	if r.Status != Skip || !strings.Contains(r.Fix, "service stop") || Failed(rs) {
		t.Fatalf("%+v", rs)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := PrintJSON(&b, []Result{{Check: "key", Status: Fail, Detail: "d", Fix: "f"}}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || got[0]["status"] != "FAIL" || got[0]["fix"] != "f" {
		t.Fatalf("%s %v", b.String(), err)
	}
}

// The whole doctor against the SQL Server simulator and an in-memory vault: SQL Server
// really resolves the endpoint's name, checks its certificate and streams model to it.
// Without the hosts entry, or without trusting the CA, the endpoint line fails with the fix.
func TestDoctorAgainstTheSimulator(t *testing.T) {
	for _, tc := range []struct {
		name      string
		trust     bool
		hosts     bool
		wantOK    bool
		wantInFix string
	}{
		{"ready", true, true, true, ""},
		{"CA not trusted", false, true, false, "does not trust the endpoint's certificate"},
		{"no hosts entry", true, false, false, "sqlvault-agent.local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := healthy(t)
			ep := env.Config.Agent.Endpoint
			pool := x509.NewCertPool()
			if tc.trust {
				ca, err := os.ReadFile(filepath.Join(filepath.Dir(ep.CertFile), "sqlvault-endpoint-ca.crt"))
				if err != nil {
					t.Fatal(err)
				}
				pool.AppendCertsFromPEM(ca)
			}
			sim := sqlsim.New(sqlsim.Config{TrustedRoots: pool})
			t.Cleanup(func() { _ = sim.Close() })
			inst, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "SQLVM1"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.hosts {
				inst.SetHostsEntry(ep.Host, testenv.LoopbackIP(ep.Listen))
			}
			env.OpenInstance = func(context.Context, config.Instance) (Instance, error) {
				return sqlserver.Open(inst.DSN("sa", "Sim-Passw0rd", ""))
			}
			rs := Run(context.Background(), env)
			r := line(t, rs, "instance SQLVM1 endpoint")
			var table bytes.Buffer
			PrintTable(&table, rs)
			t.Logf("\n%s", table.String())
			if tc.wantOK {
				if Failed(rs) || r.Status != OK {
					t.Fatalf("failed:\n%s", table.String())
				}
				return
			}
			if r.Status != Fail || !strings.Contains(r.Fix, tc.wantInFix) {
				t.Fatalf("endpoint line %+v; want FAIL with %q in the fix", r, tc.wantInFix)
			}
		})
	}
}

// vdiLib is a VDI library whose sets SQL Server (the fake instance's Run) opens at once and
// whose one device carries a small backup, then VDC_Complete, then closes.
type vdiLib struct{ sets []*vdiSet }

func (l *vdiLib) Describe() string { return "test VDI" }
func (l *vdiLib) NewSet() (vdi.DeviceSet, error) {
	s := &vdiSet{}
	l.sets = append(l.sets, s)
	return s, nil
}

type vdiSet struct {
	instance, name string
	closed         bool
	dev            vdiDev
}

func (s *vdiSet) Create(instance, name string, _ vdi.Config) error {
	s.instance, s.name = instance, name
	return nil
}
func (s *vdiSet) GetConfiguration(time.Duration) (vdi.Config, error) {
	return vdi.Config{DeviceCount: 1}, nil
}
func (s *vdiSet) OpenDevice(string) (vdi.Device, error) {
	s.dev.cmds = []*vdi.Command{{Code: vdi.CmdWrite, Buffer: []byte("model backup")}, {Code: vdi.CmdComplete}}
	return &s.dev, nil
}
func (s *vdiSet) SignalAbort() error { return nil }
func (s *vdiSet) Close() error       { s.closed = true; return nil }

type vdiDev struct{ cmds []*vdi.Command }

func (d *vdiDev) GetCommand(time.Duration) (*vdi.Command, error) {
	if len(d.cmds) == 0 {
		return nil, vdi.ErrClose
	}
	c := d.cmds[0]
	d.cmds = d.cmds[1:]
	return c, nil
}
func (d *vdiDev) CompleteCommand(*vdi.Command, uint32, uint32, int64) error { return nil }

// An instance with dataPath: vdi: doctor reports the path and the library, and its round
// trip is a BACKUP of model TO VIRTUAL_DEVICE through the agent's VDI path (for the named
// instance's VDI name), not TO URL.
func TestVDIInstanceRoundTripsThroughVDI(t *testing.T) {
	env, inst := healthy(t)
	env.Config.Agent.Instances[0].DataPath = "vdi"
	inst.info.ServerName = `SQLVM1\INST`
	lib := &vdiLib{}
	env.VDI = func() (vdi.Platform, error) { return lib, nil }
	rs := Run(context.Background(), env)
	if Failed(rs) {
		t.Fatalf("failed: %+v", rs)
	}
	if r := line(t, rs, "instance SQLVM1 data path"); r.Detail != "vdi (BACKUP … TO VIRTUAL_DEVICE) through test VDI" {
		t.Fatalf("data path line: %+v", r)
	}
	r := line(t, rs, "instance SQLVM1 vdi")
	if !strings.Contains(r.Detail, "12 bytes, discarded") {
		t.Fatalf("vdi line: %+v", r)
	}
	if len(inst.ran) != 1 || !strings.Contains(inst.ran[0], "BACKUP DATABASE @p1 TO VIRTUAL_DEVICE = @p2") {
		t.Fatalf("round trip ran %q", inst.ran)
	}
	if len(lib.sets) != 1 || lib.sets[0].instance != "INST" || !lib.sets[0].closed {
		t.Fatalf("sets: %+v", lib.sets)
	}
	for _, r := range rs {
		if r.Check == "instance SQLVM1 endpoint" {
			t.Fatalf("a VDI instance needs no endpoint round trip: %+v", r)
		}
	}

	// Without the library, the data path line fails with the fix and the round trip is skipped.
	env.VDI = func() (vdi.Platform, error) { return nil, vdi.ErrNoPlatform }
	rs = Run(context.Background(), env)
	r = line(t, rs, "instance SQLVM1 data path")
	if r.Status != Fail || !strings.Contains(r.Detail, "no VDI client library") || !strings.Contains(r.Fix, "set dataPath: url") {
		t.Fatalf("data path line: %+v", r)
	}
	if r := line(t, rs, "instance SQLVM1 vdi"); r.Status != Skip {
		t.Fatalf("vdi line: %+v", r)
	}

	// An instance configured with url on a machine with the library says dataPath: vdi
	// would use it, and round-trips through the endpoint.
	env.Config.Agent.Instances[0].DataPath = "url"
	env.VDI = func() (vdi.Platform, error) { return lib, nil }
	inst.ran = nil
	rs = Run(context.Background(), env)
	if r := line(t, rs, "instance SQLVM1 data path"); r.Detail != "url (BACKUP … TO URL into the endpoint), dataPath: url; the VDI client library is present (test VDI): dataPath: vdi would use it" {
		t.Fatalf("data path line: %+v", r)
	}
	if len(inst.ran) != 1 || !strings.Contains(inst.ran[0], "TO URL") {
		t.Fatalf("round trip ran %q", inst.ran)
	}
}

// An instance without a dataPath gets what the agent would give it: vdi where the library
// is present (and its round trip goes TO VIRTUAL_DEVICE), url where it is not (through the
// endpoint), each line saying it is the default and what doctor found of the library.
func TestDefaultDataPathFollowsTheLibrary(t *testing.T) {
	env, inst := healthy(t)
	env.Config.Agent.Instances[0].DataPath = ""
	lib := &vdiLib{}
	env.VDI = func() (vdi.Platform, error) { return lib, nil }
	rs := Run(context.Background(), env)
	if Failed(rs) {
		t.Fatalf("failed: %+v", rs)
	}
	if r := line(t, rs, "instance SQLVM1 data path"); r.Detail != "vdi (BACKUP … TO VIRTUAL_DEVICE) through test VDI; the default: dataPath is not set and the library is present (dataPath: url keeps TO URL)" {
		t.Fatalf("data path line: %+v", r)
	}
	if r := line(t, rs, "instance SQLVM1 vdi"); r.Status != OK {
		t.Fatalf("vdi line: %+v", r)
	}
	if len(inst.ran) != 1 || !strings.Contains(inst.ran[0], "TO VIRTUAL_DEVICE") {
		t.Fatalf("round trip ran %q", inst.ran)
	}

	missing := fmt.Errorf("%w: cannot load /opt/mssql/lib/libsqlvdi.so", vdi.ErrNoPlatform)
	env.VDI = func() (vdi.Platform, error) { return nil, missing }
	inst.ran = nil
	rs = Run(context.Background(), env)
	if Failed(rs) {
		t.Fatalf("no library is no failure for an instance that did not ask for vdi: %+v", rs)
	}
	if r := line(t, rs, "instance SQLVM1 data path"); r.Detail != "url (BACKUP … TO URL into the endpoint), the default: dataPath is not set; no VDI client library (vdi: no VDI client library on this machine: cannot load /opt/mssql/lib/libsqlvdi.so)" {
		t.Fatalf("data path line: %+v", r)
	}
	if len(inst.ran) != 1 || !strings.Contains(inst.ran[0], "TO URL") {
		t.Fatalf("round trip ran %q", inst.ran)
	}
}

// The vault protection line: hardened is ok; short of it a warning (not a failure) that
// names `sqlvault vault harden`; a credential that may not read the account is skipped.
func TestVaultProtectionLine(t *testing.T) {
	env, _ := healthy(t)
	for _, c := range []struct {
		name   string
		p      azstore.Protection
		err    error
		status Status
		detail string
	}{
		{"hardened", azstore.Protection{SoftDelete: true, SoftDeleteDays: 14, ImmutableVersions: true}, nil, OK, "blob soft delete 14 days, version-level immutability on"},
		{"no WORM", azstore.Protection{SoftDelete: true, SoftDeleteDays: 7}, nil, Warn, "blob soft delete 7 days, version-level immutability off"},
		{"nothing", azstore.Protection{}, nil, Warn, "blob soft delete off, version-level immutability off"},
		{"agent SAS", azstore.Protection{}, fmt.Errorf("read: %w", azstore.ErrAccountSettings), Skip, "may not read the storage account's settings"},
	} {
		env.VaultProtection = func(context.Context) (azstore.Protection, error) { return c.p, c.err }
		rs := Run(context.Background(), env)
		r := line(t, rs, "vault protection")
		if r.Status != c.status || !strings.Contains(r.Detail, c.detail) {
			t.Errorf("%s: %+v", c.name, r)
		}
		if c.status == Warn && !strings.Contains(r.Fix, "sqlvault vault harden") {
			t.Errorf("%s: the fix names vault harden: %+v", c.name, r)
		}
		if Failed(rs) {
			t.Errorf("%s: a vault short of hardening is no failure: %+v", c.name, rs)
		}
	}
}

// With the azurekeyvault provider, the key line reads the KEK from Key Vault (here the
// fake): it passes with the key's id, and fails naming Key Vault's refusal and the fix.
func TestKeyVaultKEKLine(t *testing.T) {
	kv := fakekeyvault.Start()
	defer kv.Close()
	kv.CreateRSAKey("sqlvault-kek")
	env, _ := healthy(t)
	env.Config.Key = config.Key{Provider: config.KeyProviderAzureKeyVault,
		AzureKeyVault: config.AzureKeyVault{VaultURL: kv.URL(), KeyName: "sqlvault-kek"}}
	env.OpenKEK = func(k config.Key) (keys.KEK, error) {
		return keys.NewAzureKEK(keys.AzureOptions{VaultURL: k.AzureKeyVault.VaultURL, KeyName: k.AzureKeyVault.KeyName,
			Credential: kv.Credential(), ClientOptions: kv.ClientOptions()})
	}
	r := line(t, Run(context.Background(), env), "key")
	if r.Status != OK || !strings.Contains(r.Detail, kv.URL()+"/keys/sqlvault-kek/") || !strings.Contains(r.Detail, "RSA-OAEP-256") {
		t.Fatalf("healthy Key Vault KEK: %+v", r)
	}
	kv.SetEnabled("sqlvault-kek", false)
	r = line(t, Run(context.Background(), env), "key")
	if r.Status != Fail || !strings.Contains(r.Detail, "KeyDisabled") || !strings.HasPrefix(r.Fix, "enable the key") {
		t.Fatalf("disabled Key Vault KEK: %+v", r)
	}
	kv.SetEnabled("sqlvault-kek", true)
	kv.Forbid(true)
	r = line(t, Run(context.Background(), env), "key")
	if r.Status != Fail || !strings.Contains(r.Detail, "403 Forbidden/ForbiddenByRbac") || !strings.Contains(r.Fix, "Key Vault Crypto Service Encryption User") {
		t.Fatalf("forbidden Key Vault KEK: %+v", r)
	}
}
