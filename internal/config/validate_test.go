package config

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validAgent returns a configuration that passes Validate, with real files on disk.
func validAgent(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "vault.key")
	require.NoError(t, os.WriteFile(key, []byte("k"), 0o600))
	t.Setenv("TEST_SQL_PASSWORD", "pw")
	c := Default()
	c.Vault.AccountURL = "http://127.0.0.1:10000/devstoreaccount1"
	c.Key.File = key
	c.Agent.Instances = []Instance{{Name: "SQLVM1", Host: "127.0.0.1", Port: 14330, User: "sa",
		Password: Secret{Env: "TEST_SQL_PASSWORD"}, Encrypt: "disable"}}
	return c
}

func TestValidateAcceptsGoodConfigs(t *testing.T) {
	c := validAgent(t)
	assert.NoError(t, c.Validate())

	c.Role = RoleControl
	c.Agent = Agent{} // a control worker needs no agent section
	assert.NoError(t, c.Validate())
	// but the vault key: it authenticates the manifests it commits and reads
	c.Key.File = ""
	assert.Equal(t, []string{`key.file: set the vault key file (--key-file or SQLVAULT_KEY_FILE): the agent seals backups with it and the control worker authenticates the vault's manifests with it`},
		errorLines(c.Validate()))

	t.Setenv("TEST_DSN", "sqlserver://sa:pw@h:1")
	c = validAgent(t)
	c.Agent.Instances = []Instance{{Name: "SQLVM1", ConnectionString: Secret{Env: "TEST_DSN"}}}
	c.Vault = Vault{Container: "sqlvault", Auth: AuthConnectionString, ConnectionString: Secret{Env: "TEST_DSN"}}
	assert.NoError(t, c.Validate(), "a connection string needs no account URL")
}

