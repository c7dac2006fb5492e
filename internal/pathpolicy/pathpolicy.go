// Package pathpolicy decides whether a path that a workflow input names (a restore's
// as-files folder, a restored database's data and log folders) lies under one of the
// folders the agent's configuration allows (agent.restoreRoots). Paths are SQL Server's:
// Windows (D:\Data, \\server\share\x) or Linux (/var/opt/mssql/data) style whatever the OS
// the agent runs on, so the check is lexical: it never resolves ".." (such a path is
// refused) and compares Windows paths case-insensitively, as NTFS names are.
package pathpolicy

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Path is an absolute path split into its parts.
type Path struct {
	Windows bool
	// Volume is "C:" or `\\server\share` for Windows paths, "" for Linux ones.
	Volume string
	Parts  []string
}

// String renders the path in its own style.
func (p Path) String() string {
	if p.Windows {
		return p.Volume + `\` + strings.Join(p.Parts, `\`)
	}
	return "/" + strings.Join(p.Parts, "/")
}

// Parse checks that s is an absolute path without control characters or ".." parts and
// splits it. "." and empty parts (doubled separators) are dropped.
func Parse(s string) (Path, error) {
	if s == "" {
		return Path{}, errors.New("the path is empty")
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return Path{}, errors.New("the path holds a control character")
	}
	var p Path
	var rest string
	switch {
	case len(s) >= 3 && isLetter(s[0]) && s[1] == ':' && (s[2] == '\\' || s[2] == '/'):
		p.Windows, p.Volume, rest = true, strings.ToUpper(s[:2]), s[3:]
	case strings.HasPrefix(s, `\\`):
		parts := strings.FieldsFunc(s[2:], isSep)
		if len(parts) < 2 {
			return Path{}, errors.New(`a UNC path needs \\server\share`)
		}
		p.Windows, p.Volume = true, `\\`+parts[0]+`\`+parts[1]
		rest = strings.Join(parts[2:], `\`)
	case strings.HasPrefix(s, "/"):
		rest = s[1:]
	default:
		return Path{}, errors.New(`the path must be absolute (C:\Restore on Windows, /var/opt/mssql/restore on Linux)`)
	}
	split := func(r rune) bool { return r == '/' || (p.Windows && r == '\\') }
	for _, part := range strings.FieldsFunc(rest, split) {
		switch part {
		case ".":
			continue
		case "..":
			return Path{}, errors.New(`the path must not contain ".."`)
		}
		p.Parts = append(p.Parts, part)
	}
	return p, nil
}

// Within returns nil when path lies in (or is) one of roots, or else an error that names
// the setting to change.
func Within(path string, roots []string) error {
	p, err := Parse(path)
	if err != nil {
		return fmt.Errorf("%q: %w", path, err)
	}
	if len(roots) == 0 {
		return fmt.Errorf("%q: this agent allows restores to write to no folder a request names; add a folder that holds it to agent.restoreRoots in the agent's configuration, or leave the path out to use SQL Server's default folders", path)
	}
	for _, r := range roots {
		root, err := Parse(r)
		if err != nil {
			continue // refused by config validation
		}
		if contains(root, p) {
			return nil
		}
	}
	return fmt.Errorf("%q is outside the folders this agent lets restores write to (agent.restoreRoots: %s); choose a path under one of them, or add its folder there", path, strings.Join(roots, ", "))
}

func contains(root, p Path) bool {
	if root.Windows != p.Windows || len(p.Parts) < len(root.Parts) {
		return false
	}
	eq := func(a, b string) bool { return a == b }
	if root.Windows {
		eq = strings.EqualFold
	}
	if !eq(root.Volume, p.Volume) {
		return false
	}
	for i, part := range root.Parts {
		if !eq(part, p.Parts[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isSep(r rune) bool    { return r == '\\' || r == '/' }
