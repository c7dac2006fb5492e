package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	// A fixed host name keeps the defaults deterministic.
	hostname = func() (string, error) { return "sqlvm1.corp.example", nil }
}

// envMap is a fake environment for Load.
func envMap(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func flagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	BindFlags(fs)
	require.NoError(t, fs.Parse(args))
	return fs
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load("", envMap(), nil)
	require.NoError(t, err)
	assert.Equal(t, RoleBoth, c.Role)
	assert.Equal(t, Temporal{Address: "127.0.0.1:7233", Namespace: "default", ControlTaskQueue: "sqlvault-control"}, c.Temporal)
	assert.Equal(t, "sqlvault", c.Vault.Container)
	assert.Equal(t, AuthDefault, c.Vault.Auth)
	assert.Equal(t, Secret{Env: "SQLVAULT_VAULT_SAS"}, c.Vault.SAS)
	assert.Equal(t, Secret{Env: "SQLVAULT_VAULT_KEY"}, c.Vault.SharedKey.Key)
	assert.Equal(t, Secret{Env: "SQLVAULT_VAULT_CONNECTION_STRING"}, c.Vault.ConnectionString)
	assert.Equal(t, "/etc/sqlvault/vault.key", c.Key.File)
	assert.Equal(t, "sqlvm1", c.Agent.VM, "short host name")
	assert.Equal(t, Endpoint{Host: "sqlvm1", Listen: "127.0.0.5:443"}, c.Agent.Endpoint)
	assert.Equal(t, 4, c.Agent.MaxConcurrentBackups)
	assert.Equal(t, 2, c.Agent.BlocksInFlight, "the measured default (BENCHMARKS.md)")
	assert.Equal(t, 128, c.Agent.MemoryLimitMiB)
	assert.Equal(t, Log{Level: "info", Format: "json"}, c.Log)
	assert.Equal(t, "sqlvault-agent-sqlvm1", c.AgentTaskQueue(""))
}

const fullYAML = `
role: agent
temporal:
  address: temporal.file:7233
  namespace: file-ns
  tls: { enabled: true, serverName: temporal.example }
  apiKey: { env: TEMPORAL_API_KEY }
  controlTaskQueue: file-control
vault:
  accountUrl: https://acct.blob.core.windows.net
  container: file-container
  auth: sharedKey
  sharedKey: { key: { file: /run/secrets/vault-key } }
  createContainer: true
key:
  file: /etc/sqlvault/file.key
agent:
  vm: FILEVM
  endpoint: { host: agent.file, listen: ":9443" }
  instances:
    - name: FILEVM\SQL2022
      host: 10.0.0.4
      user: sqlvault
      password: { env: SQLVAULT_SQL_PASSWORD }
    - name: FILEVM
      dsn: { file: /run/secrets/dsn }
  maxConcurrentBackups: 2
log: { level: debug, format: console }
`

func TestLoadFile(t *testing.T) {
	c, err := Load(writeFile(t, "c.yaml", fullYAML), envMap(), nil)
	require.NoError(t, err)
	assert.Equal(t, RoleAgent, c.Role)
	assert.Equal(t, Temporal{
		Address: "temporal.file:7233", Namespace: "file-ns",
		TLS:              TLS{Enabled: true, ServerName: "temporal.example"},
		APIKey:           Secret{Env: "TEMPORAL_API_KEY"},
		ControlTaskQueue: "file-control",
	}, c.Temporal)
	assert.Equal(t, "https://acct.blob.core.windows.net", c.Vault.AccountURL)
	assert.Equal(t, AuthSharedKey, c.Vault.Auth)
	assert.Equal(t, Secret{File: "/run/secrets/vault-key"}, c.Vault.SharedKey.Key, "file reference replaces the default env reference")
	assert.Equal(t, "acct", c.Vault.AccountName())
	assert.True(t, c.Vault.CreateContainer)
	assert.Equal(t, Endpoint{Host: "agent.file", Listen: ":9443"}, c.Agent.Endpoint)
	assert.Equal(t, []Instance{
		{Name: `FILEVM\SQL2022`, Host: "10.0.0.4", Port: 1433, User: "sqlvault", Password: Secret{Env: "SQLVAULT_SQL_PASSWORD"}, Encrypt: "true"},
		{Name: "FILEVM", ConnectionString: Secret{File: "/run/secrets/dsn"}},
	}, c.Agent.Instances, "host instances get port 1433 and encrypt=true; dsn instances are left alone")
	assert.Equal(t, 2, c.Agent.MaxConcurrentBackups)
	assert.Equal(t, Log{Level: "debug", Format: "console"}, c.Log)
	assert.Equal(t, "sqlvault-agent-filevm", c.AgentTaskQueue(""))
}

