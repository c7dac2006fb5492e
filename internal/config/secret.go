package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"
)

// redacted is what every rendering of a literal secret value prints instead of the value.
const redacted = "[redacted]"

// ErrSecretMissing is wrapped by Secret.Resolve when the referenced secret is not there.
var ErrSecretMissing = errors.New("secret not available")

// Secret is a reference to a credential, not the credential: {env: NAME}, {file: PATH} or,
// discouraged, {value: literal}. The config only ever holds the reference; Resolve reads
// the secret at the moment it is needed, so the value never sits in Config and cannot leak
// through a printed or serialised config. Every rendering (String, GoString, JSON, YAML,
// zap) shows the reference and never a value.
type Secret struct {
	Env   string // name of an environment variable holding the secret
	File  string // path of a file holding the secret (trailing newline ignored)
	Value string // the secret itself; discouraged, because config files get copied around
}

// IsZero reports whether no reference is set (used by YAML omitempty and JSON omitzero).
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" && s.Value == "" }

// Resolve returns the secret. Environment variables are read from the process
// environment. A file's trailing newline is dropped, because secret files are usually
// written by echo or mounted by an orchestrator with one.
func (s Secret) Resolve() (string, error) {
	if err := s.checkShape(); err != nil {
		return "", err
	}
	switch {
	case s.Env != "":
		v := os.Getenv(s.Env)
		if v == "" {
			return "", fmt.Errorf("%w: environment variable %s is unset or empty", ErrSecretMissing, s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			// The *PathError names the file and the reason; it never includes content.
			return "", fmt.Errorf("%w: %w", ErrSecretMissing, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%w: secret file %s is empty", ErrSecretMissing, s.File)
		}
		return v, nil
	default:
		return s.Value, nil
	}
}

func (s Secret) checkShape() error {
	n := 0
	for _, f := range []string{s.Env, s.File, s.Value} {
		if f != "" {
			n++
		}
	}
	switch n {
	case 0:
		return fmt.Errorf("%w: no secret reference set", ErrSecretMissing)
	case 1:
		return nil
	default:
		return errors.New("secret reference sets more than one of env, file and value")
	}
}

// String shows the reference: "env:NAME", "file:PATH", "[redacted]", or "" when unset.
func (s Secret) String() string {
	switch {
	case s.Env != "" || s.File != "":
		parts := []string{}
		if s.Env != "" {
			parts = append(parts, "env:"+s.Env)
		}
		if s.File != "" {
			parts = append(parts, "file:"+s.File)
		}
		if s.Value != "" {
			parts = append(parts, "value:"+redacted)
		}
		return strings.Join(parts, ",")
	case s.Value != "":
		return redacted
	default:
		return ""
	}
}

// GoString keeps %#v (which bypasses String) from printing the value.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// secretRef is the serialised form of a Secret with the value masked.
type secretRef struct {
	Env   string `json:"env,omitempty" yaml:"env,omitempty"`
	File  string `json:"file,omitempty" yaml:"file,omitempty"`
	Value string `json:"value,omitempty" yaml:"value,omitempty"`
}

func (s Secret) masked() secretRef {
	r := secretRef{Env: s.Env, File: s.File}
	if s.Value != "" {
		r.Value = redacted
	}
	return r
}

// MarshalJSON writes the reference, e.g. {"env":"SQLVAULT_SQL_PASSWORD"}.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.masked()) }

// MarshalYAML writes the reference, e.g. {env: SQLVAULT_SQL_PASSWORD}.
func (s Secret) MarshalYAML() (any, error) { return s.masked(), nil }

// MarshalLogObject makes zap.Object("password", s) log the reference only.
func (s Secret) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	m := s.masked()
	if m.Env != "" {
		enc.AddString("env", m.Env)
	}
	if m.File != "" {
		enc.AddString("file", m.File)
	}
	if m.Value != "" {
		enc.AddString("value", m.Value)
	}
	return nil
}

// UnmarshalYAML accepts only the mapping form and replaces any default reference whole, so
// a file's {file: …} does not merge with a default {env: …}. A plain string is refused
// rather than taken as the secret, because that is exactly the habit the reference form
// exists to break.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a secret must be a reference: {env: NAME}, {file: PATH} or {value: ...}", n.Line)
	}
	var out Secret
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: secret field %q must be a string", v.Line, k.Value)
		}
		switch k.Value {
		case "env":
			out.Env = v.Value
		case "file":
			out.File = v.Value
		case "value":
			out.Value = v.Value
		default:
			return fmt.Errorf("line %d: field %s not allowed in a secret reference (use env, file or value)", k.Line, k.Value)
		}
	}
	*s = out
	return nil
}
