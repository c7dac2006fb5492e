package vdistandin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

//go:embed src/sqlvdi.h src/standin.cc
var sources embed.FS

// ErrNoCompiler: the machine has no C++ compiler to build the stand-in with.
var ErrNoCompiler = errors.New("vdistandin: no C++ compiler (g++) on PATH: install g++ (Debian/Ubuntu: apt-get install g++) to build the stand-in libsqlvdi.so")

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// Build compiles the stand-in libsqlvdi.so with the machine's g++ (CXX overrides) and returns
// its path. The library is cached by the hash of its sources in the user's cache directory,
// so each process compiles it at most once and a changed source is rebuilt.
func Build() (string, error) {
	buildOnce.Do(func() { built, buildErr = build() })
	return built, buildErr
}

func build() (string, error) {
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if _, err := exec.LookPath(cxx); err != nil {
		return "", fmt.Errorf("%w (%v)", ErrNoCompiler, err)
	}
	h := sha256.New()
	h.Write([]byte(cxx))
	names := []string{"sqlvdi.h", "standin.cc"}
	files := map[string][]byte{}
	for _, n := range names {
		b, err := sources.ReadFile("src/" + n)
		if err != nil {
			return "", err
		}
		files[n] = b
		h.Write([]byte(n))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "sqlvault", "vdistandin", hex.EncodeToString(h.Sum(nil))[:16])
	lib := filepath.Join(dir, "libsqlvdi.so")
	if _, err := os.Stat(lib); err == nil {
		return lib, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("vdistandin: %w", err)
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("vdistandin: %w", err)
	}
	defer os.RemoveAll(work)
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(work, n), b, 0o644); err != nil {
			return "", fmt.Errorf("vdistandin: %w", err)
		}
	}
	out := filepath.Join(work, "libsqlvdi.so")
	cmd := exec.Command(cxx, "-std=c++11", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-pthread",
		"-o", out, filepath.Join(work, "standin.cc"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("vdistandin: %s failed: %v\n%s", cxx, err, stderr.String())
	}
	// Rename is atomic: processes building at once each install a complete library.
	if err := os.Rename(out, lib); err != nil {
		return "", fmt.Errorf("vdistandin: %w", err)
	}
	return lib, nil
}