func TestLoadPrecedenceFlagsOverEnvOverFileOverDefaults(t *testing.T) {
	file := writeFile(t, "c.yaml", "temporal:\n  address: file:7233\n  namespace: file-ns\nvault:\n  container: file-c\nlog:\n  level: warn\n")
	env := envMap(
		"SQLVAULT_TEMPORAL_ADDRESS", "env:7233",
		"SQLVAULT_TEMPORAL_NAMESPACE", "env-ns",
		"SQLVAULT_AGENT_VM", "ENVVM",
	)
	fs := flagSet(t, "--temporal-address", "flag:7233", "--log-format", "console")

	c, err := Load(file, env, fs)
	require.NoError(t, err)
	assert.Equal(t, "flag:7233", c.Temporal.Address, "flag beats env and file")
	assert.Equal(t, "env-ns", c.Temporal.Namespace, "env beats file")
	assert.Equal(t, "file-c", c.Vault.Container, "file beats default")
	assert.Equal(t, "ENVVM", c.Agent.VM, "env beats default")
	assert.Equal(t, "warn", c.Log.Level, "a flag not given does not override the file")
	assert.Equal(t, "console", c.Log.Format, "flag beats default")
	assert.Equal(t, "sqlvault-control", c.Temporal.ControlTaskQueue, "default")
}

func TestLoadEveryOverride(t *testing.T) {
	kv := []string{}
	for _, o := range overrides {
		v := "x-" + strings.ToLower(o.env)
		switch o.env {
		case "SQLVAULT_TEMPORAL_TLS", "SQLVAULT_VAULT_CREATE_CONTAINER", "SQLVAULT_TEMPORAL_ALLOW_PLAINTEXT":
			v = "true"
		case "SQLVAULT_AGENT_MAX_CONCURRENT_BACKUPS":
			v = "7"
		case "SQLVAULT_AGENT_BLOCKS_IN_FLIGHT":
			v = "3"
		case "SQLVAULT_AGENT_MEMORY_LIMIT_MIB":
			v = "300"
		case "SQLVAULT_METRICS_CATALOG_REFRESH":
			v = "45s"
		case "SQLVAULT_WATCHDOG_INTERVAL":
			v = "7m"
		case "SQLVAULT_RETENTION_SOFT_DELETE_DAYS":
			v = "30"
		}
		kv = append(kv, o.env, v)
	}
	c, err := Load("", envMap(kv...), nil)
	require.NoError(t, err)
	assert.Equal(t, Role("x-sqlvault_role"), c.Role)
	assert.Equal(t, Temporal{
		Address:   "x-sqlvault_temporal_address",
		Namespace: "x-sqlvault_temporal_namespace",
		TLS: TLS{Enabled: true, CAFile: "x-sqlvault_temporal_tls_ca_file", CertFile: "x-sqlvault_temporal_tls_cert_file",
			KeyFile: "x-sqlvault_temporal_tls_key_file", ServerName: "x-sqlvault_temporal_tls_server_name"},
		// _FILE comes after _ENV in the table, and the last one set wins.
		APIKey:           Secret{File: "x-sqlvault_temporal_api_key_file"},
		ControlTaskQueue: "x-sqlvault_control_task_queue",
		AllowPlaintext:   true,
	}, c.Temporal)
	assert.Equal(t, "x-sqlvault_vault_account_url", c.Vault.AccountURL)
	assert.Equal(t, "x-sqlvault_vault_container", c.Vault.Container)
	assert.Equal(t, "x-sqlvault_vault_auth", c.Vault.Auth)
	assert.True(t, c.Vault.CreateContainer)
	assert.Equal(t, Key{File: "x-sqlvault_key_file", Provider: "x-sqlvault_key_provider",
		AzureKeyVault: AzureKeyVault{VaultURL: "x-sqlvault_key_vault_url", KeyName: "x-sqlvault_key_vault_key"}}, c.Key)
	assert.Equal(t, Agent{
		VM: "x-sqlvault_agent_vm",
		Endpoint: Endpoint{Host: "x-sqlvault_agent_endpoint_host", Listen: "x-sqlvault_agent_endpoint_listen",
			CertFile: "x-sqlvault_agent_endpoint_cert_file", KeyFile: "x-sqlvault_agent_endpoint_key_file"},
		MaxConcurrentBackups: 7,
		BlocksInFlight:       3,
		MemoryLimitMiB:       300,
		VDILibrary:           "x-sqlvault_agent_vdi_library",
		VaultAccess:          "x-sqlvault_agent_vault_access",
	}, c.Agent)
	assert.Equal(t, Metrics{Listen: "x-sqlvault_metrics_listen", CatalogRefresh: 45 * time.Second}, c.Metrics)
	assert.Equal(t, Watchdog{Interval: 7 * time.Minute, Webhook: Webhook{URL: "x-sqlvault_watchdog_webhook_url"}}, c.Watchdog)
	assert.Equal(t, Retention{SoftDeleteDays: 30}, c.Retention)
	assert.Equal(t, Log{Level: "x-sqlvault_log_level", Format: "x-sqlvault_log_format"}, c.Log)
}

