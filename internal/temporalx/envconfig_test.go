package temporalx

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sqlvault/sqlvault/internal/config"
)

// envOf is Load's environment from a map.
func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// writeProfile writes a Temporal CLI profile file (the TOML format `temporal config set`
// writes) and returns its path.
func writeProfile(t *testing.T, dir, toml string) string {
	t.Helper()
	p := filepath.Join(dir, "temporal.toml")
	require.NoError(t, os.WriteFile(p, []byte(toml), 0o600))
	return p
}

// TestProfileAndEnvGiveClientOptions: a Temporal CLI profile (mTLS files, server name,
// address) chosen by TEMPORAL_PROFILE, plus TEMPORAL_NAMESPACE and TEMPORAL_API_KEY, make
// the client options — and the client they make reaches a server that demands that
// client certificate and that key.
func TestProfileAndEnvGiveClientOptions(t *testing.T) {
	const apiKey = "profile-env-api-key-SECRET"
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, "sqlvault-worker", x509.ExtKeyUsageClientAuth)
	f := &fakeFrontend{requireBearer: apiKey}
	addr := serve(t, f, ca.serverTLS(t, "temporal.sqlvault.test", ca.pool()))
	file := writeProfile(t, t.TempDir(), fmt.Sprintf(`
[profile.default]
address = "127.0.0.1:1"

[profile.prod]
address = %q
namespace = "from-profile"

[profile.prod.tls]
client_cert_path = %q
client_key_path = %q
server_ca_cert_path = %q
server_name = "temporal.sqlvault.test"
`, addr, certFile, keyFile, ca.file))
	// Secret{Env} references resolve from the process environment.
	t.Setenv("TEMPORAL_API_KEY", apiKey)
	env := envOf(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod",
		"TEMPORAL_NAMESPACE": "ns.acct", "TEMPORAL_API_KEY": apiKey})

	cfg, err := config.Load("", env, nil)
	require.NoError(t, err)
	tc := cfg.Temporal
	assert.Equal(t, addr, tc.Address, "the profile's address")
	assert.Equal(t, "ns.acct", tc.Namespace, "TEMPORAL_NAMESPACE wins over the profile")
	assert.Equal(t, config.Secret{Env: "TEMPORAL_API_KEY"}, tc.APIKey, "the key stays a reference to its variable")
	assert.Equal(t, config.TLS{Enabled: true, CAFile: ca.file, CertFile: certFile, KeyFile: keyFile, ServerName: "temporal.sqlvault.test"}, tc.TLS)
	assert.ElementsMatch(t, []string{"address", "namespace", "apiKey", "tls", "tls.caFile", "tls.certFile", "tls.keyFile", "tls.serverName"}, tc.FromEnvConfig)
	if err := cfg.Validate(); err != nil { // the rest of this config is empty: only the temporal section counts
		assert.NotContains(t, err.Error(), "temporal.")
	}

	core, logs := observer.New(zapcore.DebugLevel)
	opts, err := ClientOptions(tc, zap.New(core))
	require.NoError(t, err)
	assert.Equal(t, addr, opts.HostPort)
	assert.Equal(t, "ns.acct", opts.Namespace)
	require.NotNil(t, opts.Credentials)
	require.NotNil(t, opts.ConnectionOptions.TLS)
	assert.Equal(t, "temporal.sqlvault.test", opts.ConnectionOptions.TLS.ServerName)
	assert.True(t, opts.ConnectionOptions.TLS.RootCAs.Equal(ca.pool()))
	require.Len(t, opts.ConnectionOptions.TLS.Certificates, 1)
	leaf, err := x509.ParseCertificate(opts.ConnectionOptions.TLS.Certificates[0].Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, "sqlvault-worker", leaf.Subject.CommonName)
	for _, e := range logs.All() {
		assert.NotContains(t, fmt.Sprint(e.ContextMap()), apiKey)
	}

	cl, err := Dial(dialCtx(t), tc, nil)
	require.NoError(t, err)
	cl.Close()
	assert.Equal(t, []string{"Bearer " + apiKey}, f.authorization)
}

