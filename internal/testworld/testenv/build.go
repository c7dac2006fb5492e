package testenv

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// BuildCommands builds the project's commands (such as "./cmd/sqlvault-worker" and "./cmd/sqlvault") into dir
// with the go tool, as `make build` would, and returns each binary's path by its base name.
// Tests that run the product as a user does (separate processes) start these binaries.
func BuildCommands(dir string, pkgs ...string) (map[string]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testenv: go build %v: %w\n%s", pkgs, err, out)
	}
	paths := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		paths[filepath.Base(p)] = filepath.Join(dir, filepath.Base(p))
	}
	return paths, nil
}
