package sqlsim

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tds"
)

// Instance is one simulated SQL Server instance: its logins, credentials, databases, msdb
// history and TDS endpoint.
type Instance struct {
	sim *Simulator
	cfg InstanceConfig
	log *zap.Logger

	srv      *tds.Server
	listener net.Listener
	done     chan struct{}
	nextSPID atomic.Uint32

	mu          sync.Mutex
	logins      map[string]*Login // by upper-cased name
	credentials map[string]*credential
	dbs         map[string]*Database // by upper-cased name
	nextDBID    int32
	sessions    map[uint16]*session
	msdb        msdbHistory
	faults      faultState
	requests    map[uint16]*request // running BACKUP/RESTORE, for sys.dm_exec_requests
}

type credential struct {
	id       int32
	name     string
	identity string
	secret   string
	created  string
}

func newInstance(s *Simulator, cfg InstanceConfig) *Instance {
	in := &Instance{
		sim:         s,
		cfg:         cfg,
		done:        make(chan struct{}),
		logins:      map[string]*Login{},
		credentials: map[string]*credential{},
		dbs:         map[string]*Database{},
		nextDBID:    5,
		sessions:    map[uint16]*session{},
		requests:    map[uint16]*request{},
	}
	in.log = s.log.With(zap.String("instance", in.ServerName()))
	for _, l := range cfg.Logins {
		l := l
		in.logins[strings.ToUpper(l.Name)] = &l
	}
	in.nextSPID.Store(50) // user sessions start at 51, as on SQL Server
	for i, name := range []string{"master", "tempdb", "model", "msdb"} {
		db := in.newDatabaseLocked(DatabaseSpec{Name: name, DataPages: 512, Recovery: "SIMPLE"}, int32(i+1))
		if name == "msdb" || name == "model" {
			db.recovery = "FULL"
			if name == "msdb" {
				db.recovery = "SIMPLE"
			}
		}
	}
	return in
}

// ServerName is @@SERVERNAME: Machine or Machine\Instance.
func (in *Instance) ServerName() string {
	if in.cfg.Instance == "" {
		return in.cfg.Machine
	}
	return in.cfg.Machine + `\` + in.cfg.Instance
}

// Machine is the host (VM) name.
func (in *Instance) Machine() string { return in.cfg.Machine }

// Addr is the TDS listener address (host:port).
func (in *Instance) Addr() string { return in.listener.Addr().String() }

// Port is the TDS listener port.
func (in *Instance) Port() int { return in.listener.Addr().(*net.TCPAddr).Port }

// DSN returns a go-mssqldb connection string for login (clear text: the simulator has no TLS).
func (in *Instance) DSN(login, password, database string) string {
	dsn := fmt.Sprintf("sqlserver://%s:%s@%s?encrypt=disable", urlEscape(login), urlEscape(password), in.Addr())
	if database != "" {
		dsn += "&database=" + urlEscape(database)
	}
	return dsn
}

func (in *Instance) serve(l net.Listener) {
	in.listener = l
	major, minor, build := parseVersion(in.cfg.Version)
	in.srv = tds.NewServer(handler{in}, tds.Options{
		Logger:       in.log,
		ServerName:   in.ServerName(),
		VersionMajor: major,
		VersionMinor: minor,
		VersionBuild: build,
		// datetime parameters carry no zone: they are readings of this server's clock.
		Location: in.zone(),
	})
	go func() {
		defer close(in.done)
		if err := in.srv.Serve(l); err != nil {
			in.log.Warn("tds server stopped", zap.Error(err))
		}
	}()
}

// Stop closes the instance's listener and every connection. Its state stays in memory.
func (in *Instance) Stop() error {
	err := in.srv.Close()
	<-in.done
	return err
}

func parseVersion(v string) (uint8, uint8, uint16) {
	var a, b, c int
	_, _ = fmt.Sscanf(v, "%d.%d.%d", &a, &b, &c)
	return uint8(a), uint8(b), uint16(c)
}

// handler is the TDS login entry point.
type handler struct{ in *Instance }

func (h handler) Login(ctx context.Context, req tds.LoginRequest) (tds.Session, error) {
	in := h.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.faults.refuseLogins {
		return nil, loginFailed(req.User, "Reason: the server is refusing logins (simulated fault).")
	}
	l, ok := in.logins[strings.ToUpper(req.User)]
	if !ok || l.Password != req.Password {
		return nil, loginFailed(req.User, "")
	}
	dbName := req.Database
	if dbName == "" {
		dbName = "master"
	}
	db, ok := in.dbs[strings.ToUpper(dbName)]
	if !ok || db.state != StateOnline {
		return nil, &tds.Message{Number: 4060, Class: 11, State: 1,
			Text: fmt.Sprintf("Cannot open database \"%s\" requested by the login. The login failed.", dbName)}
	}
	s := &session{in: in, id: uint16(in.nextSPID.Add(1)), login: l.Name, db: db.name, loginDB: db.name, vars: map[string]variable{}}
	in.sessions[s.id] = s
	return s, nil
}

func loginFailed(user, reason string) error {
	text := fmt.Sprintf("Login failed for user '%s'.", user)
	if reason != "" {
		text += " " + reason
	}
	return &tds.Message{Number: 18456, Class: 14, State: 1, Text: text}
}

// isSysadmin reports whether login is a member of the sysadmin role.
func (in *Instance) isSysadmin(login string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	l, ok := in.logins[strings.ToUpper(login)]
	return ok && l.Sysadmin
}

// SetSysadmin grants or revokes sysadmin for a login (ALTER SERVER ROLE in Go, for tests).
func (in *Instance) SetSysadmin(login string, member bool) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	l, ok := in.logins[strings.ToUpper(login)]
	if !ok {
		return fmt.Errorf("sqlsim: no login %q", login)
	}
	l.Sysadmin = member
	return nil
}

// AddLogin adds a SQL login.
func (in *Instance) AddLogin(l Login) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.logins[strings.ToUpper(l.Name)] = &l
}

// Databases returns the instance's databases sorted by id.
func (in *Instance) Databases() []*Database {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.databasesLocked()
}

func (in *Instance) databasesLocked() []*Database {
	out := make([]*Database, 0, len(in.dbs))
	for _, db := range in.dbs {
		out = append(out, db)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Database returns a database by name (case-insensitive, as with the default collation).
func (in *Instance) Database(name string) (*Database, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	db, ok := in.dbs[strings.ToUpper(name)]
	return db, ok
}

func (in *Instance) dbByIDLocked(id int32) *Database {
	for _, db := range in.dbs {
		if db.id == id {
			return db
		}
	}
	return nil
}

// sessionsUsingLocked returns the sessions, other than except, whose current database is name.
func (in *Instance) sessionsUsingLocked(name string, except uint16) []*session {
	var out []*session
	for id, s := range in.sessions {
		if id != except && strings.EqualFold(s.currentDB(), name) {
			out = append(out, s)
		}
	}
	return out
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, r := range []byte(s) {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || strings.IndexByte("-._~", r) >= 0 {
			b.WriteByte(r)
		} else {
			fmt.Fprintf(&b, "%%%02X", r)
		}
	}
	return b.String()
}

// sqlErr builds a class-16 SQL error.
func sqlErr(number int32, format string, args ...any) *sqltypes.Error {
	return sqltypes.Errorf(number, 16, format, args...)
}