// TestSqlvaultSettingsWinOverEnvConfig: the sqlvault file, SQLVAULT_* variables and flags
// win over the profile and TEMPORAL_* variables, setting by setting.
func TestSqlvaultSettingsWinOverEnvConfig(t *testing.T) {
	dir := t.TempDir()
	file := writeProfile(t, dir, `
[profile.default]
address = "temporal.example.com:7233"
namespace = "from-profile"
api_key = "profile-file-key-SECRET"
[profile.default.tls]
server_name = "temporal.example.com"
`)
	yaml := filepath.Join(dir, "worker.yaml")
	require.NoError(t, os.WriteFile(yaml, []byte("temporal:\n  address: 127.0.0.1:7233\n"), 0o600))
	env := envOf(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_ADDRESS": "env.example.com:7233",
		"SQLVAULT_TEMPORAL_NAMESPACE": "from-sqlvault-env"})
	cfg, err := config.Load(yaml, env, nil)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7233", cfg.Temporal.Address, "the sqlvault file wins over TEMPORAL_ADDRESS")
	assert.Equal(t, "from-sqlvault-env", cfg.Temporal.Namespace)
	assert.Equal(t, "temporal.example.com", cfg.Temporal.TLS.ServerName, "what sqlvault does not set comes from the profile")
	assert.True(t, cfg.Temporal.TLS.Enabled)
	assert.ElementsMatch(t, []string{"apiKey", "tls", "tls.serverName"}, cfg.Temporal.FromEnvConfig)
	assert.Contains(t, cfg.Warnings(), "temporal.apiKey: the API key is written in the Temporal CLI profile file (api_key); keep that file readable by this service's account only, or give the key in TEMPORAL_API_KEY")
	assert.NotContains(t, cfg.Redacted(), "profile-file-key-SECRET")
	opts, err := ClientOptions(cfg.Temporal, nil)
	require.NoError(t, err)
	assert.NotNil(t, opts.Credentials, "the profile's key is used")
}

// TestDefaultProfileFile: without TEMPORAL_CONFIG_FILE the Temporal CLI's own file is read
// (<config dir>/temporalio/temporal.toml) and its "default" profile used; with no home
// directory there is none, and asking for a profile then is an error that says what to set.
func TestDefaultProfileFile(t *testing.T) {
	home := t.TempDir()
	// The user config directory, as os.UserConfigDir finds it on each system.
	cfgDir, env := filepath.Join(home, "cfg"), map[string]string{"XDG_CONFIG_HOME": filepath.Join(home, "cfg")}
	switch runtime.GOOS {
	case "windows":
		env = map[string]string{"AppData": cfgDir}
	case "darwin", "ios":
		cfgDir, env = filepath.Join(home, "Library", "Application Support"), map[string]string{"HOME": home}
	}
	require.NoError(t, os.MkdirAll(filepath.Join(cfgDir, "temporalio"), 0o700))
	writeProfile(t, filepath.Join(cfgDir, "temporalio"), "[profile.default]\nnamespace = \"cli-default\"\n")
	cfg, err := config.Load("", envOf(env), nil)
	require.NoError(t, err)
	assert.Equal(t, "cli-default", cfg.Temporal.Namespace)
	assert.Equal(t, config.DefaultTemporalAddress, cfg.Temporal.Address, "unset in the profile: sqlvault's default")

	cfg, err = config.Load("", envOf(nil), nil)
	require.NoError(t, err)
	assert.Equal(t, config.DefaultNamespace, cfg.Temporal.Namespace)
	assert.Empty(t, cfg.Temporal.FromEnvConfig)

	_, err = config.Load("", envOf(map[string]string{"TEMPORAL_PROFILE": "prod"}), nil)
	assert.ErrorIs(t, err, config.ErrTemporalProfile)
	assert.ErrorContains(t, err, "set TEMPORAL_CONFIG_FILE")
}

// TestEnvConfigRefusals: a profile that does not exist, certificate data instead of files,
// and skipping the server's certificate check are refused by name.
func TestEnvConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	file := writeProfile(t, dir, `
[profile.data]
[profile.data.tls]
client_cert_data = "-----BEGIN CERTIFICATE-----"
client_key_data = "-----BEGIN PRIVATE KEY-----"
[profile.insecure]
[profile.insecure.tls]
disable_host_verification = true
`)
	for profile, want := range map[string]string{
		"missing":  "unable to find profile missing",
		"data":     "sqlvault reads certificates and keys from files",
		"insecure": "sqlvault always checks the server's certificate",
	} {
		_, err := config.Load("", envOf(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": profile}), nil)
		assert.ErrorIs(t, err, config.ErrTemporalProfile, profile)
		assert.ErrorContains(t, err, want, profile)
	}
	_, err := config.Load("", envOf(map[string]string{"TEMPORAL_TLS_CLIENT_KEY_DATA": "x", "TEMPORAL_TLS_CLIENT_CERT_DATA": "y"}), nil)
	assert.ErrorContains(t, err, "TEMPORAL_TLS_*_DATA")
}
