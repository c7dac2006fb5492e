package config

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestPlatformPathsOnLinux(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Fatal("this suite runs on Linux; the Windows paths are cross-compiled only")
	}
	p := Platform()
	if p.KeyFile != "/etc/sqlvault/vault.key" || DefaultKeyFile != p.KeyFile || Default().Key.File != p.KeyFile {
		t.Fatalf("key file %q, default %q", p.KeyFile, DefaultKeyFile)
	}
	for _, f := range []string{p.ConfigFile, p.KeyFile, p.EndpointDir} {
		if !strings.HasPrefix(f, p.ConfigDir+"/") {
			t.Errorf("%s is not under %s", f, p.ConfigDir)
		}
	}
	for _, f := range []string{p.ConfigDir, p.ConfigFile, p.KeyFile, p.EndpointDir, p.StateDir, p.LogDir} {
		if !filepath.IsAbs(f) {
			t.Errorf("%s is not absolute", f)
		}
	}
}
