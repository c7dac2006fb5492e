package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"go.temporal.io/sdk/contrib/envconfig"
)

// The Temporal SDK's environment configuration (go.temporal.io/sdk/contrib/envconfig) is
// the layer under sqlvault's own settings for the temporal section: a TOML profile shared
// with the Temporal CLI (TEMPORAL_CONFIG_FILE, else <user config dir>/temporalio/temporal.toml;
// TEMPORAL_PROFILE, else "default") and then the TEMPORAL_* variables (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_*). An operator who set
// up Temporal Cloud or mutual TLS once for the Temporal CLI gets the same connection here;
// anything the sqlvault file, SQLVAULT_* variables or flags set wins over it.

// ErrTemporalProfile is wrapped by the errors of a Temporal CLI profile or TEMPORAL_*
// variable that sqlvault cannot use as it is.
var ErrTemporalProfile = errors.New("temporal environment configuration")

// applyTemporalEnvConfig lays the profile and the TEMPORAL_* variables (looked up with env)
// over the defaults of c.Temporal, and records in c.Temporal.FromEnvConfig which settings
// came from there.
func (c *Config) applyTemporalEnvConfig(env func(string) string) error {
	lookup := envLookup(env)
	file := temporalConfigFile(env)
	if p := env("TEMPORAL_PROFILE"); p != "" && file == "" {
		return fmt.Errorf("%w: TEMPORAL_PROFILE names profile %q but there is no profile file to find it in (no home directory): set TEMPORAL_CONFIG_FILE to the Temporal CLI's temporal.toml",
			ErrTemporalProfile, p)
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFilePath: file,
		DisableFile:    file == "",
		EnvLookup:      lookup,
	})
	if err != nil {
		return fmt.Errorf("%w: %w (the profile file is TEMPORAL_CONFIG_FILE or %s, the profile TEMPORAL_PROFILE)",
			ErrTemporalProfile, err, filepath.Join("<user config dir>", "temporalio", "temporal.toml"))
	}
	t := &c.Temporal
	var from []string
	set := func(name string, dst *string, v string) {
		if v != "" {
			*dst = v
			from = append(from, name)
		}
	}
	set("address", &t.Address, prof.Address)
	set("namespace", &t.Namespace, prof.Namespace)
	if prof.APIKey != "" {
		// From the environment the key stays a reference to the variable, so it never sits
		// in Config; from a profile file it is that file's value (masked like any inline one).
		if v, ok := lookup.LookupEnv("TEMPORAL_API_KEY"); ok && v == prof.APIKey {
			t.APIKey = Secret{Env: "TEMPORAL_API_KEY"}
		} else {
			t.APIKey = Secret{Value: prof.APIKey}
			t.apiKeyFromProfile = true
		}
		from = append(from, "apiKey")
	}
	if tls := prof.TLS; tls != nil {
		var refused []string
		if len(tls.ClientCertData) > 0 || len(tls.ClientKeyData) > 0 || len(tls.ServerCACertData) > 0 {
			refused = append(refused, "certificate or key data (client_cert_data, client_key_data, server_ca_cert_data or their TEMPORAL_TLS_*_DATA variables): sqlvault reads certificates and keys from files, so give their paths (client_cert_path, client_key_path, server_ca_cert_path)")
		}
		if tls.DisableHostVerification {
			refused = append(refused, "disable_host_verification: sqlvault always checks the server's certificate; name its CA (server_ca_cert_path) and, if the address is not in the certificate, its name (server_name)")
		}
		if len(refused) > 0 {
			return fmt.Errorf("%w: the profile's TLS settings ask for %s", ErrTemporalProfile, strings.Join(refused, "; and "))
		}
		if !tls.Disabled {
			t.TLS.Enabled = true
			from = append(from, "tls")
		}
		set("tls.caFile", &t.TLS.CAFile, tls.ServerCACertPath)
		set("tls.certFile", &t.TLS.CertFile, tls.ClientCertPath)
		set("tls.keyFile", &t.TLS.KeyFile, tls.ClientKeyPath)
		set("tls.serverName", &t.TLS.ServerName, tls.ServerName)
	}
	t.FromEnvConfig = from
	return nil
}

// envLookup adapts Load's env function to envconfig.EnvLookup. An empty variable counts
// as unset, as everywhere else in Load. Environ is empty: the gRPC metadata variables
// (TEMPORAL_GRPC_META_*) are not taken from the environment.
type envLookup func(string) string

func (e envLookup) Environ() []string { return nil }
func (e envLookup) LookupEnv(k string) (string, bool) {
	v := e(k)
	return v, v != ""
}

// temporalConfigFile is where the Temporal CLI keeps its profiles when
// TEMPORAL_CONFIG_FILE is not set: <user config dir>/temporalio/temporal.toml, the user
// config dir found as os.UserConfigDir does but through env, so that a test's environment
// decides (and not the real home directory of whoever runs it). "" when none is found.
func temporalConfigFile(env func(string) string) string {
	if f := env("TEMPORAL_CONFIG_FILE"); f != "" {
		return f
	}
	var dir string
	switch runtime.GOOS {
	case "windows":
		dir = env("AppData")
	case "darwin", "ios":
		if h := env("HOME"); h != "" {
			dir = filepath.Join(h, "Library", "Application Support")
		}
	case "plan9":
		if h := env("home"); h != "" {
			dir = filepath.Join(h, "lib")
		}
	default:
		dir = env("XDG_CONFIG_HOME")
		if dir == "" || !filepath.IsAbs(dir) {
			dir = ""
			if h := env("HOME"); h != "" {
				dir = filepath.Join(h, ".config")
			}
		}
	}
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "temporalio", "temporal.toml")
}

// keepEnvConfigProvenance drops from FromEnvConfig the settings that a later source (the
// file, SQLVAULT_* variables, flags) changed from what the environment configuration gave
// (was: the temporal section right after it was applied).
func (t *Temporal) keepEnvConfigProvenance(was Temporal) {
	same := map[string]bool{
		"address":        t.Address == was.Address,
		"namespace":      t.Namespace == was.Namespace,
		"apiKey":         t.APIKey == was.APIKey,
		"tls":            t.TLS.Enabled == was.TLS.Enabled,
		"tls.caFile":     t.TLS.CAFile == was.TLS.CAFile,
		"tls.certFile":   t.TLS.CertFile == was.TLS.CertFile,
		"tls.keyFile":    t.TLS.KeyFile == was.TLS.KeyFile,
		"tls.serverName": t.TLS.ServerName == was.TLS.ServerName,
	}
	var kept []string
	for _, name := range was.FromEnvConfig {
		if same[name] {
			kept = append(kept, name)
		}
	}
	t.FromEnvConfig = kept
	if !same["apiKey"] {
		t.apiKeyFromProfile = false
	}
}
