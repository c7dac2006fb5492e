package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeExampleLoads keeps the README's configuration example true: it must decode
// strictly (no unknown or misspelt key) and mean what the README says.
func TestReadmeExampleLoads(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	text := string(readme)
	start := strings.Index(text, "```yaml\nrole:")
	require.GreaterOrEqual(t, start, 0, "the README has a YAML configuration example")
	body := text[start+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	path := filepath.Join(t.TempDir(), "example.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	cfg, err := Load(path, func(string) string { return "" }, nil)
	require.NoError(t, err)
	assert.Equal(t, RoleAgent, cfg.Role)
	assert.Equal(t, "sqlvault", cfg.Temporal.Namespace)
	assert.Equal(t, "TEMPORAL_API_KEY", cfg.Temporal.APIKey.Env)
	require.Len(t, cfg.Agent.Instances, 1)
	assert.Equal(t, "SQLVAULT_SQL_PASSWORD", cfg.Agent.Instances[0].Password.Env)
	assert.Equal(t, 4, cfg.Agent.MaxConcurrentBackups)
	assert.Equal(t, 2, cfg.Agent.BlocksInFlight)
	assert.Equal(t, 128, cfg.Agent.MemoryLimitMiB)
	assert.Equal(t, "sqlvault-agent.local", cfg.Agent.Endpoint.Host, "a DNS name without a port: what SQL Server accepts")
	assert.Equal(t, DefaultEndpointListen, cfg.Agent.Endpoint.Listen)
	assert.Equal(t, []string{"/var/backups/sqlvault"}, cfg.Agent.RestoreRoots, "the folder of the README's --as-files example")
	assert.Equal(t, "/opt/mssql/lib/libsqlvdi.so", cfg.Agent.VDILibrary)
	assert.Empty(t, cfg.Agent.Instances[0].DataPath, "the example leaves the data path to the default rule")
	assert.Equal(t, DefaultAgentMetricsListen, cfg.MetricsListen(), "the example writes out the agent's default")
}