// errorLines splits a joined error into its messages.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	missing := filepath.Join(dir, "missing")
	t.Setenv("TEST_UNSET", "")

	c := &Config{
		Role: "agnet",
		Temporal: Temporal{
			Address: "localhost", // no port
			TLS:     TLS{CertFile: missing},
			APIKey:  Secret{Env: "TEST_UNSET"},
		},
		Vault: Vault{
			AccountURL: "ftp://acct",
			Container:  "Bad_Name",
			Auth:       AuthSAS,
			SAS:        Secret{File: empty},
		},
		Agent: Agent{
			Endpoint:             Endpoint{Listen: "8443", KeyFile: missing},
			MaxConcurrentBackups: 0,
			Instances: []Instance{
				{Name: "SQLVM1", Port: 70000, Password: Secret{Env: "TEST_UNSET"}, Encrypt: "yes"},
				{Name: "sqlvm1", Host: "h", User: "u", ConnectionString: Secret{File: missing}},
				{Port: 1433, User: "u", Password: Secret{Env: "A", File: "B"}, Encrypt: "strict", Host: "h"},
				{Name: "X", Host: "h", Port: 1, User: "u", Encrypt: "true"},
			},
		},
		Log: Log{Level: "verbose", Format: "text"},
	}
	// An unknown role runs no agent, so the agent section is checked in a second pass.
	got := errorLines(c.Validate())
	assert.Equal(t, []string{
		`role: "agnet" is not a role; use control, agent or both (--role or SQLVAULT_ROLE)`,
		`temporal.address: "localhost" is not host:port (for example 127.0.0.1:7233)`,
		`temporal.namespace: set the Temporal namespace (--namespace or SQLVAULT_TEMPORAL_NAMESPACE)`,
		`temporal.controlTaskQueue: set the control task queue (default sqlvault-control)`,
		`temporal.tls: certFile and keyFile go together: set both for mutual TLS, or neither`,
		`temporal.tls.certFile: cannot read ` + missing + `: no such file or directory; fix the path or create the file`,
		`temporal.apiKey: set the environment variable TEST_UNSET or use file:`,
		`vault.accountUrl: "ftp://acct" is not an http(s) URL; use https://<account>.blob.core.windows.net or the Azurite URL`,
		`vault.sas: secret file ` + empty + ` is empty; write the secret into it or use env:`,
		`vault.container: "Bad_Name" is not a valid container name: use 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit`,
		`log.level: "verbose" is not a level; use debug, info, warn or error`,
		`log.format: "text" is not a format; use json or console`,
	}, got)

	c.Role = RoleAgent
	got = errorLines(c.Validate())
	assert.Subset(t, got, []string{
		`key.file: set the vault key file (--key-file or SQLVAULT_KEY_FILE): the agent seals backups with it and the control worker authenticates the vault's manifests with it`,
		`agent.vm: cannot tell this host's name; set agent.vm, --vm or SQLVAULT_AGENT_VM`,
		`agent.maxConcurrentBackups: must be at least 1 (got 0)`,
		`agent.blocksInFlight: must be 1 to 16 (got 0); each block in flight costs about 8 MiB of memory per stripe`,
		`agent.endpoint.host: set the DNS name SQL Server uses to reach this agent (it must match the endpoint certificate), e.g. sqlvault-agent.local`,
		`agent.endpoint.listen: "8443" is not ip:port (for example 127.0.0.5:443, a loopback address of the agent's own on the only port SQL Server accepts)`,
		`agent.endpoint: certFile and keyFile go together: set both, or neither`,
		`agent.endpoint.keyFile: cannot read ` + missing + `: no such file or directory; fix the path or create the file`,
		`agent.instances[0].host: set the SQL Server host (or give a full connection string with dsn:)`,
		`agent.instances[0].port: 70000 is not a TCP port`,
		`agent.instances[0].user: set the SQL login sqlvault connects as`,
		`agent.instances[0].password: set the environment variable TEST_UNSET or use file:`,
		`agent.instances[0].encrypt: "yes" is not a go-mssqldb encrypt setting; use true, false, disable or strict`,
		`agent.instances[1].name: "sqlvm1" is already agent.instances[0]; list each instance once`,
		`agent.instances[1]: use either dsn or host/user/password, not both`,
		`agent.instances[1].dsn: cannot read secret file ` + missing + `: no such file or directory; create it or use env:`,
		`agent.instances[2].name: set the instance name as SQL Server reports it in @@SERVERNAME ("VM" or "VM\INSTANCE")`,
		`agent.instances[2].password: set only one of env, file or value`,
		`agent.instances[3].password: not set; use {env: NAME} or {file: PATH}`,
	})
	assert.Len(t, got, 12-1+19, "role error gone, agent errors added")

	c.Agent.Instances = nil
	assert.Contains(t, errorLines(c.Validate()),
		`agent.instances: list the SQL Server instances this agent backs up (name, host, port, user, password)`)
}

