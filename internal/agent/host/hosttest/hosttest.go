// Package hosttest has the test doubles for package host: a Runner that records the
// programs it is asked to run, and a snapshot of a directory tree to compare before and
// after.
package hosttest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Runner records every call as "name arg arg…" and answers from Fail and Output.
type Runner struct {
	mu    sync.Mutex
	Calls []string
	// Fail makes a call whose line starts with a key fail with the value as its output.
	Fail map[string]string
	// Output answers a call whose line starts with a key with the value.
	Output map[string]string
}

func (r *Runner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Calls = append(r.Calls, line)
	for prefix, out := range r.Fail {
		if strings.HasPrefix(line, prefix) {
			return []byte(out), fmt.Errorf("%s: exit status 1: %s", line, out)
		}
	}
	for prefix, out := range r.Output {
		if strings.HasPrefix(line, prefix) {
			return []byte(out), nil
		}
	}
	return nil, nil
}

// Reset forgets the recorded calls.
func (r *Runner) Reset() {
	r.mu.Lock()
	r.Calls = nil
	r.mu.Unlock()
}

// Snapshot is every file and folder under a root: path → mode and content.
type Snapshot map[string]string

// Take reads the tree under root.
func Take(root string) (Snapshot, error) {
	s := Snapshot{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			s[rel+"/"] = info.Mode().String()
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s[rel] = info.Mode().String() + " " + string(b)
		return nil
	})
	return s, err
}

// Diff lists the paths that differ between a and b, "" when none.
func Diff(a, b Snapshot) string {
	var out []string
	for p, v := range a {
		if w, ok := b[p]; !ok {
			out = append(out, "- "+p)
		} else if w != v {
			out = append(out, "~ "+p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, "+ "+p)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
