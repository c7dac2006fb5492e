// Package setup readies a VM for the agent in one idempotent run, and undoes exactly what
// it did: the endpoint's certificate, the machine's trust in its CA, the hosts entry that
// sends the endpoint's name to its loopback address, the SQL login the service connects
// as, and the configuration. What it changed is recorded in a state file, which --undo
// reads; nothing it did not record is touched.
package setup

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/host"
	"github.com/sqlvault/sqlvault/internal/config"
)

// File names setup uses.
const (
	StateFileName    = "setup-state.json"
	PasswordFileName = "sql-password" // the SQL login's password (Linux), in the config folder
	caFileName       = "sqlvault-endpoint-ca.crt"
	certFileName     = "sqlvault-endpoint.crt"
	keyFileName      = "sqlvault-endpoint.key"
)

// Machine is everything setup touches, each behind an interface so that tests use a
// temporary root and fakes.
type Machine struct {
	Root  host.Root
	Paths config.PlatformPaths // machine paths, taken under Root
	Trust host.TrustStore
	Hosts host.HostsFile // its Path already under Root
	Owner host.Owner     // nil: files keep the running user as owner
	// Admin is the SQL Server connection of the person running setup; nil prints the T-SQL
	// for a DBA to run instead.
	Admin host.SQLAdmin
	Login host.Login
	Out   io.Writer
	// PrivateConfigDir gives the configuration folder to the service account too (Windows:
	// %ProgramData%\sqlvault, whose files would otherwise inherit "Users may read" from
	// ProgramData, so the vault key copied there later is private from the start).
	PrivateConfigDir bool
}

// State is what setup changed, in the order it changed it.
type State struct {
	// Created are the files and folders setup created (machine paths), in order.
	Created []string `json:"created,omitempty"`
	// HostsFile is the hosts file setup added its block to; HostsFileCreated when setup created the file.
	HostsFile        string `json:"hostsFile,omitempty"`
	HostsFileCreated bool   `json:"hostsFileCreated,omitempty"`
	// TrustedCA is the trust store name of the CA setup made the machine trust, CAPEM the CA.
	TrustedCA string `json:"trustedCA,omitempty"`
	CAPEM     string `json:"caPEM,omitempty"`
	// LoginCreated and SysadminGranted name the login setup created / added to sysadmin.
	LoginCreated    string `json:"loginCreated,omitempty"`
	SysadminGranted string `json:"sysadminGranted,omitempty"`
}

func (m Machine) say(format string, args ...any) {
	if m.Out != nil {
		fmt.Fprintf(m.Out, format+"\n", args...)
	}
}

func (m Machine) statePath() string { return filepath.Join(m.Paths.StateDir, StateFileName) }

func (m Machine) loadState() (State, bool, error) {
	var s State
	b, err := os.ReadFile(m.Root.Path(m.statePath()))
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, true, fmt.Errorf("setup state %s: %w (fix or remove it)", m.statePath(), err)
	}
	return s, true, nil
}

// Run performs every step that is not done yet and records what it did. cfg is the
// configuration to write when the machine has none; its endpoint host and listen address
// are used for the certificate and the hosts entry.
func Run(ctx context.Context, m Machine, cfg *config.Config) error {
	st, _, err := m.loadState()
	if err != nil {
		return err
	}
	before, _ := json.Marshal(st)
	// Record what is done even when a later step fails, so --undo can remove it.
	defer func() {
		if after, _ := json.Marshal(st); string(after) != string(before) {
			if err := m.saveState(&st); err != nil {
				m.say("could not record the setup state in %s: %v", m.statePath(), err)
			}
		}
	}()
	return m.run(ctx, cfg, &st)
}