func TestValidateVaultAuthModes(t *testing.T) {
	t.Setenv("TEST_UNSET", "")
	key := validAgent(t).Key.File // a readable key file: only the vault section is under test
	cases := []struct {
		name  string
		vault Vault
		want  []string
	}{
		{"unknown auth", Vault{AccountURL: "https://a.blob.core.windows.net", Container: "c01", Auth: "token"},
			[]string{`vault.auth: "token" is not an auth mode; use default, sas, sharedKey or connectionString`}},
		{"missing account URL", Vault{Container: "c01", Auth: AuthDefault},
			[]string{`vault.accountUrl: set the storage account URL, e.g. https://<account>.blob.core.windows.net (--vault-account-url or SQLVAULT_VAULT_ACCOUNT_URL)`}},
		{"SAS pasted into the URL", Vault{AccountURL: "https://a.blob.core.windows.net/?sv=1&sig=x", Container: "c01", Auth: AuthDefault},
			[]string{`vault.accountUrl: remove the query string; give a SAS token with vault.auth: sas and vault.sas`}},
		{"shared key without account", Vault{AccountURL: "http://127.0.0.1:10000", Container: "c01", Auth: AuthSharedKey, SharedKey: SharedKey{Key: Secret{Env: "TEST_UNSET"}}},
			[]string{
				`vault.sharedKey.account: set the storage account name (it cannot be read from accountUrl "http://127.0.0.1:10000")`,
				`vault.sharedKey.key: set the environment variable TEST_UNSET or use file:`,
			}},
		{"connection string unset", Vault{Container: "c01", Auth: AuthConnectionString, ConnectionString: Secret{Env: "TEST_UNSET"}},
			[]string{`vault.connectionString: set the environment variable TEST_UNSET or use file:`}},
		{"container too short", Vault{AccountURL: "https://a.blob.core.windows.net", Container: "ab", Auth: AuthDefault},
			[]string{`vault.container: "ab" is not a valid container name: use 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit`}},
		{"container double hyphen", Vault{AccountURL: "https://a.blob.core.windows.net", Container: "a--b", Auth: AuthDefault},
			[]string{`vault.container: "a--b" is not a valid container name: use 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit`}},
		{"container missing", Vault{AccountURL: "https://a.blob.core.windows.net", Auth: AuthDefault},
			[]string{`vault.container: set the vault container name (--vault-container or SQLVAULT_VAULT_CONTAINER)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Role = RoleControl
			c.Vault = tc.vault
			c.Key.File = key
			assert.Equal(t, tc.want, errorLines(c.Validate()))
		})
	}
}

// Each endpoint host that would give SQL Server a backup URL it refuses (a port, an IP
// address, http) is refused by name, saying what to set instead.
func TestValidateRefusesEndpointHostsSQLServerRefuses(t *testing.T) {
	for host, want := range map[string]string{
		"sqlvault-agent.local:8443":          `agent.endpoint.host: "sqlvault-agent.local:8443" has a port, and SQL Server refuses a backup URL with a port (it connects to 443 only): set agent.endpoint.host to "sqlvault-agent.local", and the address the agent binds in agent.endpoint.listen (default 127.0.0.5:443; port 8443 there works only behind a port forward)`,
		"sqlvault-agent.local:443":           `agent.endpoint.host: "sqlvault-agent.local:443" has a port`,
		"10.0.0.5":                           `agent.endpoint.host: "10.0.0.5" is an IP address, and SQL Server refuses a backup URL whose host is not a DNS name: set a name (e.g. sqlvault-agent.local) and map it to the agent's listen address in the SQL Server host's hosts file`,
		"127.0.0.5":                          `agent.endpoint.host: "127.0.0.5" is an IP address`,
		"::1":                                `agent.endpoint.host: "::1" is an IP address`,
		"[::1]":                              `agent.endpoint.host: "[::1]" is an IP address`,
		"http://sqlvault-agent.local":        `agent.endpoint.host: "http://sqlvault-agent.local" is a URL: set the host name alone (sqlvault-agent.local); the agent always gives SQL Server https://<host>/… (SQL Server refuses http)`,
		"https://sqlvault-agent.local:8443/": `agent.endpoint.host: "https://sqlvault-agent.local:8443/" is a URL: set the host name alone (sqlvault-agent.local);`,
		"agent_1.corp":                       `agent.endpoint.host: "agent_1.corp" is not a DNS name`,
	} {
		c := validAgent(t)
		c.Agent.Endpoint.Host = host
		lines := errorLines(c.Validate())
		require.Len(t, lines, 1, host)
		assert.True(t, strings.HasPrefix(lines[0], want), "%s:\n got %s\nwant %s…", host, lines[0], want)
	}
}

func TestValidateEndpointListen(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.5":   `agent.endpoint.listen: "127.0.0.5" is not ip:port (for example 127.0.0.5:443, a loopback address of the agent's own on the only port SQL Server accepts)`,
		"127.0.0.5:0": `agent.endpoint.listen: "127.0.0.5:0": port 0 picks a random port, which SQL Server cannot find; SQL Server connects to port 443 only (for example 127.0.0.5:443)`,
		"127.0.0.5:x": `agent.endpoint.listen: "127.0.0.5:x": the port must be a number (443)`,
	} {
		c := validAgent(t)
		c.Agent.Endpoint.Listen = listen
		assert.Equal(t, []string{want}, errorLines(c.Validate())[:1], listen)
	}
	// The port is not part of the URL: another port (behind a forward), or every
	// interface (a container), is the operator's choice.
	for _, listen := range []string{"127.0.0.5:443", "127.0.0.6:443", ":443", "0.0.0.0:443", "127.0.0.5:8443"} {
		c := validAgent(t)
		c.Agent.Endpoint.Listen = listen
		assert.NoError(t, c.Validate(), listen)
	}
}

// The default configuration gives SQL Server a URL without a port, served on port 443 of a
// loopback address of the endpoint's own, not on every interface.
func TestDefaultEndpointIsLoopback443WithPortlessURL(t *testing.T) {
	c := Default()
	ip, port, err := net.SplitHostPort(c.Agent.Endpoint.Listen)
	require.NoError(t, err)
	assert.Equal(t, "443", port)
	assert.True(t, net.ParseIP(ip).IsLoopback(), "loopback by default, not all interfaces")
	assert.NotEqual(t, "127.0.0.1", ip, "an address of its own")
	assert.NotContains(t, c.Agent.Endpoint.Host, ":", "the URL's host has no port")
	assert.Nil(t, net.ParseIP(c.Agent.Endpoint.Host), "the URL's host is a name")
}

func TestIntegratedAuthOnlyOnWindows(t *testing.T) {
	in := Instance{Name: "SQLVM1", Host: "localhost", Port: 1433, Encrypt: "true"}
	c := Default()
	c.Role = RoleAgent
	c.Agent.Instances = []Instance{in}
	old := integratedAuthOS
	defer func() { integratedAuthOS = old }()

	integratedAuthOS = false
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "agent.instances[0].user") || !strings.Contains(err.Error(), "only when the agent runs on Windows") {
		t.Fatalf("Linux: err = %v", err)
	}
	integratedAuthOS = true
	if err := c.Validate(); err != nil && strings.Contains(err.Error(), "agent.instances[0].user") {
		t.Fatalf("Windows: %v", err)
	}
	dsn, err := in.DSN()
	if err != nil || strings.Contains(dsn, "@") {
		t.Fatalf("DSN %q (%v) carries credentials", dsn, err)
	}
	// A password without a user is a mistake on every platform.
	c.Agent.Instances[0].Password = Secret{Value: "pw"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "agent.instances[0].user") {
		t.Fatalf("password without user: %v", err)
	}
}

