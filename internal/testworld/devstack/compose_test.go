package devstack

import (
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Hostname    string            `yaml:"hostname"`
		Command     []string          `yaml:"command"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Sysctls     map[string]string `yaml:"sysctls"`
		Networks    map[string]struct {
			Aliases []string `yaml:"aliases"`
		} `yaml:"networks"`
	} `yaml:"services"`
}

// No Docker engine runs here, so docker-compose.yml is never started by a test. These
// checks hold it to what the worker config and the product expect: a name or path that
// differs between the files would only show up as a failed backup in someone's Docker.
func TestComposeFileAgreesWithItsWorkerConfig(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var cf composeFile
	require.NoError(t, yaml.Unmarshal(raw, &cf))
	worker, ok := cf.Services["worker"]
	require.True(t, ok, "docker-compose.yml has a worker service")

	// The worker reads the committed config through SQLVAULT_CONFIG, from a bind mount.
	cfgPath := worker.Environment["SQLVAULT_CONFIG"]
	require.NotEmpty(t, cfgPath)
	assert.Contains(t, worker.Volumes, "./internal/testworld/devstack/compose/worker.yaml:"+cfgPath+":ro")

	// Strict decoding: a misspelt key in the committed file fails here.
	env := map[string]string{
		"SQLVAULT_VAULT_CONNECTION_STRING": worker.Environment["SQLVAULT_VAULT_CONNECTION_STRING"],
		"SQLVAULT_SQL_PASSWORD":            "unused",
	}
	cfg, err := config.Load(filepath.Join(root, "internal", "testworld", "devstack", "compose", "worker.yaml"), func(k string) string { return env[k] }, nil)
	require.NoError(t, err)

	// Everything else in the config is valid once the files the init step makes exist.
	for k, v := range env {
		t.Setenv(k, v)
	}
	stateMount := mountTarget(t, worker.Volumes, "sqlvault-state")
	dir := t.TempDir()
	relocated := *cfg
	for _, p := range []*string{&relocated.Key.File, &relocated.Agent.Endpoint.CertFile, &relocated.Agent.Endpoint.KeyFile} {
		require.True(t, strings.HasPrefix(*p, stateMount+"/"), "%s is in the sqlvault-state volume (%s)", *p, stateMount)
		local := filepath.Join(dir, filepath.Base(*p))
		require.NoError(t, os.WriteFile(local, []byte("x"), 0o600))
		*p = local
	}
	require.NoError(t, relocated.Validate())

	// The names the worker config uses are compose service names.
	for _, hostPort := range []string{cfg.Temporal.Address, cfg.Agent.Instances[0].Host + ":1433"} {
		host, _, _ := strings.Cut(hostPort, ":")
		assert.Contains(t, cf.Services, host, "%s is a compose service", hostPort)
	}
	assert.Contains(t, env["SQLVAULT_VAULT_CONNECTION_STRING"], "BlobEndpoint=http://azurite:10000/devstoreaccount1;")

	// SQL Server reaches the agent by the endpoint host, through a network alias, on port
	// 443 (its URLs carry no port), and trusts the CA the init step made for exactly that
	// host. The endpoint is not published to the Docker host.
	assert.Contains(t, worker.Networks["default"].Aliases, cfg.Agent.Endpoint.Host)
	_, port, err := net.SplitHostPort(cfg.Agent.Endpoint.Listen)
	require.NoError(t, err)
	assert.Equal(t, "443", port)
	assert.Empty(t, worker.Ports, "the endpoint is for SQL Server on the compose network only")
	assert.Equal(t, "0", worker.Sysctls["net.ipv4.ip_unprivileged_port_start"], "a non-root worker may bind 443")
	initCmd := strings.Join(cf.Services["init"].Command, " ")
	assert.Contains(t, initCmd, "sqlvault-worker cert generate --host "+cfg.Agent.Endpoint.Host+" --dir "+path.Dir(cfg.Agent.Endpoint.CertFile))
	assert.Contains(t, initCmd, "sqlvault-worker key generate --file "+cfg.Key.File)
	sql := cf.Services["sqlserver"]
	caDir := mountTarget(t, sql.Volumes, "sqlvault-ca")
	assert.Contains(t, strings.Join(sql.Entrypoint, " "), "cp "+caDir+"/sqlvault-endpoint-ca.crt /usr/local/share/ca-certificates/")
	assert.Contains(t, strings.Join(sql.Entrypoint, " "), "update-ca-certificates")
	assert.NotContains(t, strings.Join(sql.Volumes, " "), "sqlvault-state", "SQL Server must not see the vault key")

	// Backups of instance SQLVM1 are routed to VM SQLVM1's agent: @@SERVERNAME (the host
	// name), the instance name and the agent's VM agree.
	assert.Equal(t, cfg.Agent.VM, sql.Hostname)
	assert.Equal(t, sql.Hostname, cfg.Agent.Instances[0].Name)

	// The dev server registers every search attribute the starter sets.
	assertRegistersSearchAttributes(t, strings.Join(cf.Services["temporal"].Command, " "))
	assert.Equal(t, "temporalio/temporal:1.5.1", cf.Services["temporal"].Image, "the CLI version make tools builds")
}

func TestRunShRegistersEverySearchAttribute(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "internal", "testworld", "devstack", "run.sh"))
	require.NoError(t, err)
	assertRegistersSearchAttributes(t, string(b))
}

func assertRegistersSearchAttributes(t *testing.T, text string) {
	t.Helper()
	for _, name := range protocol.SearchAttributeNames {
		assert.Regexp(t, regexp.MustCompile(`--search-attribute"?,?\s*"?`+name+`=Keyword`), text)
	}
}

// mountTarget is where the named volume is mounted in a service.
func mountTarget(t *testing.T, volumes []string, name string) string {
	t.Helper()
	i := slices.IndexFunc(volumes, func(v string) bool { return strings.HasPrefix(v, name+":") })
	require.GreaterOrEqual(t, i, 0, "volume %s is mounted (volumes %v)", name, volumes)
	target, _, _ := strings.Cut(strings.TrimPrefix(volumes[i], name+":"), ":")
	return target
}
