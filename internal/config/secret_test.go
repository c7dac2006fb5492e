package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/microsoft/go-mssqldb/msdsn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"go.yaml.in/yaml/v3"
)

func TestSecretResolve(t *testing.T) {
	t.Setenv("TEST_SECRET", "from-env")
	t.Setenv("TEST_EMPTY", "")
	dir := t.TempDir()
	file := filepath.Join(dir, "s")
	require.NoError(t, os.WriteFile(file, []byte("from file \n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\r\n"), 0o600))

	v, err := Secret{Env: "TEST_SECRET"}.Resolve()
	require.NoError(t, err)
	assert.Equal(t, "from-env", v)

	v, err = Secret{File: file}.Resolve()
	require.NoError(t, err)
	assert.Equal(t, "from file ", v, "only the trailing newline is dropped")

	v, err = Secret{Value: "inline"}.Resolve()
	require.NoError(t, err)
	assert.Equal(t, "inline", v)

	for _, tc := range []struct {
		s    Secret
		want string
	}{
		{Secret{Env: "TEST_EMPTY"}, "secret not available: environment variable TEST_EMPTY is unset or empty"},
		{Secret{Env: "TEST_NEVER_SET_4711"}, "secret not available: environment variable TEST_NEVER_SET_4711 is unset or empty"},
		{Secret{File: filepath.Join(dir, "nope")}, "secret not available: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{Secret{File: empty}, "secret not available: secret file " + empty + " is empty"},
		{Secret{}, "secret not available: no secret reference set"},
	} {
		_, err := tc.s.Resolve()
		assert.EqualError(t, err, tc.want)
		assert.ErrorIs(t, err, ErrSecretMissing)
	}
	_, err = Secret{Env: "TEST_SECRET", Value: "x"}.Resolve()
	assert.EqualError(t, err, "secret reference sets more than one of env, file and value")
}

// A config holding every kind of secret, each with a recognisable value.
const (
	inlineAPIKey = "INLINE-API-KEY-1"
	inlineSAS    = "sv=2023&sig=INLINE-SAS-2"
	inlineSQL    = "INLINE-SQL-PW-3"
	envSQL       = "ENV-SQL-PW-4"
	fileKey      = "FILE-ACCOUNT-KEY-5"
)

func secretConfig(t *testing.T) *Config {
	t.Helper()
	t.Setenv("TEST_SQL_PW", envSQL)
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(fileKey), 0o600))
	c := Default()
	c.Temporal.APIKey = Secret{Value: inlineAPIKey}
	c.Vault.SAS = Secret{Value: inlineSAS}
	c.Vault.SharedKey.Key = Secret{File: keyFile}
	c.Agent.Instances = []Instance{
		{Name: "A", Host: "h", Port: 1433, User: "u", Password: Secret{Value: inlineSQL}, Encrypt: "true"},
		{Name: "B", Host: "h", Port: 1433, User: "u", Password: Secret{Env: "TEST_SQL_PW"}, Encrypt: "true"},
	}
	return c
}

var allSecrets = []string{inlineAPIKey, "INLINE-SAS-2", inlineSQL, envSQL, fileKey}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range allSecrets {
		assert.NotContains(t, s, secret, what)
	}
}

func TestSecretsNeverRendered(t *testing.T) {
	c := secretConfig(t)

	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		assertNoSecret(t, verb, fmt.Sprintf(verb, c))
		assertNoSecret(t, verb, fmt.Sprintf(verb, *c))
		assertNoSecret(t, verb, fmt.Sprintf(verb, c.Agent.Instances[0]))
	}
	assert.Equal(t, "[redacted]", c.Temporal.APIKey.String())
	assert.Equal(t, "env:TEST_SQL_PW", c.Agent.Instances[1].Password.String())
	assert.Equal(t, `config.Secret("[redacted]")`, fmt.Sprintf("%#v", c.Vault.SAS))

	js, err := json.Marshal(c)
	require.NoError(t, err)
	assertNoSecret(t, "JSON", string(js))
	assert.Contains(t, string(js), `"apiKey":{"value":"[redacted]"}`)
	assert.Contains(t, string(js), `"password":{"env":"TEST_SQL_PW"}`)

	ys, err := yaml.Marshal(c)
	require.NoError(t, err)
	assertNoSecret(t, "YAML", string(ys))

	red := c.Redacted()
	assertNoSecret(t, "Redacted", red)
	assert.Contains(t, red, "value: '[redacted]'")
	assert.Contains(t, red, "env: TEST_SQL_PW")
	assert.Contains(t, red, "file: "+c.Vault.SharedKey.Key.File)

	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	log.Info("config", zap.Any("config", c), zap.Any("instances", c.Agent.Instances))
	log.Info("secret", zap.Object("apiKey", c.Temporal.APIKey), zap.Stringer("sas", c.Vault.SAS),
		zap.Object("password", c.Agent.Instances[1].Password), zap.Reflect("reflect", c))
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range logs.All() {
		out, err := enc.EncodeEntry(e.Entry, e.Context)
		require.NoError(t, err)
		buf.Write(out.Bytes())
	}
	assertNoSecret(t, "zap", buf.String())
	assert.Contains(t, buf.String(), `"apiKey":{"value":"[redacted]"}`)
	assert.Contains(t, buf.String(), `"password":{"env":"TEST_SQL_PW"}`)

	// Errors name the reference, never a value.
	c.Agent.Instances[1].Password = Secret{Env: "TEST_SQL_PW_UNSET"}
	_, err = c.Agent.Instances[1].DSN()
	require.Error(t, err)
	assertNoSecret(t, "DSN error", err.Error())
	assert.Contains(t, err.Error(), "TEST_SQL_PW_UNSET")
	verr := c.Validate()
	require.Error(t, verr)
	assertNoSecret(t, "Validate", verr.Error())
}

