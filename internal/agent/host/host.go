// Package host holds the machine-level pieces that make a VM ready for the agent: the
// operating system's service manager, its certificate trust store, the hosts file and the
// SQL login the service connects as. Each is a small interface with a Linux and a Windows
// implementation. Every file path goes through a root directory and every program runs
// through a Runner, so the logic is tested on Linux against a temporary root and a fake
// Runner, and never touches the real /etc or calls systemctl in a test.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Root is the directory every absolute path of the machine is taken under: "/" (or "")
// on a real machine, a temporary directory in tests.
type Root string

// Path returns p (an absolute path on the machine) under the root.
func (r Root) Path(p string) string {
	if r == "" || r == "/" {
		return p
	}
	return filepath.Join(string(r), p)
}

// Runner runs a program and returns its combined output. ExecRunner runs it for real;
// tests record the calls instead.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs programs with os/exec.
type ExecRunner struct{}

// Run runs name with args; a failure carries the program's output, which says why.
func (ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// Logf reports one step a command took ("wrote /etc/…", "unchanged: …"); nil discards.
type Logf func(format string, args ...any)

func (l Logf) printf(format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}

// writeFileIfChanged writes data to path with mode unless the file already holds exactly
// data, and reports whether it wrote. The write goes through a temporary file and a rename,
// so a crash leaves the old file or the new one, never half of one.
func writeFileIfChanged(path string, data []byte, mode os.FileMode) (bool, error) {
	old, err := os.ReadFile(path)
	if err == nil && string(old) == string(data) {
		return false, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if err == nil {
		// Keep the mode the file has: a hosts file an administrator made 0644 stays 0644.
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	return true, writeAtomic(path, data, mode)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// removeIfExists removes path and reports whether it was there.
func removeIfExists(path string) (bool, error) {
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
