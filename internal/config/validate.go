package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/sqlvault/sqlvault/internal/dnsname"
	"github.com/sqlvault/sqlvault/internal/pathpolicy"
)

// Validate checks the whole configuration and returns every problem at once (errors.Join),
// each as "<yaml path>: <what is wrong and what to do>". Sections a role does not use are
// not checked (a control worker needs no SQL Server instances). Secrets are checked to be
// resolvable — the variable is set, the file is readable — but their values are not kept.
func (c *Config) Validate() error {
	var v validator
	switch c.Role {
	case RoleControl, RoleAgent, RoleBoth:
	default:
		v.addf("role", "%q is not a role; use control, agent or both (--role or SQLVAULT_ROLE)", c.Role)
	}
	c.validateTemporal(&v)
	// An agent-only worker in grant mode never opens the vault with a credential of its
	// own (the worker does not read the vault section's secrets), so there is nothing to check.
	if c.Role != RoleAgent || !c.AgentGrantOnly() {
		c.validateVault(&v)
	}
	// Both roles hold the vault's keys: the agent seals and opens blocks with them, the
	// control authenticates the manifests it commits and the ones retention and planning read.
	if c.Role.RunsAgent() || c.Role.RunsControl() {
		c.validateKey(&v)
	}
	if c.Role.RunsAgent() {
		c.validateAgent(&v)
	}
	c.validateMetrics(&v)
	c.validateWatchdog(&v)
	if c.Role.RunsControl() {
		c.validateRetention(&v)
	}
	c.validateDrillPlanner(&v)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.addf("log.level", "%q is not a level; use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		v.addf("log.format", "%q is not a format; use json or console", c.Log.Format)
	}
	return errors.Join(v.errs...)
}

func (c *Config) validateTemporal(v *validator) {
	t := c.Temporal
	if t.Address == "" {
		v.addf("temporal.address", "set the Temporal frontend host:port (--temporal-address or SQLVAULT_TEMPORAL_ADDRESS)")
	} else if _, _, err := net.SplitHostPort(t.Address); err != nil {
		v.addf("temporal.address", "%q is not host:port (for example 127.0.0.1:7233)", t.Address)
	}
	if t.Address != "" && !t.TLS.InUse() && t.APIKey.IsZero() && !t.AllowPlaintext && !loopbackHostPort(t.Address) {
		v.addf("temporal.address", "%q is not on this machine and TLS is off: workflow inputs, results and the control plane would cross the network in clear; enable TLS (temporal.tls.enabled: true, with caFile for a private CA), or for a lab set temporal.allowPlaintext: true (--temporal-allow-plaintext)", t.Address)
	}
	if t.Namespace == "" {
		v.addf("temporal.namespace", "set the Temporal namespace (--namespace or SQLVAULT_TEMPORAL_NAMESPACE)")
	}
	if t.ControlTaskQueue == "" {
		v.addf("temporal.controlTaskQueue", "set the control task queue (default %s)", DefaultControlTaskQueue)
	}
	if (t.TLS.CertFile == "") != (t.TLS.KeyFile == "") {
		v.addf("temporal.tls", "certFile and keyFile go together: set both for mutual TLS, or neither")
	}
	v.file("temporal.tls.caFile", t.TLS.CAFile)
	v.file("temporal.tls.certFile", t.TLS.CertFile)
	v.file("temporal.tls.keyFile", t.TLS.KeyFile)
	if problem := PrivateKeyFileProblem(t.TLS.KeyFile); problem != "" {
		v.addf("temporal.tls.keyFile", "%s", problem)
	}
	if !t.APIKey.IsZero() {
		v.secret("temporal.apiKey", t.APIKey)
	}
}

func (c *Config) validateVault(v *validator) {
	vt := c.Vault
	switch vt.Auth {
	case AuthDefault, AuthSAS, AuthSharedKey:
		// The account URL is the endpoint; only a connection string carries its own.
		validateAccountURL(v, vt.AccountURL)
	case AuthConnectionString:
		if vt.AccountURL != "" {
			validateAccountURL(v, vt.AccountURL)
		}
	default:
		v.addf("vault.auth", "%q is not an auth mode; use default, sas, sharedKey or connectionString", vt.Auth)
	}
	switch vt.Auth {
	case AuthSAS:
		v.secret("vault.sas", vt.SAS)
	case AuthSharedKey:
		if vt.AccountName() == "" {
			v.addf("vault.sharedKey.account", "set the storage account name (it cannot be read from accountUrl %q)", vt.AccountURL)
		}
		v.secret("vault.sharedKey.key", vt.SharedKey.Key)
	case AuthConnectionString:
		v.secret("vault.connectionString", vt.ConnectionString)
	}
	if msg := containerNameProblem(vt.Container); msg != "" {
		v.addf("vault.container", "%s", msg)
	}
}

