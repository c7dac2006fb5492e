package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/buildinfo"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// The CLI's help offers the settings it uses, not the agent's or the worker's own.
func TestCLIHelpListsNoAgentSetting(t *testing.T) {
	out, err := runCLI(t, "--help")
	require.NoError(t, err)
	for _, agentOnly := range []string{"--role", "--endpoint-host", "--endpoint-listen", "--endpoint-cert-file", "--endpoint-key-file",
		"--max-concurrent-backups", "--blocks-in-flight", "--memory-limit-mib", "--log-format"} {
		assert.NotContains(t, out, agentOnly)
	}
	assert.NotRegexp(t, `(?m)^\s+--vm\b`, out, "--vm (the agent's VM) is not a global flag of the CLI")
	for _, used := range []string{"--temporal-address", "--namespace", "--temporal-tls ", "--temporal-api-key-env", "--vault-account-url", "--config", "--json"} {
		assert.Contains(t, out, used)
	}
	assert.NotContains(t, out, "--temporal-tls string", "a boolean setting is a boolean flag")
}

// A typed flag refuses a bad value before anything is contacted, naming the flag.
func TestCLITypedFlagRefusesBadValue(t *testing.T) {
	_, err := runCLI(t, "list", "--instance", "A", "--database", "B", "--temporal-tls=maybe")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `invalid argument "maybe" for "--temporal-tls" flag`)
	_, err = runCLI(t, "backup", "--instance", "A", "--database", "B", "--stripes", "four")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `invalid argument "four" for "--stripes" flag`)
}

func TestCLIVersion(t *testing.T) {
	out, err := runCLI(t, "version")
	require.NoError(t, err)
	assert.Regexp(t, `^sqlvault .* go1\.\S+\n$`, out)
	out, err = runCLI(t, "version", "--json")
	require.NoError(t, err)
	var i buildinfo.Info
	require.NoError(t, json.Unmarshal([]byte(out), &i), out)
	assert.Equal(t, "sqlvault", i.Binary)
	assert.Equal(t, "github.com/sqlvault/sqlvault", i.Module)
}