func (m Machine) run(ctx context.Context, cfg *config.Config, st *State) error {
	p := m.Paths
	ep := &cfg.Agent.Endpoint
	if err := m.mkdirs(ctx, st, p.ConfigDir, m.PrivateConfigDir); err != nil {
		return err
	}
	if err := m.mkdirs(ctx, st, p.EndpointDir, true); err != nil {
		return err
	}
	if err := m.mkdirs(ctx, st, p.StateDir, true); err != nil {
		return err
	}

	// 1. The endpoint's certificate.
	ours := ep.CertFile == "" || ep.CertFile == filepath.Join(p.EndpointDir, certFileName)
	if ours {
		ep.CertFile, ep.KeyFile = filepath.Join(p.EndpointDir, certFileName), filepath.Join(p.EndpointDir, keyFileName)
		if _, err := os.Stat(m.Root.Path(ep.CertFile)); err == nil {
			m.say("unchanged: endpoint certificate %s", ep.CertFile)
		} else {
			if _, _, _, err := endpoint.GenerateSelfSigned(ep.Host, m.Root.Path(p.EndpointDir)); err != nil {
				return err
			}
			for _, f := range []string{keyFileName, certFileName, caFileName} {
				st.Created = append(st.Created, filepath.Join(p.EndpointDir, f))
			}
			if err := m.give(ctx, ep.KeyFile, false); err != nil {
				return err
			}
			m.say("created endpoint certificate %s for %s (CA %s)", ep.CertFile, ep.Host, filepath.Join(p.EndpointDir, caFileName))
		}
	} else {
		m.say("unchanged: the configuration names its own endpoint certificate %s; make this machine trust its CA yourself", ep.CertFile)
	}

	// 2. Trust the endpoint's CA.
	if ours {
		caPEM, err := os.ReadFile(m.Root.Path(filepath.Join(p.EndpointDir, caFileName)))
		if err != nil {
			return fmt.Errorf("endpoint CA: %w", err)
		}
		name := "sqlvault-endpoint-ca-" + ep.Host
		changed, err := m.Trust.Add(ctx, name, caPEM)
		if err != nil {
			return err
		}
		if changed {
			st.TrustedCA, st.CAPEM = name, string(caPEM)
			m.say("trusted the endpoint CA in the machine's root store (%s)", name)
		} else {
			m.say("unchanged: the machine trusts the endpoint CA")
		}
	}

	// 3. The hosts entry: the endpoint's name → its listen address.
	ip, _, err := net.SplitHostPort(ep.Listen)
	if err != nil {
		return fmt.Errorf("agent.endpoint.listen %q: %w", ep.Listen, err)
	}
	_, statErr := os.Stat(m.Hosts.Path)
	changed, err := m.Hosts.Ensure(ep.Host, ip)
	if err != nil {
		return err
	}
	if changed {
		if st.HostsFile == "" {
			st.HostsFile, st.HostsFileCreated = m.Hosts.Path, errors.Is(statErr, os.ErrNotExist)
		}
		m.say("hosts file: %s → %s (marked block)", ep.Host, ip)
	} else {
		m.say("unchanged: hosts file maps %s to %s", ep.Host, ip)
	}

	// 4. The SQL login.
	if err := m.login(ctx, st); err != nil {
		return err
	}

	// 5. The configuration.
	cfgPath := p.ConfigFile
	if _, err := os.Stat(m.Root.Path(cfgPath)); err == nil {
		m.say("unchanged: configuration %s exists (setup writes one only when there is none)", cfgPath)
		return nil
	}
	text := "# Written by sqlvault-worker setup; `sqlvault-worker config show --config " + cfgPath + "` checks it.\n" + cfg.Redacted()
	if err := os.WriteFile(m.Root.Path(cfgPath), []byte(text), 0o644); err != nil {
		return err
	}
	st.Created = append(st.Created, cfgPath)
	m.say("wrote configuration %s", cfgPath)
	return nil
}

// login creates the service's login and adds it to sysadmin where the admin connection
// may, and prints the T-SQL otherwise.
func (m Machine) login(ctx context.Context, st *State) error {
	l := m.Login
	password := ""
	if !l.Windows() {
		var created bool
		var err error
		password, created, err = m.passwordFile(ctx, st, l.PasswordFile)
		if err != nil {
			return err
		}
		if created {
			m.say("created the SQL login's password file %s (readable by the service only)", l.PasswordFile)
		}
	}
	printed := "<the password in " + l.PasswordFile + ">"
	if m.Admin == nil {
		m.say("SQL login: no administrator connection; ask a sysadmin of the instance to run:\n  %s\n  %s", l.CreateTSQL(printed), l.GrantTSQL())
		return nil
	}
	ls, err := m.Admin.LoginState(ctx, l.Name)
	if err != nil {
		return fmt.Errorf("SQL login: %w", err)
	}
	if ls.Exists && ls.IsSysadmin {
		m.say("unchanged: SQL login %s exists and is sysadmin", host.QuoteName(l.Name))
		return nil
	}
	if !ls.CallerMay {
		var lines []string
		if !ls.Exists {
			lines = append(lines, l.CreateTSQL(printed))
		}
		lines = append(lines, l.GrantTSQL())
		m.say("SQL login: this connection is not sysadmin, so it may not do it; ask a sysadmin to run:\n  %s", strings.Join(lines, "\n  "))
		return nil
	}
	if !ls.Exists {
		if err := m.Admin.Exec(ctx, l.CreateTSQL(password)); err != nil {
			return fmt.Errorf("SQL login: %w", err)
		}
		st.LoginCreated = l.Name
		m.say("created SQL login %s", host.QuoteName(l.Name))
	}
	if err := m.Admin.Exec(ctx, l.GrantTSQL()); err != nil {
		return fmt.Errorf("SQL login: %w", err)
	}
	st.SysadminGranted = l.Name
	m.say("added SQL login %s to sysadmin", host.QuoteName(l.Name))
	return nil
}