func validateAccountURL(v *validator, s string) {
	if s == "" {
		v.addf("vault.accountUrl", "set the storage account URL, e.g. https://<account>.blob.core.windows.net (--vault-account-url or SQLVAULT_VAULT_ACCOUNT_URL)")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.addf("vault.accountUrl", "%q is not an http(s) URL; use https://<account>.blob.core.windows.net or the Azurite URL", s)
		return
	}
	if u.RawQuery != "" {
		// A SAS pasted into the URL would end up in logs and `config show`.
		v.addf("vault.accountUrl", "remove the query string; give a SAS token with vault.auth: sas and vault.sas")
	}
}

// containerNameProblem applies Azure's container naming rules, so a bad name fails here
// and not at the first backup.
func containerNameProblem(name string) string {
	if name == "" {
		return "set the vault container name (--vault-container or SQLVAULT_VAULT_CONTAINER)"
	}
	ok := len(name) >= 3 && len(name) <= 63 && name[0] != '-' && name[len(name)-1] != '-' && !strings.Contains(name, "--")
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			ok = false
		}
	}
	if !ok {
		return fmt.Sprintf("%q is not a valid container name: use 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit", name)
	}
	return ""
}

// validateKey checks the key settings: the file provider needs its key file; Key Vault
// needs the vault URL and key name, and then the key file is optional (read if present: it
// serves the points it sealed before the keyring).
func (c *Config) validateKey(v *validator) {
	k := c.Key
	switch k.KeyProvider() {
	case KeyProviderFile:
		if k.File == "" {
			v.addf("key.file", "set the vault key file (--key-file or SQLVAULT_KEY_FILE): the agent seals backups with it and the control worker authenticates the vault's manifests with it")
		} else {
			v.file("key.file", k.File)
		}
		if !k.AzureKeyVault.IsZero() {
			v.addf("key.azureKeyVault", "is set, but key.provider is %s: set key.provider: %s to use it", KeyProviderFile, KeyProviderAzureKeyVault)
		}
	case KeyProviderAzureKeyVault:
		kv := k.AzureKeyVault
		if u, err := url.Parse(kv.VaultURL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.addf("key.azureKeyVault.vaultUrl", "must be the Key Vault's https URL, e.g. https://myvault.vault.azure.net/ (got %q; --key-vault-url or SQLVAULT_KEY_VAULT_URL)", kv.VaultURL)
		}
		if kv.KeyName == "" {
			v.addf("key.azureKeyVault.keyName", "name the Key Vault key that wraps the data keys (--key-vault-key or SQLVAULT_KEY_VAULT_KEY)")
		}
	default:
		v.addf("key.provider", "unknown provider %q: use %s or %s", k.Provider, KeyProviderFile, KeyProviderAzureKeyVault)
	}
	switch k.Scope {
	case "", KeyScopeFleet:
	case KeyScopeVM:
		if c.Role != RoleAgent {
			v.addf("key.scope", "%s is for an agent-only worker (role agent): the control side needs the fleet KEK, which opens every data key", KeyScopeVM)
		}
	default:
		v.addf("key.scope", "%q is not a key scope; use %s (the fleet's KEK) or %s (this VM's own KEK)", k.Scope, KeyScopeFleet, KeyScopeVM)
	}
	switch k.CrossVMRestores {
	case "", CrossVMAllow, CrossVMRefuse:
	default:
		v.addf("key.crossVMRestores", "%q: use %s (deliver a VM's keys for restores onto other VMs) or %s", k.CrossVMRestores, CrossVMAllow, CrossVMRefuse)
	}
	for _, vm := range slices.Sorted(maps.Keys(k.VMs)) {
		vk := k.VMs[vm]
		if vm == "" || strings.ToLower(vm) != vm || strings.ContainsAny(vm, "/\\ ") {
			v.addf("key.vms", "%q is not a VM name: use the agent's agent.vm, lower-case", vm)
		}
		switch vk.Key().KeyProvider() {
		case KeyProviderFile:
			if vk.File == "" {
				v.addf("key.vms."+vm+".file", "set the key file of VM %s's own KEK (a copy of the agent's key.file)", vm)
			}
		case KeyProviderAzureKeyVault:
			if vk.AzureKeyVault.VaultURL == "" || vk.AzureKeyVault.KeyName == "" {
				v.addf("key.vms."+vm+".azureKeyVault", "set vaultUrl and keyName of VM %s's own Key Vault key", vm)
			}
		default:
			v.addf("key.vms."+vm+".provider", "unknown provider %q: use %s or %s", vk.Provider, KeyProviderFile, KeyProviderAzureKeyVault)
		}
	}
}

