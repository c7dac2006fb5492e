// Package sqlsim is a SQL Server simulator: a test fixture and demo stand-in that speaks TDS
// (so go-mssqldb connects to it unmodified) and behaves, for everything sqlvault uses, like
// SQL Server 2019/2022 with the documented backup and restore semantics: databases and their
// files, recovery models, LSNs, msdb history, BACKUP … TO URL through SQL Server's own blob
// client, RESTORE … FROM URL, availability groups, permissions and SQL Server's error numbers.
//
// Product code never imports this package: it talks to the simulator through go-mssqldb and
// HTTP only, as it would to a real server. Tests use the Go API here for what a real server
// has no T-SQL for: the workload, the clock, content digests and faults.
//
// What it does not model is listed in README.md next to this file.
package sqlsim

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

// Clock is SQL Server's clock: GETDATE(), backup dates, log record times and STOPAT all read it.
type Clock interface {
	Now() time.Time
}

// ManualClock is a clock that only moves when a test moves it.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t.UTC()} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (a negative d panics: SQL Server's log never goes back).
func (c *ManualClock) Advance(d time.Duration) time.Time {
	if d < 0 {
		panic("sqlsim: ManualClock.Advance with a negative duration")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Set moves the clock to t, which must not be earlier than now.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.t) {
		panic("sqlsim: ManualClock.Set to an earlier time")
	}
	c.t = t.UTC()
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

// Config configures a simulator process.
type Config struct {
	// Clock is the clock every instance reads; nil means the wall clock (UTC).
	Clock Clock
	// Logger receives the simulator's own diagnostics; nil discards them.
	Logger *zap.Logger
	// TrustedRoots are the certificate authorities the simulated SQL Server hosts trust for
	// HTTPS backup URLs; nil means the system roots.
	TrustedRoots *x509.CertPool
	// Resolve is the simulated hosts' name resolution: host name → IP address, as a hosts
	// file. Backup URLs must use DNS names and no port (SQL Server refuses IP literals and
	// ports), so tests map their names here and serve on port 443 of that address.
	Resolve map[string]string
	// Forward is a port redirect on the simulated hosts, ip:port → ip:port (see
	// urlio.Config.Forward); only for a development stack that cannot bind port 443.
	Forward map[string]string
	// BlockListEncoding fixes the Put Block List encoding of the simulated blob client;
	// empty picks one of SQL Server's builds' at random, logged (see urlio.Config).
	BlockListEncoding urlio.BlockListEncoding
}

// Simulator holds every simulated instance of one process and the availability groups that
// span them.
type Simulator struct {
	cfg    Config
	log    *zap.Logger
	blob   *urlio.Client
	clockM sync.Mutex
	last   time.Time

	blockLimit atomic.Int64 // blocks per blob the blob service allows (0: Azure's 50,000)
	hosts      hostsFiles   // each machine's own hosts-file entries (hosts.go)

	mu        sync.Mutex
	instances map[string]*Instance // by upper-cased server name
	groups    map[string]*AvailabilityGroup
}

// New returns a simulator with no instances.
func New(cfg Config) *Simulator {
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Simulator{
		cfg:       cfg,
		log:       cfg.Logger,
		blob:      newBlobClient(cfg, cfg.Resolve),
		instances: map[string]*Instance{},
		groups:    map[string]*AvailabilityGroup{},
	}
}

// Now is the simulator's time, never earlier than any time it returned before (the wall
// clock may step back; SQL Server's log must not).
func (s *Simulator) Now() time.Time {
	t := s.cfg.Clock.Now().UTC()
	s.clockM.Lock()
	defer s.clockM.Unlock()
	if t.Before(s.last) {
		t = s.last
	}
	s.last = t
	return t
}

// SetBlobBlockLimit lowers the per-blob block limit (Azure's is 50,000) so tests reach
// "Device has reached its limit of allowed blocks" (3063) without writing 50,000 blocks.
func (s *Simulator) SetBlobBlockLimit(n int) { s.blockLimit.Store(int64(n)) }

// Instance returns the instance with server name name (e.g. "VM1" or "VM1\INST2").
func (s *Simulator) Instance(name string) (*Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[strings.ToUpper(name)]
	return in, ok
}

// Instances returns every instance, sorted by server name.
func (s *Simulator) Instances() []*Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Instance, 0, len(s.instances))
	for _, in := range s.instances {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ServerName() < out[j].ServerName() })
	return out
}

