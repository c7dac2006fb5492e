package acceptance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// No Docker engine runs here, so docker-compose.yml's acceptance profile is never started
// by a test. This holds it to what the rest of the file sets up: SQL Server trusts the CA
// the init step made for the worker's endpoint host, so the suite's endpoint must answer to
// that host with that certificate, and every address must be a compose service.
func TestComposeAcceptanceProfileAgreesWithTheStack(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	type service struct {
		Image       string            `yaml:"image"`
		Profiles    []string          `yaml:"profiles"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Networks    map[string]struct {
			Aliases []string `yaml:"aliases"`
		} `yaml:"networks"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	}
	var cf struct {
		Services map[string]service `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cf))
	acc, ok := cf.Services["acceptance"]
	require.True(t, ok, "docker-compose.yml has an acceptance service")
	assert.Equal(t, []string{"acceptance"}, acc.Profiles, "only started when asked for")
	assert.Equal(t, "mcr.microsoft.com/mssql/server:2022-latest", cf.Services["sqlserver"].Image, "it tests SQL Server 2022")
	assert.Contains(t, strings.Join(acc.Command, " "), "go test")
	assert.Contains(t, strings.Join(acc.Command, " "), "-run TestAcceptance ./internal/testworld/acceptance/")

	// The worker's committed config names the endpoint host and certificate SQL Server trusts.
	worker := cf.Services["worker"]
	cfgPath := filepath.Join(root, "internal", "testworld", "devstack", "compose", "worker.yaml")
	cfg, err := config.Load(cfgPath, func(string) string { return "" }, nil)
	require.NoError(t, err)
	env := acc.Environment
	assert.Equal(t, cfg.Agent.Endpoint.Host, env[envEndpointHost])
	assert.Contains(t, acc.Networks["default"].Aliases, env[envEndpointHost], "SQL Server resolves the endpoint host to this container")
	assert.Equal(t, cfg.Agent.Endpoint.CertFile, env[envEndpointCert])
	assert.Equal(t, cfg.Agent.Endpoint.KeyFile, env[envEndpointKey])
	stateMount := ""
	for _, v := range worker.Volumes {
		if name, rest, ok := strings.Cut(v, ":"); ok && name == "sqlvault-state" {
			stateMount, _, _ = strings.Cut(rest, ":")
		}
	}
	require.NotEmpty(t, stateMount)
	assert.Contains(t, acc.Volumes, "sqlvault-state:"+stateMount+":ro", "the certificate is read from the init step's volume")
	assert.True(t, strings.HasPrefix(env[envEndpointCert], stateMount+"/"))

	// Addresses are compose services; the vault is the stack's Azurite.
	host, _, _ := strings.Cut(env[envTemporal], ":")
	assert.Contains(t, cf.Services, host)
	assert.Contains(t, env[envDSN], "server=sqlserver;")
	assert.Equal(t, worker.Environment["SQLVAULT_VAULT_CONNECTION_STRING"], env[envVaultConnection])
	assert.NotEqual(t, cfg.Agent.VM, env[envVM], "its own agent task queue, never the stack worker's")
	for _, dep := range []string{"init", "temporal", "azurite", "sqlserver"} {
		assert.Contains(t, acc.DependsOn, dep)
	}
	assert.Equal(t, "service_healthy", acc.DependsOn["sqlserver"].Condition)
}