func (c *Config) validateAgent(v *validator) {
	a := c.Agent
	switch a.VaultAccess {
	case "", VaultAccessCredential, VaultAccessGrant:
	default:
		v.addf("agent.vaultAccess", "%q is not a vault access mode; use credential (the vault section's credential) or grant (no credential of its own; per-step grants from the control side)", a.VaultAccess)
	}
	if a.VM == "" {
		v.addf("agent.vm", "cannot tell this host's name; set agent.vm, --vm or SQLVAULT_AGENT_VM")
	}
	if a.MaxConcurrentBackups < 1 {
		v.addf("agent.maxConcurrentBackups", "must be at least 1 (got %d)", a.MaxConcurrentBackups)
	}
	if a.StallAfter < 0 || a.StallAfterBusy < 0 || (a.StallAfter > 0 && a.StallAfterBusy > 0 && a.StallAfterBusy < a.StallAfter) {
		v.addf("agent.stallAfter", "stallAfter and stallAfterBusy must be positive durations (e.g. 5m and 2h), stallAfterBusy at least stallAfter (got %s and %s)", a.StallAfter, a.StallAfterBusy)
	}
	if a.BlocksInFlight < 1 || a.BlocksInFlight > MaxBlocksInFlight {
		v.addf("agent.blocksInFlight", "must be 1 to %d (got %d); each block in flight costs about 8 MiB of memory per stripe", MaxBlocksInFlight, a.BlocksInFlight)
	}
	if a.MemoryLimitMiB != 0 && a.MemoryLimitMiB < MinAgentMemoryLimitMiB {
		v.addf("agent.memoryLimitMiB", "must be 0 (no limit) or at least %d (got %d): below that the collector would run all the time", MinAgentMemoryLimitMiB, a.MemoryLimitMiB)
	}
	validateEndpointHost(v, a.Endpoint.Host)
	validateEndpointListen(v, a.Endpoint.Listen)
	if (a.Endpoint.CertFile == "") != (a.Endpoint.KeyFile == "") {
		v.addf("agent.endpoint", "certFile and keyFile go together: set both, or neither")
	}
	v.file("agent.endpoint.certFile", a.Endpoint.CertFile)
	v.file("agent.endpoint.keyFile", a.Endpoint.KeyFile)
	if problem := PrivateKeyFileProblem(a.Endpoint.KeyFile); problem != "" {
		v.addf("agent.endpoint.keyFile", "%s", problem)
	}
	for i, root := range a.RestoreRoots {
		if problem := RestoreRootProblem(root); problem != "" {
			v.addf(fmt.Sprintf("agent.restoreRoots[%d]", i), "%s", problem)
		}
	}
	// A bare name would be looked up in the loader's search path: whichever libsqlvdi.so that
	// finds first. (Absence is no error: without the library, instances take the URL path.)
	if a.VDILibrary != "" && !strings.HasPrefix(a.VDILibrary, "/") {
		v.addf("agent.vdiLibrary", "%q is not an absolute path; name the library's file, e.g. /opt/mssql/lib/libsqlvdi.so (or leave vdiLibrary out for that default)", a.VDILibrary)
	}

	if len(a.Instances) == 0 {
		v.addf("agent.instances", "list the SQL Server instances this agent backs up (name, host, port, user, password)")
	}
	seen := map[string]int{}
	for i, in := range a.Instances {
		p := fmt.Sprintf("agent.instances[%d]", i)
		if in.Name == "" {
			v.addf(p+".name", `set the instance name as SQL Server reports it in @@SERVERNAME ("VM" or "VM\INSTANCE")`)
		} else if j, dup := seen[strings.ToUpper(in.Name)]; dup {
			// SQL Server names are case-insensitive, so SQLVM1 and sqlvm1 are one instance.
			v.addf(p+".name", "%q is already agent.instances[%d]; list each instance once", in.Name, j)
		} else {
			seen[strings.ToUpper(in.Name)] = i
		}
		switch in.DataPath {
		case "", DataPathURL, DataPathVDI:
		default:
			v.addf(p+".dataPath", "%q is not a data path; use url or vdi", in.DataPath)
		}
		switch in.Restore {
		case "", RestoreOverwrite, RestoreNew, RestoreNone:
		default:
			v.addf(p+".restore", "%q is not a restore setting; use overwrite (the default), new (restores never replace an existing database) or none (no restore into this instance)", in.Restore)
		}
		if !in.ConnectionString.IsZero() {
			if in.Host != "" || in.User != "" || !in.Password.IsZero() {
				v.addf(p, "use either dsn or host/user/password, not both")
			}
			v.secret(p+".dsn", in.ConnectionString)
			continue
		}
		if in.Host == "" {
			v.addf(p+".host", "set the SQL Server host (or give a full connection string with dsn:)")
		}
		if in.Port < 1 || in.Port > 65535 {
			v.addf(p+".port", "%d is not a TCP port", in.Port)
		}
		switch {
		case in.User == "" && in.Password.IsZero() && integratedAuthOS:
			// Windows authentication: the agent connects as its service account.
		case in.User == "" && in.Password.IsZero():
			v.addf(p+".user", "set the SQL login sqlvault connects as (leaving user and password out, to connect with Windows authentication as the service account, works only when the agent runs on Windows)")
		case in.User == "":
			v.addf(p+".user", "set the SQL login sqlvault connects as")
			v.secret(p+".password", in.Password)
		default:
			v.secret(p+".password", in.Password)
		}
		switch in.Encrypt {
		case "true", "false", "disable", "strict":
		default:
			v.addf(p+".encrypt", "%q is not a go-mssqldb encrypt setting; use true, false, disable or strict", in.Encrypt)
		}
	}
}