// Close stops every instance.
func (s *Simulator) Close() error {
	var first error
	for _, in := range s.Instances() {
		if err := in.Stop(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Edition names the SQL Server edition an instance reports.
type Edition string

// Editions the simulator knows. Express refuses WITH COMPRESSION (Msg 1844).
const (
	Enterprise Edition = "Enterprise Edition (64-bit)"
	Developer  Edition = "Developer Edition (64-bit)"
	Standard   Edition = "Standard Edition (64-bit)"
	Express    Edition = "Express Edition (64-bit)"
)

// Login is a SQL authentication login.
type Login struct {
	Name     string
	Password string
	Sysadmin bool
}

// InstanceConfig describes one simulated SQL Server instance.
type InstanceConfig struct {
	// Machine is the host (VM) name; Instance the named-instance name ("" or "MSSQLSERVER"
	// for the default instance). @@SERVERNAME is Machine or Machine\Instance.
	Machine  string
	Instance string
	Edition  Edition // default Developer
	// Version is the product version; default 16.0.4135.4 (SQL Server 2022 CU).
	Version string
	// Listen is the TDS address; default 127.0.0.1:0 (a free port).
	Listen string
	// Logins; default one sysadmin login "sa" with password "Sim-Passw0rd".
	Logins []Login
	// DataPath and LogPath are the default folders for new database files.
	DataPath, LogPath string
	// Clustered makes the instance report itself as a failover cluster instance
	// (SERVERPROPERTY('IsClustered') = 1), which the product must refuse.
	Clustered bool
	// Location is the instance's time zone (the VM's local time): GETDATE(), SYSDATETIME(),
	// msdb's dates, RESTORE HEADERONLY's dates and STOPAT are on this clock. nil is UTC.
	Location *time.Location
}

func newGUID() sqltypes.UUID {
	var u sqltypes.UUID
	if _, err := rand.Read(u[:]); err != nil {
		panic(err)
	}
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}

// StartInstance creates an instance with its system databases and starts its TDS listener.
func (s *Simulator) StartInstance(cfg InstanceConfig) (*Instance, error) {
	if cfg.Machine == "" {
		return nil, fmt.Errorf("sqlsim: InstanceConfig.Machine is required")
	}
	if strings.EqualFold(cfg.Instance, "MSSQLSERVER") {
		cfg.Instance = ""
	}
	if cfg.Edition == "" {
		cfg.Edition = Developer
	}
	if cfg.Version == "" {
		cfg.Version = "16.0.4135.4"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if len(cfg.Logins) == 0 {
		cfg.Logins = []Login{{Name: "sa", Password: "Sim-Passw0rd", Sysadmin: true}}
	}
	if cfg.DataPath == "" {
		cfg.DataPath = "/var/opt/mssql/data/"
	}
	if cfg.LogPath == "" {
		cfg.LogPath = cfg.DataPath
	}
	in := newInstance(s, cfg)
	key := strings.ToUpper(in.ServerName())
	s.mu.Lock()
	if _, dup := s.instances[key]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("sqlsim: instance %s already exists", in.ServerName())
	}
	s.instances[key] = in
	s.mu.Unlock()
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.mu.Lock()
		delete(s.instances, key)
		s.mu.Unlock()
		return nil, fmt.Errorf("sqlsim: listen %s: %w", cfg.Listen, err)
	}
	in.serve(l)
	return in, nil
}