func TestLoadEveryFlag(t *testing.T) {
	args := []string{}
	for _, o := range overrides {
		if o.flag == "" {
			continue
		}
		v := "f-" + o.flag
		switch o.flag {
		case "temporal-tls", "temporal-allow-plaintext":
			v = "true"
		case "max-concurrent-backups":
			v = "9"
		case "blocks-in-flight":
			v = "5"
		case "memory-limit-mib":
			v = "0"
		case "metrics-catalog-refresh":
			v = "10m"
		case "watchdog-interval":
			v = "90s"
		case "soft-delete-days":
			v = "21"
		}
		args = append(args, "--"+o.flag+"="+v)
	}
	c, err := Load("", envMap(), flagSet(t, args...))
	require.NoError(t, err)
	assert.Equal(t, Role("f-role"), c.Role)
	assert.Equal(t, "f-temporal-address", c.Temporal.Address)
	assert.Equal(t, "f-namespace", c.Temporal.Namespace)
	assert.True(t, c.Temporal.TLS.Enabled)
	assert.True(t, c.Temporal.AllowPlaintext)
	assert.Equal(t, "f-temporal-tls-server-name", c.Temporal.TLS.ServerName)
	assert.Equal(t, 21, c.Retention.SoftDeleteDays)
	assert.Equal(t, "f-control-task-queue", c.Temporal.ControlTaskQueue)
	assert.Equal(t, "f-vault-account-url", c.Vault.AccountURL)
	assert.Equal(t, "f-vault-container", c.Vault.Container)
	assert.Equal(t, "f-vault-auth", c.Vault.Auth)
	assert.Equal(t, Key{File: "f-key-file", Provider: "f-key-provider",
		AzureKeyVault: AzureKeyVault{VaultURL: "f-key-vault-url", KeyName: "f-key-vault-key"}}, c.Key)
	assert.Equal(t, "f-vm", c.Agent.VM)
	assert.Equal(t, "f-endpoint-host", c.Agent.Endpoint.Host)
	assert.Equal(t, 9, c.Agent.MaxConcurrentBackups)
	assert.Equal(t, 5, c.Agent.BlocksInFlight)
	assert.Equal(t, 0, c.Agent.MemoryLimitMiB)
	assert.Equal(t, Metrics{Listen: "f-metrics-listen", CatalogRefresh: 10 * time.Minute}, c.Metrics)
	assert.Equal(t, Watchdog{Interval: 90 * time.Second, Webhook: Webhook{URL: "f-watchdog-webhook-url"}}, c.Watchdog)
	assert.Equal(t, Log{Level: "f-log-level", Format: "f-log-format"}, c.Log)

	bare, err := Load("", envMap(), flagSet(t, "--temporal-tls"))
	require.NoError(t, err)
	assert.True(t, bare.Temporal.TLS.Enabled, "a bare --temporal-tls means true")
}