func TestRedactedRoundTripsReferences(t *testing.T) {
	c, err := Load(writeFile(t, "c.yaml", fullYAML), envMap(), nil)
	require.NoError(t, err)
	again, err := Load(writeFile(t, "again.yaml", c.Redacted()), envMap(), nil)
	require.NoError(t, err, "config show output is itself a loadable config")
	assert.Equal(t, c, again)
}

func TestDSN(t *testing.T) {
	passwords := []string{
		"plain",
		`p@ss:w/rd?#%&=+; "'{}`,
		"%41%zz%",
		"пароль-密码-🔑",
		" leading and trailing ",
	}
	for _, pw := range passwords {
		t.Run(pw, func(t *testing.T) {
			t.Setenv("TEST_DSN_PW", pw)
			in := Instance{Name: `VM\INST`, Host: "sql.example", Port: 14330, User: `dom\us@r:1`,
				Password: Secret{Env: "TEST_DSN_PW"}, Encrypt: "disable"}
			dsn, err := in.DSN()
			require.NoError(t, err)

			p, err := msdsn.Parse(dsn)
			require.NoError(t, err)
			assert.Equal(t, pw, p.Password, "go-mssqldb reads back the exact password")
			assert.Equal(t, `dom\us@r:1`, p.User)
			assert.Equal(t, "sql.example", p.Host)
			assert.Equal(t, uint64(14330), p.Port)
			assert.Equal(t, "master", p.Database)
			assert.Equal(t, msdsn.Encryption(msdsn.EncryptionDisabled), p.Encryption)
			assert.Equal(t, "sqlvault", p.AppName)
		})
	}
}

func TestDSNEncryptSettings(t *testing.T) {
	t.Setenv("TEST_DSN_PW", "pw")
	for enc, want := range map[string]msdsn.Encryption{
		"true": msdsn.EncryptionRequired, "false": msdsn.EncryptionOff,
		"disable": msdsn.EncryptionDisabled, "strict": msdsn.EncryptionStrict,
		"": msdsn.EncryptionRequired, // the default
	} {
		in := Instance{Host: "h", User: "u", Password: Secret{Env: "TEST_DSN_PW"}, Encrypt: enc, TrustServerCertificate: true}
		dsn, err := in.DSN()
		require.NoError(t, err)
		assert.Contains(t, dsn, "TrustServerCertificate=true")
		assert.Contains(t, dsn, ":1433?", "default port")
		p, err := msdsn.Parse(dsn)
		require.NoError(t, err)
		assert.Equal(t, want, p.Encryption, "encrypt=%q", enc)
	}
}

func TestDSNFromConnectionString(t *testing.T) {
	t.Setenv("TEST_FULL_DSN", "server=h;user id=u;password=p;encrypt=strict")
	dsn, err := Instance{Name: "A", ConnectionString: Secret{Env: "TEST_FULL_DSN"}}.DSN()
	require.NoError(t, err)
	assert.Equal(t, "server=h;user id=u;password=p;encrypt=strict", dsn)

	_, err = Instance{Name: "A", ConnectionString: Secret{Env: "TEST_FULL_DSN_UNSET"}}.DSN()
	assert.EqualError(t, err, "instance A: dsn: secret not available: environment variable TEST_FULL_DSN_UNSET is unset or empty")
}