// The key settings are checked per provider: the file provider needs its key file; Key
// Vault needs an https vault URL and a key name, and then no key file (the keyring holds
// the data keys).
func TestValidateKeyProviders(t *testing.T) {
	c := validAgent(t)
	c.Key = Key{Provider: KeyProviderAzureKeyVault, File: filepath.Join(t.TempDir(), "absent.key"),
		AzureKeyVault: AzureKeyVault{VaultURL: "https://myvault.vault.azure.net/", KeyName: "sqlvault-kek"}}
	assert.NoError(t, c.Validate(), "with Key Vault a missing key file is fine")

	c.Key.AzureKeyVault = AzureKeyVault{VaultURL: "http://myvault.vault.azure.net/"}
	lines := errorLines(c.Validate())
	require.Len(t, lines, 2, lines)
	assert.Contains(t, lines[0], "key.azureKeyVault.vaultUrl: must be the Key Vault's https URL")
	assert.Contains(t, lines[1], "key.azureKeyVault.keyName: name the Key Vault key")

	c = validAgent(t)
	c.Key.AzureKeyVault = AzureKeyVault{VaultURL: "https://myvault.vault.azure.net/", KeyName: "k"}
	assert.ErrorContains(t, c.Validate(), "key.azureKeyVault: is set, but key.provider is file")
	c.Key = Key{Provider: "hsm", File: c.Key.File}
	assert.ErrorContains(t, c.Validate(), `key.provider: unknown provider "hsm"`)
	c.Key = Key{}
	assert.ErrorContains(t, c.Validate(), "key.file: set the vault key file")
}

// An agent in grant mode needs no vault credential, and the mode is checked by name.
func TestAgentGrantModeNeedsNoVaultCredential(t *testing.T) {
	c := validAgent(t)
	c.Role = RoleAgent
	c.Vault.Auth, c.Vault.AccountURL = AuthSharedKey, ""
	require.Error(t, c.Validate(), "credential mode: the vault section is checked")
	c.Agent.VaultAccess = VaultAccessGrant
	require.NoError(t, c.Validate())
	assert.True(t, c.AgentGrantOnly())
	c.Agent.VaultAccess = "sas"
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent.vaultAccess")
	assert.Contains(t, err.Error(), "use credential")
}
