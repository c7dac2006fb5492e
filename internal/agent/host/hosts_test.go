package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeHosts(t *testing.T, content string) HostsFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return HostsFile{Path: p}
}

func readHosts(t *testing.T, h HostsFile) string {
	t.Helper()
	b, err := os.ReadFile(h.Path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHostsEnsureAddsOneMarkedBlockAndIsIdempotent(t *testing.T) {
	orig := "127.0.0.1 localhost\n::1 localhost\n"
	h := writeHosts(t, orig)
	changed, err := h.Ensure("sqlvm1", "127.0.0.5")
	if err != nil || !changed {
		t.Fatalf("Ensure = %v, %v; want changed", changed, err)
	}
	want := orig + hostsBegin + "\n127.0.0.5 sqlvm1\n" + hostsEnd + "\n"
	if got := readHosts(t, h); got != want {
		t.Fatalf("hosts =\n%s\nwant\n%s", got, want)
	}
	changed, err = h.Ensure("sqlvm1", "127.0.0.5")
	if err != nil || changed {
		t.Fatalf("second Ensure = %v, %v; want unchanged", changed, err)
	}
	if ip, _ := h.Mapping("SQLVM1"); ip != "127.0.0.5" {
		t.Fatalf("Mapping = %q", ip)
	}
	// A new address replaces the line inside the block; lines outside stay.
	if changed, err := h.Ensure("sqlvm1", "127.0.0.6"); err != nil || !changed {
		t.Fatalf("Ensure new ip = %v, %v", changed, err)
	}
	if got := readHosts(t, h); strings.Count(got, "sqlvm1") != 1 || !strings.Contains(got, "127.0.0.6 sqlvm1") || !strings.HasPrefix(got, orig) {
		t.Fatalf("hosts after readdress =\n%s", got)
	}
	if changed, err := h.Remove(); err != nil || !changed {
		t.Fatalf("Remove = %v, %v", changed, err)
	}
	if got := readHosts(t, h); got != orig {
		t.Fatalf("after Remove =\n%q\nwant\n%q", got, orig)
	}
	if changed, err := h.Remove(); err != nil || changed {
		t.Fatalf("second Remove = %v, %v; want unchanged", changed, err)
	}
}

func TestHostsRemoveKeepsLinesAddedAfterTheBlock(t *testing.T) {
	h := writeHosts(t, "127.0.0.1 localhost\n")
	if _, err := h.Ensure("sqlvm1", "127.0.0.5"); err != nil {
		t.Fatal(err)
	}
	// An administrator adds a line after setup ran.
	if err := os.WriteFile(h.Path, []byte(readHosts(t, h)+"10.0.0.9 other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Remove(); err != nil {
		t.Fatal(err)
	}
	if got, want := readHosts(t, h), "127.0.0.1 localhost\n10.0.0.9 other\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestHostsWithoutFinalNewlineAndCRLFComeBackByteForByte(t *testing.T) {
	for name, orig := range map[string]string{
		"no final newline": "127.0.0.1 localhost",
		"crlf":             "# Windows hosts\r\n127.0.0.1 localhost\r\n",
		"crlf no final":    "# Windows hosts\r\n127.0.0.1 localhost",
		"empty":            "",
	} {
		t.Run(name, func(t *testing.T) {
			h := writeHosts(t, orig)
			if _, err := h.Ensure("sqlvm1", "127.0.0.5"); err != nil {
				t.Fatal(err)
			}
			if changed, err := h.Ensure("sqlvm1", "127.0.0.5"); err != nil || changed {
				t.Fatalf("second Ensure = %v, %v", changed, err)
			}
			got := readHosts(t, h)
			if ip, _ := h.Mapping("sqlvm1"); ip != "127.0.0.5" {
				t.Fatalf("Mapping = %q in %q", ip, got)
			}
			if strings.Contains(orig, "\r\n") && strings.Count(got, "\n") != strings.Count(got, "\r\n") {
				t.Fatalf("mixed line endings: %q", got)
			}
			if _, err := h.Remove(); err != nil {
				t.Fatal(err)
			}
			if got := readHosts(t, h); got != orig {
				t.Fatalf("after Remove %q, want %q", got, orig)
			}
		})
	}
}

func TestHostsRefusesBadInput(t *testing.T) {
	h := writeHosts(t, "")
	if _, err := h.Ensure("sqlvm1", "not-an-ip"); err == nil {
		t.Fatal("want error for a bad IP")
	}
	if _, err := h.Ensure("two names", "127.0.0.5"); err == nil {
		t.Fatal("want error for a bad name")
	}
}

func TestHostsKeepsFileMode(t *testing.T) {
	h := writeHosts(t, "127.0.0.1 localhost\n")
	if err := os.Chmod(h.Path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Ensure("sqlvm1", "127.0.0.5"); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(h.Path)
	if st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", st.Mode().Perm())
	}
}