// validateMetrics checks the /metrics address and the catalog refresh period.
func (c *Config) validateMetrics(v *validator) {
	m := c.Metrics
	if m.Listen != MetricsOff && m.Listen != "" { // "": the role's default (MetricsListen)
		host, port, err := net.SplitHostPort(m.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			v.addf("metrics.listen", "%q is not ip:port; use e.g. %s (this machine only), 0.0.0.0:9741 (every interface), or %s to turn /metrics off", m.Listen, DefaultControlMetricsListen, MetricsOff)
		case perr != nil || n < 1 || n > 65535:
			v.addf("metrics.listen", "%q: the port must be 1 to 65535, so Prometheus knows where to scrape", m.Listen)
		case host != "" && net.ParseIP(host) == nil && !strings.EqualFold(host, "localhost"):
			v.addf("metrics.listen", "%q: give an IP address (or localhost), not a host name, so the address bound is the one meant", m.Listen)
		}
	}
	if c.Role.RunsControl() && m.CatalogRefresh < MinCatalogRefresh {
		v.addf("metrics.catalogRefresh", "%s is too short; each refresh lists every protected item's points, so use at least %s (default %s)", m.CatalogRefresh, MinCatalogRefresh, DefaultCatalogRefresh)
	}
}

type validator struct{ errs []error }