// passwordFile reads the SQL login's password, creating the file with a random one first
// when there is none.
func (m Machine) passwordFile(ctx context.Context, st *State, path string) (string, bool, error) {
	if b, err := os.ReadFile(m.Root.Path(path)); err == nil {
		return strings.TrimRight(string(b), "\r\n"), false, nil
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	// A letter, a digit and a symbol up front satisfy any Windows password policy.
	pw := "Sv1-" + base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(m.Root.Path(path), []byte(pw+"\n"), 0o600); err != nil {
		return "", false, err
	}
	st.Created = append(st.Created, path)
	if err := m.give(ctx, path, false); err != nil {
		return "", true, err
	}
	return pw, true, nil
}

// mkdirs creates dir and its missing parents, recording each one it created.
func (m Machine) mkdirs(ctx context.Context, st *State, dir string, private bool) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(m.Root.Path(d)); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		mode := os.FileMode(0o755)
		if private && i == 0 {
			mode = 0o700
		}
		if err := os.Mkdir(m.Root.Path(missing[i]), mode); err != nil {
			return err
		}
		st.Created = append(st.Created, missing[i])
		m.say("created folder %s", missing[i])
	}
	if private && len(missing) > 0 {
		return m.give(ctx, dir, true)
	}
	return nil
}

func (m Machine) give(ctx context.Context, path string, dir bool) error {
	if m.Owner == nil {
		return nil
	}
	if err := m.Owner.Give(ctx, path, dir); err != nil {
		return fmt.Errorf("give %s to the service account: %w", path, err)
	}
	return nil
}

func (m Machine) saveState(st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := m.Root.Path(m.statePath())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// Undo reverses what the state file records, newest first, and removes the state file.
func Undo(ctx context.Context, m Machine) error {
	st, found, err := m.loadState()
	if err != nil {
		return err
	}
	if !found {
		m.say("nothing to undo: no setup state in %s", m.statePath())
		return nil
	}
	if st.SysadminGranted != "" || st.LoginCreated != "" {
		l := host.Login{Name: st.SysadminGranted}
		if l.Name == "" {
			l.Name = st.LoginCreated
		}
		var batches []string
		if st.SysadminGranted != "" {
			batches = append(batches, l.RevokeTSQL())
		}
		if st.LoginCreated != "" {
			batches = append(batches, l.DropTSQL())
		}
		if m.Admin == nil {
			m.say("SQL login: no administrator connection; ask a sysadmin to run:\n  %s", strings.Join(batches, "\n  "))
		} else {
			for _, b := range batches {
				if err := m.Admin.Exec(ctx, b); err != nil {
					return fmt.Errorf("SQL login: %w", err)
				}
				m.say("ran: %s", b)
			}
		}
		st.SysadminGranted, st.LoginCreated = "", ""
	}
	if st.HostsFile != "" {
		h := host.HostsFile{Path: st.HostsFile}
		if _, err := h.Remove(); err != nil {
			return err
		}
		if b, err := os.ReadFile(st.HostsFile); st.HostsFileCreated && err == nil && len(b) == 0 {
			if err := os.Remove(st.HostsFile); err != nil {
				return err
			}
		}
		m.say("hosts file: removed the sqlvault-agent block")
	}
	if st.TrustedCA != "" {
		if _, err := m.Trust.Remove(ctx, st.TrustedCA, []byte(st.CAPEM)); err != nil {
			return err
		}
		m.say("trust store: removed %s", st.TrustedCA)
	}
	if err := os.Remove(m.Root.Path(m.statePath())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for i := len(st.Created) - 1; i >= 0; i-- {
		p := st.Created[i]
		err := os.Remove(m.Root.Path(p))
		switch {
		case err == nil:
			m.say("removed %s", p)
		case errors.Is(err, os.ErrNotExist):
		default:
			// A folder that now holds files someone else put there (the vault key, logs) stays.
			m.say("kept %s: %v", p, err)
		}
	}
	return nil
}
