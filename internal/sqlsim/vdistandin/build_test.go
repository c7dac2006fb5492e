package vdistandin

import (
	"errors"
	"testing"
)

// Without a compiler the build fails with a named error that says what to install; tests
// that need the stand-in fail on it, never skip.
func TestBuildWithoutACompilerSaysWhatToInstall(t *testing.T) {
	t.Setenv("CXX", "no-such-compiler-sqlvault")
	_, err := build()
	if !errors.Is(err, ErrNoCompiler) {
		t.Fatalf("build() = %v, want ErrNoCompiler", err)
	}
}

// The socket name is the set's name when plain and short, else an FNV-1a hash (a Unix
// socket path holds at most 107 bytes); linuxvdi's TestSetNamesThatNeedHashing checks that
// src/standin.cc computes the same.
func TestSocketName(t *testing.T) {
	if got := SocketName("sqlvault-db-1"); got != "sqlvault-db-1.vdi" {
		t.Errorf("plain name: %q", got)
	}
	if got := SocketName(""); got != "h-cbf29ce484222325.vdi" { // FNV-1a 64 of nothing: its offset basis
		t.Errorf("empty name: %q", got)
	}
	for _, set := range []string{"a/b", "..", string(make([]byte, 65))} {
		if got := SocketName(set); len(got) != len("h-0123456789abcdef.vdi") || got[:2] != "h-" {
			t.Errorf("SocketName(%q) = %q, want a hash name", set, got)
		}
	}
}