func (v *validator) addf(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// file checks that a configured file (if any) can be read.
func (v *validator) file(path, name string) {
	if name == "" {
		return
	}
	f, err := os.Open(name)
	if err != nil {
		v.addf(path, "cannot read %s: %s; fix the path or create the file", name, reason(err))
		return
	}
	f.Close()
}

// secret checks that a reference is well-formed and resolvable, and says how to fix it.
// integratedAuthOS says whether go-mssqldb can log in with the process's own Windows
// identity (SSPI); tests swap it.
var integratedAuthOS = runtime.GOOS == "windows"

func (v *validator) secret(path string, s Secret) {
	switch {
	case s.IsZero():
		v.addf(path, "not set; use {env: NAME} or {file: PATH}")
	case s.checkShape() != nil:
		v.addf(path, "set only one of env, file or value")
	case s.Env != "":
		if os.Getenv(s.Env) == "" {
			v.addf(path, "set the environment variable %s or use file:", s.Env)
		}
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			v.addf(path, "cannot read secret file %s: %s; create it or use env:", s.File, reason(err))
		} else if strings.TrimRight(string(b), "\r\n") == "" {
			v.addf(path, "secret file %s is empty; write the secret into it or use env:", s.File)
		}
	}
}

// reason is an I/O error without the path, which the caller already names.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// validateEndpointHost refuses a host that would give SQL Server a backup URL it refuses:
// SQL Server takes https://<DNS name>/… only, with no port (sources:
// internal/sqlsim/FIDELITY.md, "Backup URL and endpoint address"). Each message says what
// to write instead.
func validateEndpointHost(v *validator, host string) {
	const key = "agent.endpoint.host"
	name := host
	if _, rest, ok := strings.Cut(name, "://"); ok {
		name, _, _ = strings.Cut(rest, "/")
		if h, _, err := net.SplitHostPort(name); err == nil {
			name = h // the suggestion must not carry the port either
		}
		v.addf(key, "%q is a URL: set the host name alone (%s); the agent always gives SQL Server https://<host>/… (SQL Server refuses http)", host, name)
		return
	}
	switch {
	case host == "":
		v.addf(key, "set the DNS name SQL Server uses to reach this agent (it must match the endpoint certificate), e.g. sqlvault-agent.local")
	case net.ParseIP(strings.Trim(host, "[]")) != nil:
		v.addf(key, "%q is an IP address, and SQL Server refuses a backup URL whose host is not a DNS name: set a name (e.g. sqlvault-agent.local) and map it to the agent's listen address in the SQL Server host's hosts file", host)
	case strings.Contains(host, ":"):
		name, port, _ := strings.Cut(host, ":")
		v.addf(key, "%q has a port, and SQL Server refuses a backup URL with a port (it connects to 443 only): set %s to %q, and the address the agent binds in agent.endpoint.listen (default %s; port %s there works only behind a port forward)", host, key, name, DefaultEndpointListen, port)
	case !dnsname.Valid(host):
		v.addf(key, "%q is not a DNS name: use letters, digits and hyphens in dot-separated labels, e.g. sqlvault-agent.local", host)
	}
}

// validateEndpointListen checks the address the endpoint binds. Its port is not part of any
// URL: SQL Server always connects to port 443 of the host's address, so another port only
// works behind a port forward (the agent warns at start).
func validateEndpointListen(v *validator, listen string) {
	const key = "agent.endpoint.listen"
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		v.addf(key, "%q is not ip:port (for example %s, a loopback address of the agent's own on the only port SQL Server accepts)", listen, DefaultEndpointListen)
		return
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil || n < 0 || n > 65535:
		v.addf(key, "%q: the port must be a number (443)", listen)
	case n == 0:
		v.addf(key, "%q: port 0 picks a random port, which SQL Server cannot find; SQL Server connects to port 443 only (for example %s)", listen, DefaultEndpointListen)
	}
}

// loopbackHostPort reports whether host:port names this machine: localhost or a loopback IP.
func loopbackHostPort(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PrivateKeyFileProblem says why a private key file is too open — readable or writable by
// group or others, as the vault key file is checked (blockcrypt.LoadKeyFile) — or "".
// Windows has ACLs, not mode bits: there the check is skipped.
func PrivateKeyFileProblem(path string) string {
	if path == "" || runtime.GOOS == "windows" {
		return ""
	}
	st, err := os.Stat(path)
	if err != nil {
		return "" // reported by the readability check
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Sprintf("%s has mode %04o: a private key must be readable by its owner only (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	return ""
}

// RestoreRootProblem says what is wrong with an agent.restoreRoots entry, or "".
func RestoreRootProblem(root string) string {
	if _, err := pathpolicy.Parse(root); err != nil {
		return fmt.Sprintf("%q: %v", root, err)
	}
	return ""
}