func TestLoadConfigPathFromFlagThenEnv(t *testing.T) {
	fromFlag := writeFile(t, "flag.yaml", "temporal: {namespace: from-flag}\n")
	fromEnv := writeFile(t, "env.yaml", "temporal: {namespace: from-env}\n")
	env := envMap("SQLVAULT_CONFIG", fromEnv)

	c, err := Load("", env, flagSet(t, "--config", fromFlag))
	require.NoError(t, err)
	assert.Equal(t, "from-flag", c.Temporal.Namespace)

	c, err = Load("", env, flagSet(t))
	require.NoError(t, err)
	assert.Equal(t, "from-env", c.Temporal.Namespace)

	c, err = Load("", env, nil)
	require.NoError(t, err)
	assert.Equal(t, "from-env", c.Temporal.Namespace)
}

func TestLoadEmptyFileIsDefaults(t *testing.T) {
	c, err := Load(writeFile(t, "empty.yaml", ""), envMap(), nil)
	require.NoError(t, err)
	assert.Equal(t, Default(), c)
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		want       []string
	}{
		{"unknown top-level key", "rol: agent\n", nil, []string{"line 1", "field rol not found"}},
		{"unknown nested key", "temporal:\n  adress: x:1\n", nil, []string{"line 2", "field adress not found"}},
		{"unknown instance key", "agent:\n  instances:\n    - name: A\n      pasword: {env: X}\n", nil, []string{"line 4", "field pasword not found"}},
		{"unknown secret key", "vault:\n  sas: {envv: X}\n", nil, []string{"line 2", "field envv not allowed in a secret reference"}},
		{"plain-string secret", "vault:\n  sas: sv=2020&sig=abc\n", nil, []string{"line 2", "a secret must be a reference"}},
		{"wrong type", "agent:\n  maxConcurrentBackups: many\n", nil, []string{"line 2", "cannot unmarshal"}},
		{"duplicate key", "role: agent\nrole: control\n", nil, []string{`"role" already defined`}},
		{"bad bool env", "", []string{"SQLVAULT_TEMPORAL_TLS", "yes please"}, []string{`SQLVAULT_TEMPORAL_TLS="yes please": not true or false`}},
		{"bad int env", "", []string{"SQLVAULT_AGENT_MAX_CONCURRENT_BACKUPS", "four"}, []string{`SQLVAULT_AGENT_MAX_CONCURRENT_BACKUPS="four": not a whole number`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "c.yaml", tc.yaml)
			_, err := Load(path, envMap(tc.env...), nil)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}

	_, err := Load("", envMap(), flagSet(t, "--max-concurrent-backups", "x"))
	assert.EqualError(t, err, `flag --max-concurrent-backups="x": not a whole number`)

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), envMap(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.yaml: no such file")
}

func TestAgentTaskQueueIsCaseInsensitive(t *testing.T) {
	c := Default()
	assert.Equal(t, "sqlvault-agent-sqlvm1", c.AgentTaskQueue("SQLVM1"))
	assert.Equal(t, "sqlvault-agent-sqlvm1", c.AgentTaskQueue("sqlvm1"))
	assert.Equal(t, "sqlvault-agent-sqlvm2", c.AgentTaskQueue("SqlVm2"))
}

