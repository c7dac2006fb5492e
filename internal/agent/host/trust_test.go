package host

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/host/hosttest"
)

func testCA(t *testing.T) []byte {
	t.Helper()
	_, _, caFile, err := endpoint.GenerateSelfSigned("sqlvm1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLinuxTrustDebianAddRemove(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	r := &hosttest.Runner{}
	ts := LinuxTrust{Root: Root(root), Runner: r}
	ca := testCA(t)
	changed, err := ts.Add(ctx, "sqlvault-endpoint-ca", ca)
	if err != nil || !changed {
		t.Fatalf("Add = %v, %v", changed, err)
	}
	b, err := os.ReadFile(filepath.Join(root, DebianCADir, "sqlvault-endpoint-ca.crt"))
	if err != nil || string(b) != string(ca) {
		t.Fatalf("CA file: %v", err)
	}
	if changed, err := ts.Add(ctx, "sqlvault-endpoint-ca", ca); err != nil || changed {
		t.Fatalf("second Add = %v, %v; want unchanged", changed, err)
	}
	if changed, err := ts.Remove(ctx, "sqlvault-endpoint-ca", ca); err != nil || !changed {
		t.Fatalf("Remove = %v, %v", changed, err)
	}
	if changed, err := ts.Remove(ctx, "sqlvault-endpoint-ca", ca); err != nil || changed {
		t.Fatalf("second Remove = %v, %v", changed, err)
	}
	want := []string{"update-ca-certificates", "update-ca-certificates --fresh"}
	if !reflect.DeepEqual(r.Calls, want) {
		t.Fatalf("calls %q, want %q", r.Calls, want)
	}
}

func TestLinuxTrustRedHatLayout(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, RedHatCADir), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &hosttest.Runner{}
	ts := LinuxTrust{Root: Root(root), Runner: r}
	if _, err := ts.Add(context.Background(), "x", testCA(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, RedHatCADir, "x.crt")); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Calls, []string{"update-ca-trust"}) {
		t.Fatalf("calls %q", r.Calls)
	}
}

func TestTrustRefusesANonCA(t *testing.T) {
	dir := t.TempDir()
	certFile, _, _, err := endpoint.GenerateSelfSigned("sqlvm1", dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := os.ReadFile(certFile)
	r := &hosttest.Runner{}
	if _, err := (LinuxTrust{Root: Root(t.TempDir()), Runner: r}).Add(context.Background(), "x", leaf); err == nil {
		t.Fatal("want an error for a server certificate")
	}
	if _, err := (LinuxTrust{Root: Root(t.TempDir()), Runner: r}).Add(context.Background(), "x", []byte("junk")); err == nil {
		t.Fatal("want an error for junk")
	}
	if len(r.Calls) != 0 {
		t.Fatalf("calls %q", r.Calls)
	}
}

func TestWindowsTrustCallsCertutil(t *testing.T) {
	ctx := context.Background()
	ca := testCA(t)
	cert, err := parseCA(ca)
	if err != nil {
		t.Fatal(err)
	}
	thumb := Thumbprint(cert)
	dir := t.TempDir()
	// Not yet in the store: certutil -store fails, so Add adds it.
	r := &hosttest.Runner{Fail: map[string]string{"certutil -store Root": "not found"}}
	ts := WindowsTrust{Runner: r, Dir: dir}
	if changed, err := ts.Add(ctx, "sqlvault-endpoint-ca", ca); err != nil || !changed {
		t.Fatalf("Add = %v, %v", changed, err)
	}
	if len(r.Calls) != 2 || r.Calls[0] != "certutil -store Root "+thumb ||
		!strings.HasPrefix(r.Calls[1], "certutil -f -addstore Root "+filepath.Join(dir, "sqlvault-endpoint-ca-")) {
		t.Fatalf("calls %q", r.Calls)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the file certutil read was left behind: %v", left)
	}
	// Already in the store: nothing added; Remove deletes it by thumbprint.
	r = &hosttest.Runner{}
	ts.Runner = r
	if changed, err := ts.Add(ctx, "sqlvault-endpoint-ca", ca); err != nil || changed {
		t.Fatalf("Add again = %v, %v", changed, err)
	}
	if changed, err := ts.Remove(ctx, "sqlvault-endpoint-ca", ca); err != nil || !changed {
		t.Fatalf("Remove = %v, %v", changed, err)
	}
	want := []string{"certutil -store Root " + thumb, "certutil -store Root " + thumb, "certutil -delstore Root " + thumb}
	if !reflect.DeepEqual(r.Calls, want) {
		t.Fatalf("calls %q, want %q", r.Calls, want)
	}
}
