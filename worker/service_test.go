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
)

func TestServiceCommandsOnLinux(t *testing.T) {
	root := t.TempDir()
	r := &hosttest.Runner{Output: map[string]string{"systemctl is-active": "active\n", "systemctl is-enabled": "enabled\n"}}
	m := machine{Root: host.Root(root), Runner: r, Executable: "/usr/bin/sqlvault-worker"}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		c := newServiceCmdOn(m)
		c.SetArgs(args)
		c.SetOut(&out)
		c.SetErr(&out)
		err := c.ExecuteContext(context.Background())
		return out.String(), err
	}
	if _, err := run("status"); err == nil || !strings.Contains(err.Error(), "service install") {
		t.Fatalf("status before install: %v", err)
	}
	out, err := run("install")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "wrote /etc/systemd/system/sqlvault-agent.service") || !strings.Contains(out, "enabled sqlvault-agent.service") {
		t.Fatalf("install output:\n%s", out)
	}
	unit, err := os.ReadFile(filepath.Join(root, host.SystemdUnitFile))
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/bin/sqlvault-worker --config /etc/sqlvault/agent.yaml\n") {
		t.Fatalf("unit: %v\n%s", err, unit)
	}
	if out, err = run("status"); err != nil || !strings.Contains(out, "sqlvault-agent: active, enabled") {
		t.Fatalf("status: %q %v", out, err)
	}
	for _, v := range []string{"start", "stop", "uninstall"} {
		if _, err := run(v); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, host.SystemdUnitFile)); !os.IsNotExist(err) {
		t.Fatalf("unit after uninstall: %v", err)
	}
	calls := strings.Join(r.Calls, "\n")
	for _, want := range []string{"systemctl start sqlvault-agent.service", "systemctl stop sqlvault-agent.service", "systemctl disable --now sqlvault-agent.service"} {
		if !strings.Contains(calls, want) {
			t.Errorf("no %q in\n%s", want, calls)
		}
	}
}