func TestAccountName(t *testing.T) {
	for url, want := range map[string]string{
		"https://acct.blob.core.windows.net":             "acct",
		"https://acct.blob.core.windows.net/":            "acct",
		"http://127.0.0.1:10000/devstoreaccount1":        "devstoreaccount1",
		"http://azurite:10000/devstoreaccount1/":         "devstoreaccount1",
		"http://127.0.0.1:10000":                         "",
		"not a url":                                      "",
		"https://acct.privatelink.blob.core.windows.net": "acct",
	} {
		assert.Equal(t, want, Vault{AccountURL: url}.AccountName(), url)
	}
	assert.Equal(t, "explicit", Vault{AccountURL: "https://acct.blob.core.windows.net", SharedKey: SharedKey{Account: "explicit"}}.AccountName())
}

func TestWarningsForInlineSecrets(t *testing.T) {
	c := Default()
	c.Temporal.APIKey = Secret{Value: "k"}
	c.Agent.Instances = []Instance{{Name: "A", Password: Secret{Value: "p"}}, {Name: "B", Password: Secret{Env: "P"}}}
	assert.Equal(t, []string{
		"temporal.apiKey: the secret is written in the config file (value:); use env: or file: so the file can be shared",
		"agent.instances[0].password: the secret is written in the config file (value:); use env: or file: so the file can be shared",
	}, c.Warnings())
	assert.Empty(t, Default().Warnings())
}

func TestDocListsEveryOverride(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	fs := flagSet(t)
	for _, o := range overrides {
		assert.Contains(t, string(doc), o.env, "doc.go table")
		if o.flag != "" {
			assert.Contains(t, string(doc), "--"+o.flag, "doc.go table")
			assert.NotNil(t, fs.Lookup(o.flag), "BindFlags defines --%s", o.flag)
		}
	}
	assert.NotNil(t, fs.Lookup("config"))
}

// The soft memory limit applies to agent-only processes, and GOMEMLIMIT wins.
func TestAgentMemoryLimit(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c := Default()
	c.Role = RoleAgent
	assert.Equal(t, 128, c.AgentMemoryLimitMiB(env()))
	assert.Zero(t, c.AgentMemoryLimitMiB(env("GOMEMLIMIT", "off")), "the environment wins")
	c.Agent.MemoryLimitMiB = 0
	assert.Zero(t, c.AgentMemoryLimitMiB(env()), "0 turns it off")
	c.Agent.MemoryLimitMiB = 256
	for _, r := range []Role{RoleControl, RoleBoth} {
		c.Role = r
		assert.Zero(t, c.AgentMemoryLimitMiB(env()), "role %s", r)
	}
	c.Role = RoleAgent
	c.Agent.MemoryLimitMiB = 10
	assert.Contains(t, errorLines(c.Validate()), "agent.memoryLimitMiB: must be 0 (no limit) or at least 64 (got 10): below that the collector would run all the time")
}

// The streaming knobs refuse values outside what was measured, by name, with the bound.
func TestAgentStreamingKnobsAreBounded(t *testing.T) {
	c := Default()
	c.Role = RoleAgent
	c.Agent.BlocksInFlight = MaxBlocksInFlight + 1
	c.Agent.MemoryLimitMiB = 0 // no limit is allowed
	lines := errorLines(c.Validate())
	assert.Contains(t, lines, "agent.blocksInFlight: must be 1 to 16 (got 17); each block in flight costs about 8 MiB of memory per stripe")
	for _, l := range lines {
		assert.NotContains(t, l, "memoryLimitMiB", "0 turns the limit off")
	}
	c.Agent.BlocksInFlight = MaxBlocksInFlight
	c.Agent.MemoryLimitMiB = MinAgentMemoryLimitMiB
	for _, l := range errorLines(c.Validate()) {
		assert.NotContains(t, l, "blocksInFlight")
		assert.NotContains(t, l, "memoryLimitMiB")
	}
}
