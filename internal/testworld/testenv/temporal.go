package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// ErrTemporalMissing means the project-local Temporal CLI has not been built.
var ErrTemporalMissing = errors.New("testenv: bin/temporal not found: run make tools (it builds the Temporal CLI v1.5.1 from the Go module proxy)")

// Temporal is a running Temporal dev server (the CLI's start-dev) with sqlvault's search
// attributes registered.
type Temporal struct {
	HostPort  string
	Namespace string
	Client    client.Client
	server    *testsuite.DevServer
}

// StartTemporal starts the dev server from bin/temporal on a free port.
func StartTemporal(ctx context.Context) (*Temporal, func(), error) {
	return StartTemporalWith(ctx, TemporalOptions{})
}

// TemporalOptions are what a caller may add to the dev server StartTemporal starts.
type TemporalOptions struct {
	// Namespaces are created with the server (besides "default"), each with sqlvault's
	// search attributes. Creating them at start makes them usable at once: a namespace
	// registered later is unknown to the server's caches for a while.
	Namespaces []string
}

// StartTemporalWith is StartTemporal with options.
func StartTemporalWith(ctx context.Context, opts TemporalOptions) (*Temporal, func(), error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	bin := filepath.Join(root, "bin", "temporal")
	if _, err := os.Stat(bin); err != nil {
		return nil, nil, ErrTemporalMissing
	}
	port, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	// The dev server registers a search attribute for each key given here (values unused).
	var keys []temporal.SearchAttributeUpdate
	for _, name := range protocol.SearchAttributeNames {
		keys = append(keys, temporal.NewSearchAttributeKeyKeyword(name).ValueSet(""))
	}
	hostPort := fmt.Sprintf("127.0.0.1:%d", port)
	var extra []string
	for _, ns := range opts.Namespaces {
		extra = append(extra, "--namespace", ns)
	}
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:     bin,
		ClientOptions:    &client.Options{HostPort: hostPort, Namespace: "default"},
		LogLevel:         "error",
		SearchAttributes: temporal.NewSearchAttributes(keys...),
		// Everything the server prints goes to stderr: a benchmark's result line is
		// printed to stdout in two parts (name, then figures), and a server log line in
		// between splits it where benchreport reads it.
		Stdout:    os.Stderr,
		Stderr:    os.Stderr,
		ExtraArgs: extra,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: start Temporal dev server: %w", err)
	}
	t := &Temporal{HostPort: srv.FrontendHostPort(), Namespace: "default", Client: srv.Client(), server: srv}
	return t, func() { _ = srv.Stop() }, nil
}

// TemporalT starts a dev server for one test (or test binary) and stops it at cleanup.
// A missing CLI fails the test: CI must never skip integration tests.
func TemporalT(t testing.TB) *Temporal {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tp, stop, err := StartTemporal(ctx)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(stop)
	return tp
}
