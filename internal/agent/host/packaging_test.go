package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The deb/rpm packages ship packaging/linux/sqlvault-agent.service; it must be the unit
// `sqlvault-worker service install` writes for the packaged paths, so the two cannot drift.
// SQLVAULT_WRITE_UNIT=1 rewrites the file from UnitText.
func TestPackagedUnitIsTheInstallersUnit(t *testing.T) {
	repo := filepath.Join("..", "..", "..")
	file := filepath.Join(repo, "packaging", "linux", ServiceName+".service")
	want := UnitText(ServiceSpec{Executable: PackagedBinary, ConfigFile: LinuxConfigFile})
	if os.Getenv("SQLVAULT_WRITE_UNIT") == "1" {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from host.UnitText; run SQLVAULT_WRITE_UNIT=1 go test ./internal/agent/host/ -run TestPackagedUnit\n--- file\n%s\n--- UnitText\n%s", file, got, want)
	}
	// The package config installs that file as the unit, and the binary where ExecStart looks.
	nfpm, err := os.ReadFile(filepath.Join(repo, "packaging", "nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"src: packaging/linux/" + ServiceName + ".service",
		"dst: /usr/lib/systemd/system/" + ServiceName + ".service",
		"dst: " + PackagedBinary,
	} {
		if !strings.Contains(string(nfpm), line) {
			t.Errorf("packaging/nfpm.yaml lacks %q", line)
		}
	}
	post, err := os.ReadFile(filepath.Join(repo, "packaging", "linux", "postinstall.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(post), "useradd --system --user-group --home-dir "+LinuxStateDir) || !strings.Contains(string(post), " "+ServiceUser+"\n") {
		t.Errorf("postinstall.sh does not create the user the unit runs as:\n%s", post)
	}
}
