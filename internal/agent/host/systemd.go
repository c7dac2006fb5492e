package host

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Linux locations of the service's pieces.
const (
	SystemdUnitFile = "/etc/systemd/system/" + ServiceName + ".service"
	// PackagedUnitFile is where the deb and rpm packages put the same unit.
	PackagedUnitFile = "/usr/lib/systemd/system/" + ServiceName + ".service"
	LinuxStateDir    = "/var/lib/sqlvault"
	PackagedBinary   = "/usr/bin/sqlvault-worker"
	LinuxConfigFile  = "/etc/sqlvault/agent.yaml"
	// LinuxEnvFile is optional: it holds SQLVAULT_* variables (a SAS, a password) that must
	// not sit in the config file.
	LinuxEnvFile = "/etc/sqlvault/agent.env"
)

// UnitText is the systemd unit for the agent. The deb/rpm packages ship the same text
// (packaging/linux/sqlvault-agent.service, checked by a test).
//
// The endpoint listens on port 443 of its loopback address, so the unprivileged user gets
// CAP_NET_BIND_SERVICE and nothing else. StateDirectory makes systemd create
// /var/lib/sqlvault owned by the user with mode 0700.
func UnitText(spec ServiceSpec) string {
	return `[Unit]
Description=sqlvault agent: SQL Server backups to Azure Blob Storage
Documentation=https://github.com/sqlvault/sqlvault
Wants=network-online.target
After=network-online.target mssql-server.service

[Service]
Type=simple
User=` + ServiceUser + `
Group=` + ServiceUser + `
EnvironmentFile=-` + LinuxEnvFile + `
ExecStart=` + systemdQuote(spec.Executable) + ` --config ` + systemdQuote(spec.ConfigFile) + `
Restart=on-failure
RestartSec=5s
StateDirectory=sqlvault
StateDirectoryMode=0700
LogsDirectory=sqlvault
LogsDirectoryMode=0700
UMask=0077
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=true
ProtectSystem=full
PrivateTmp=true

[Install]
WantedBy=multi-user.target
`
}

// systemdQuote quotes a path for an Exec line when it needs it.
func systemdQuote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Systemd is the Linux ServiceManager: a unit file, a system user, and systemctl.
type Systemd struct {
	Root   Root
	Runner Runner
	Log    Logf
}

func (s Systemd) unit() string { return s.Root.Path(SystemdUnitFile) }

// installed reports whether either unit file is there: the one service install writes or
// the one the package ships.
func (s Systemd) installed() bool {
	for _, f := range []string{SystemdUnitFile, PackagedUnitFile} {
		if _, err := os.Stat(s.Root.Path(f)); err == nil {
			return true
		}
	}
	return false
}

func (s Systemd) Install(ctx context.Context, spec ServiceSpec) error {
	if !filepath.IsAbs(spec.Executable) || !filepath.IsAbs(spec.ConfigFile) {
		return fmt.Errorf("service install: the executable and config file must be absolute paths (got %q, %q)", spec.Executable, spec.ConfigFile)
	}
	has, err := s.userExists()
	if err != nil {
		return err
	}
	if has {
		s.Log.printf("unchanged: user %s exists", ServiceUser)
	} else {
		if _, err := s.Runner.Run(ctx, "useradd", "--system", "--user-group", "--home-dir", LinuxStateDir,
			"--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "sqlvault agent", ServiceUser); err != nil {
			return fmt.Errorf("service install: create the user %s: %w", ServiceUser, err)
		}
		s.Log.printf("created system user %s", ServiceUser)
	}
	if err := os.MkdirAll(filepath.Dir(s.unit()), 0o755); err != nil {
		return err
	}
	changed, err := writeFileIfChanged(s.unit(), []byte(UnitText(spec)), 0o644)
	if err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	if changed {
		s.Log.printf("wrote %s", SystemdUnitFile)
		if _, err := s.Runner.Run(ctx, "systemctl", "daemon-reload"); err != nil {
			return err
		}
	} else {
		s.Log.printf("unchanged: %s", SystemdUnitFile)
	}
	if _, err := s.Runner.Run(ctx, "systemctl", "enable", ServiceName+".service"); err != nil {
		return err
	}
	s.Log.printf("enabled %s.service (starts at boot; restarts on failure)", ServiceName)
	return nil
}

func (s Systemd) Uninstall(ctx context.Context) error {
	if _, err := os.Stat(s.unit()); os.IsNotExist(err) {
		if s.installed() {
			return fmt.Errorf("service uninstall: %s.service came with the sqlvault-agent package; remove the package instead (apt remove sqlvault-agent, or dnf remove sqlvault-agent)", ServiceName)
		}
		s.Log.printf("unchanged: %s is not installed", ServiceName)
		return nil
	}
	if _, err := s.Runner.Run(ctx, "systemctl", "disable", "--now", ServiceName+".service"); err != nil {
		return err
	}
	s.Log.printf("stopped and disabled %s.service", ServiceName)
	if _, err := removeIfExists(s.unit()); err != nil {
		return err
	}
	s.Log.printf("removed %s", SystemdUnitFile)
	if _, err := s.Runner.Run(ctx, "systemctl", "daemon-reload"); err != nil {
		return err
	}
	// The user and /var/lib/sqlvault stay: the state folder may hold what an operator
	// needs, and a package upgrade reinstalls the service with the same user.
	s.Log.printf("kept: user %s and %s (remove them with userdel %s and rm -r %s if no longer wanted)", ServiceUser, LinuxStateDir, ServiceUser, LinuxStateDir)
	return nil
}

func (s Systemd) Start(ctx context.Context) error { return s.ctl(ctx, "start") }
func (s Systemd) Stop(ctx context.Context) error  { return s.ctl(ctx, "stop") }

func (s Systemd) ctl(ctx context.Context, verb string) error {
	if !s.installed() {
		return ErrNotInstalled
	}
	if _, err := s.Runner.Run(ctx, "systemctl", verb, ServiceName+".service"); err != nil {
		return err
	}
	s.Log.printf("%s: %s.service", map[string]string{"start": "started", "stop": "stopped"}[verb], ServiceName)
	return nil
}

func (s Systemd) Status(ctx context.Context) (string, error) {
	if !s.installed() {
		return "", ErrNotInstalled
	}
	unit := SystemdUnitFile
	if _, err := os.Stat(s.unit()); err != nil {
		unit = PackagedUnitFile
	}
	// is-active and is-enabled exit non-zero for "inactive"/"disabled", with the word on stdout.
	active, _ := s.Runner.Run(ctx, "systemctl", "is-active", ServiceName+".service")
	enabled, _ := s.Runner.Run(ctx, "systemctl", "is-enabled", ServiceName+".service")
	return fmt.Sprintf("%s: %s, %s (unit %s)", ServiceName, firstLine(active), firstLine(enabled), unit), nil
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if line == "" {
		return "unknown"
	}
	return line
}

// userExists reads the root's /etc/passwd; getent would also see directory users, but a
// system user for a service is always local.
func (s Systemd) userExists() (bool, error) {
	f, err := os.Open(s.Root.Path("/etc/passwd"))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, _, _ := strings.Cut(sc.Text(), ":"); name == ServiceUser {
			return true, nil
		}
	}
	return false, sc.Err()
}
