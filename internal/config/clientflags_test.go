package config

import (
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func clientFlagSet(t *testing.T) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("sqlvault", pflag.ContinueOnError)
	BindClientFlags(fs)
	return fs
}

// The CLI binds what it uses and nothing of the agent's or the worker's own.
func TestBindClientFlagsOnlyWhatTheCLIUses(t *testing.T) {
	fs := clientFlagSet(t)
	for _, name := range []string{"role", "vm", "endpoint-host", "endpoint-listen", "endpoint-cert-file", "endpoint-key-file",
		"max-concurrent-backups", "blocks-in-flight", "memory-limit-mib", "vdi-library", "log-format"} {
		assert.Nil(t, fs.Lookup(name), "--%s is not the CLI's", name)
	}
	for _, name := range append(clientFlagNames, "config", "temporal-api-key-env", "temporal-api-key-file") {
		assert.NotNil(t, fs.Lookup(name), "--%s", name)
	}
	assert.Equal(t, "bool", fs.Lookup("temporal-tls").Value.Type())
	assert.Equal(t, "bool", fs.Lookup("temporal-allow-plaintext").Value.Type())
	// The worker's binding is unchanged: no API key flag there.
	assert.Nil(t, flagSet(t).Lookup("temporal-api-key-env"))
}

// Typed flags reach Load like the worker's string flags, and the API key flags set a reference.
func TestClientFlagsLoad(t *testing.T) {
	fs := clientFlagSet(t)
	require.NoError(t, fs.Parse([]string{"--temporal-tls", "--temporal-address", "temporal.example:7233",
		"--temporal-api-key-env", "MY_TEMPORAL_KEY", "--vault-container", "c2"}))
	c, err := Load("", envMap("SQLVAULT_TEMPORAL_ALLOW_PLAINTEXT", "true"), fs)
	require.NoError(t, err)
	assert.True(t, c.Temporal.TLS.Enabled)
	assert.True(t, c.Temporal.AllowPlaintext, "an unset boolean flag leaves the environment's value")
	assert.Equal(t, "temporal.example:7233", c.Temporal.Address)
	assert.Equal(t, Secret{Env: "MY_TEMPORAL_KEY"}, c.Temporal.APIKey)
	assert.Equal(t, "c2", c.Vault.Container)

	fs = clientFlagSet(t)
	require.NoError(t, fs.Parse([]string{"--temporal-tls=false", "--temporal-api-key-file", "/run/secrets/tk"}))
	c, err = Load("", envMap("SQLVAULT_TEMPORAL_TLS", "true"), fs)
	require.NoError(t, err)
	assert.False(t, c.Temporal.TLS.Enabled, "an explicit false flag wins over the environment")
	assert.Equal(t, Secret{File: "/run/secrets/tk"}, c.Temporal.APIKey)
}

func TestClientBoolFlagRefusesBadValue(t *testing.T) {
	err := clientFlagSet(t).Parse([]string{"--temporal-tls=maybe"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `invalid argument "maybe" for "--temporal-tls"`)
}
