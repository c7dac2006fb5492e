// Package testenv starts the project's real test services (Azurite) as plain processes and
// makes the throwaway certificates they need. There is no Docker on the development and CI
// machines, so everything runs from files the repository installs itself (`make tools`).
package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// RepoRoot finds the repository root (the directory holding go.mod) by walking up from the
// working directory; `go test` runs each package in its own directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process may
// take it before the caller binds it; StartAzurite retries for that reason.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
