package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Role says which workers a process runs.
type Role string

const (
	RoleControl Role = "control" // every workflow and the control activities
	RoleAgent   Role = "agent"   // the activity-only worker on a SQL Server VM
	RoleBoth    Role = "both"    // both in one process (the embedded default)
)

// RunsControl reports whether the control worker runs in this process.
func (r Role) RunsControl() bool { return r == RoleControl || r == RoleBoth }

// RunsAgent reports whether the VM agent worker runs in this process.
func (r Role) RunsAgent() bool { return r == RoleAgent || r == RoleBoth }

// Vault authentication modes.
const (
	AuthDefault          = "default" // azidentity.DefaultAzureCredential (managed identity, az login, …)
	AuthSAS              = "sas"
	AuthSharedKey        = "sharedKey"
	AuthConnectionString = "connectionString"
)

// Config is the worker's configuration. Load builds it; Validate checks it.
type Config struct {
	Role     Role     `yaml:"role" json:"role"`
	Temporal Temporal `yaml:"temporal" json:"temporal"`
	Vault    Vault    `yaml:"vault" json:"vault"`
	Key      Key      `yaml:"key" json:"key"`
	// Codec is the Temporal payload codec (package payloadcodec); off while KeyFile is unset.
	Codec    Codec    `yaml:"codec" json:"codec"`
	Agent    Agent    `yaml:"agent" json:"agent"`
	Metrics  Metrics  `yaml:"metrics" json:"metrics"`
	Watchdog Watchdog `yaml:"watchdog" json:"watchdog"`
	// Retention is the control role's retention beyond the policies (soft delete).
	Retention Retention `yaml:"retention" json:"retention"`
	// DrillPlanner is the restore-drill planner the control role starts.
	DrillPlanner DrillPlanner `yaml:"drillPlanner" json:"drillPlanner"`
	Log          Log          `yaml:"log" json:"log"`
}

// Metrics configures the process's Prometheus endpoint (/metrics).
type Metrics struct {
	// Listen is the ip:port /metrics is served on, or "off". Not set: a loopback address
	// whose port depends on the role (DefaultControlMetricsListen, DefaultAgentMetricsListen;
	// role both takes the control's), so a control and an agent process on one machine do
	// not collide. Loopback because the series name every protected database and the agent
	// runs on a SQL Server VM, where opening a port to the network is the administrator's
	// decision: a Prometheus (or agent) on the machine scrapes it as is, and a remote one
	// once listen names a routable address.
	Listen string `yaml:"listen" json:"listen"`
	// CatalogRefresh is how often the control role reads the vault's catalog for the
	// per-item series (last success, RPO): one listing per protected item, so never per
	// scrape. Default 2m.
	CatalogRefresh time.Duration `yaml:"catalogRefresh" json:"catalogRefresh"`
}

// MetricsOff is the metrics.listen value that turns /metrics off.
const MetricsOff = "off"

// Temporal is how to reach the Temporal cluster.
type Temporal struct {
	Address          string `yaml:"address" json:"address"`
	Namespace        string `yaml:"namespace" json:"namespace"`
	TLS              TLS    `yaml:"tls" json:"tls"`
	APIKey           Secret `yaml:"apiKey,omitempty" json:"apiKey,omitzero"` // Temporal Cloud API key
	ControlTaskQueue string `yaml:"controlTaskQueue" json:"controlTaskQueue"`
	// AllowPlaintext lets the worker talk to a Temporal frontend that is not on this
	// machine without TLS: workflow inputs, results and the control plane then cross the
	// network in clear. For labs only (a compose network, a test cluster); Validate refuses
	// a non-loopback address without TLS unless it is set.
	AllowPlaintext bool `yaml:"allowPlaintext,omitempty" json:"allowPlaintext,omitempty"`
	// FromEnvConfig names the settings above that the Temporal SDK's environment
	// configuration (a Temporal CLI profile, TEMPORAL_* variables; temporalenv.go) supplied
	// and nothing later overrode, for the log and `config show`. Not a setting.
	FromEnvConfig []string `yaml:"-" json:"-"`
	// apiKeyFromProfile: APIKey is the api_key value of a Temporal CLI profile file.
	apiKeyFromProfile bool
}

// TLS for the Temporal connection. It is used when Enabled, when any of its fields is set,
// or when an API key is configured. CertFile+KeyFile make it mutual TLS.
type TLS struct {
	Enabled    bool   `yaml:"enabled" json:"enabled"`
	CAFile     string `yaml:"caFile" json:"caFile"`         // empty: the system roots
	CertFile   string `yaml:"certFile" json:"certFile"`     // client certificate for mTLS
	KeyFile    string `yaml:"keyFile" json:"keyFile"`       // its private key
	ServerName string `yaml:"serverName" json:"serverName"` // overrides the name checked in the server certificate
}

// InUse reports whether the connection uses TLS (see the type comment).
func (t TLS) InUse() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != ""
}

// Vault is the Azure Blob Storage container that holds backups and their catalog.
type Vault struct {
	AccountURL       string    `yaml:"accountUrl" json:"accountUrl"`
	Container        string    `yaml:"container" json:"container"`
	Auth             string    `yaml:"auth" json:"auth"` // default | sas | sharedKey | connectionString
	SAS              Secret    `yaml:"sas,omitempty" json:"sas,omitzero"`
	SharedKey        SharedKey `yaml:"sharedKey,omitempty" json:"sharedKey,omitzero"`
	ConnectionString Secret    `yaml:"connectionString,omitempty" json:"connectionString,omitzero"`
	CreateContainer  bool      `yaml:"createContainer" json:"createContainer"`
}

// SharedKey is storage account name plus account key.
type SharedKey struct {
	Account string `yaml:"account,omitempty" json:"account,omitempty"` // empty: taken from accountUrl
	Key     Secret `yaml:"key,omitempty" json:"key,omitzero"`
}

// IsZero lets omitempty/omitzero drop an unused shared-key section.
func (k SharedKey) IsZero() bool { return k.Account == "" && k.Key.IsZero() }

// AccountName is SharedKey.Account, or else the account named by the account URL:
// https://<account>.blob.core.windows.net, or the first path segment for path-style
// endpoints such as Azurite's http://127.0.0.1:10000/devstoreaccount1.
func (v Vault) AccountName() string {
	if v.SharedKey.Account != "" {
		return v.SharedKey.Account
	}
	u, err := url.Parse(v.AccountURL)
	if err != nil || u.Host == "" {
		return ""
	}
	if first, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/"); first != "" {
		return first
	}
	if net.ParseIP(u.Hostname()) != nil || !strings.Contains(u.Hostname(), ".") {
		return ""
	}
	name, _, _ := strings.Cut(u.Hostname(), ".")
	return name
}

// Key is the vault's key hierarchy (package keys): which provider holds the key-encryption
// key (KEK) that wraps the data keys kept in the vault, and the key file.
type Key struct {
	// File is the vault key file. With the file provider it is the KEK; with any provider it
	// is also a data key for the points it sealed before the keyring existed (its id is in
	// their manifests), and the active data key while the keyring holds none.
	File string `yaml:"file" json:"file"`
	// Provider is KeyProviderFile (default) or KeyProviderAzureKeyVault.
	Provider      string        `yaml:"provider,omitempty" json:"provider,omitempty"`
	AzureKeyVault AzureKeyVault `yaml:"azureKeyVault,omitempty" json:"azureKeyVault,omitzero"`
	// Scope is whose KEK the settings above name: KeyScopeFleet (default), the fleet's,
	// which opens every data key; or KeyScopeVM, on an agent only: this VM's own KEK, which
	// opens only the data keys `sqlvault key rotate --vm` made for this VM (agent.vm), so a
	// compromised VM reads its own backups and not the fleet's (README "Per-VM keys").
	Scope string `yaml:"scope,omitempty" json:"scope,omitempty"`
	// CrossVMRestores is the control worker's rule for restoring one VM's points onto
	// another VM that has keys of its own: CrossVMAllow (default) delivers the points' data
	// keys to the target VM; CrossVMRefuse refuses a point sealed with another VM's key
	// (CrossVMRestoreRefused), so an agent that can start workflows cannot restore other
	// VMs' backups onto itself to be handed their keys.
	CrossVMRestores string `yaml:"crossVMRestores,omitempty" json:"crossVMRestores,omitempty"`
	// VMs are the VMs' own KEKs, by VM name, where `sqlvault key rotate --vm` runs: each
	// VM-scoped data key is wrapped under its VM's KEK as well as the fleet KEK. The control
	// worker does not need them (it opens every key through the fleet KEK). With Key Vault
	// only wrap (and get) permission on a VM's key is needed here.
	VMs map[string]VMKey `yaml:"vms,omitempty" json:"vms,omitempty"`
}

// Key scopes (key.scope).
const (
	KeyScopeFleet = "fleet"
	KeyScopeVM    = "vm"
)

// key.crossVMRestores values.
const (
	CrossVMAllow  = "allow"
	CrossVMRefuse = "refuse"
)

// RefusesCrossVMRestores reports key.crossVMRestores: refuse.
func (k Key) RefusesCrossVMRestores() bool { return k.CrossVMRestores == CrossVMRefuse }

// VMScoped reports whether the key settings are a VM's own KEK (key.scope: vm).
func (k Key) VMScoped() bool { return k.Scope == KeyScopeVM }

// VMKey is one VM's own KEK (key.vms.<vm>): a key file or a Key Vault key, as key.* names
// the fleet's.
type VMKey struct {
	File          string        `yaml:"file,omitempty" json:"file,omitempty"`
	Provider      string        `yaml:"provider,omitempty" json:"provider,omitempty"`
	AzureKeyVault AzureKeyVault `yaml:"azureKeyVault,omitempty" json:"azureKeyVault,omitzero"`
}

// Key is the VM's KEK as key settings.
func (v VMKey) Key() Key {
	return Key{File: v.File, Provider: v.Provider, AzureKeyVault: v.AzureKeyVault}
}

// Codec configures the encryption of Temporal payloads. The codec key file holds codec
// keys wrapped under the KEK of key.* (`sqlvault codec init` writes it), so every process
// that holds the KEK — both roles, the CLI, the codec server — can use it, and no key is
// read from the vault (an agent in grant mode has no storage credential).
type Codec struct {
	// KeyFile is the codec key file; empty: no codec (payloads in clear).
	KeyFile string `yaml:"keyFile,omitempty" json:"keyFile,omitempty"`
	// Server is `sqlvault-worker codec-server`'s settings (its flags override them).
	Server CodecServer `yaml:"server,omitempty" json:"server,omitzero"`
}

// CodecServer is the codec server: Temporal's remote codec endpoints (/encode, /decode)
// for the Web UI and `temporal workflow show --codec-endpoint`.
type CodecServer struct {
	// Listen is its ip:port (default DefaultCodecServerListen, loopback).
	Listen string `yaml:"listen,omitempty" json:"listen,omitempty"`
	// Token is the bearer token callers send (Authorization: Bearer <token>): {env: NAME}
	// or {file: PATH}; required unless NoAuth.
	Token Secret `yaml:"token,omitempty" json:"token,omitzero"`
	// NoAuth serves without a token, allowed on a loopback address only (a dev Web UI
	// sends none).
	NoAuth bool `yaml:"noAuth,omitempty" json:"noAuth,omitempty"`
	// AllowedOrigins are the Web UI origins given CORS headers (e.g. http://localhost:8233).
	AllowedOrigins []string `yaml:"allowedOrigins,omitempty" json:"allowedOrigins,omitempty"`
	// Namespaces, when set, are the only namespaces served (X-Namespace).
	Namespaces []string `yaml:"namespaces,omitempty" json:"namespaces,omitempty"`
	// CertFile and KeyFile serve HTTPS (both or neither).
	CertFile string `yaml:"certFile,omitempty" json:"certFile,omitempty"`
	KeyFile  string `yaml:"keyFile,omitempty" json:"keyFile,omitempty"`
}

// IsZero lets omitzero drop an unset codec server section.
func (s CodecServer) IsZero() bool {
	return s.Listen == "" && s.Token.IsZero() && !s.NoAuth && len(s.AllowedOrigins) == 0 && len(s.Namespaces) == 0 && s.CertFile == "" && s.KeyFile == ""
}

// DefaultCodecServerListen is the codec server's default address: loopback, next to the
// dev server's Web UI (8233).
const DefaultCodecServerListen = "127.0.0.1:8234"

// Key providers.
const (
	KeyProviderFile          = "file"
	KeyProviderAzureKeyVault = "azurekeyvault"
)

// AzureKeyVault names the Key Vault key that is the KEK. The process signs in with
// azidentity's default chain (the VM's managed identity; AZURE_CLIENT_ID picks a
// user-assigned one) and needs get, wrapKey and unwrapKey on the key, nothing more.
type AzureKeyVault struct {
	VaultURL string `yaml:"vaultUrl" json:"vaultUrl"` // https://<vault>.vault.azure.net/
	KeyName  string `yaml:"keyName" json:"keyName"`
	// KeyVersion pins a version; empty: the key's latest, so a version made in Key Vault is
	// what `sqlvault key rotate --kek` re-wraps under.
	KeyVersion string `yaml:"keyVersion,omitempty" json:"keyVersion,omitempty"`
}

// IsZero reports whether no Key Vault setting is given.
func (a AzureKeyVault) IsZero() bool { return a == AzureKeyVault{} }

// KeyProvider is Key.Provider, or the file provider when none is set.
func (k Key) KeyProvider() string {
	if k.Provider == "" {
		return KeyProviderFile
	}
	return k.Provider
}

// Agent configures the VM agent role.
type Agent struct {
	VM                   string     `yaml:"vm" json:"vm"` // default: this host's short name
	Endpoint             Endpoint   `yaml:"endpoint" json:"endpoint"`
	Instances            []Instance `yaml:"instances" json:"instances"`
	MaxConcurrentBackups int        `yaml:"maxConcurrentBackups" json:"maxConcurrentBackups"`
	// BlocksInFlight is how many blocks per stripe the agent seals and stages in the
	// background while SQL Server sends the next ones (1: one at a time). Each costs about
	// 8 MiB per stripe; BENCHMARKS.md shows how the default was chosen.
	BlocksInFlight int `yaml:"blocksInFlight" json:"blocksInFlight"`
	// StallAfter fails a BACKUP or RESTORE stream's attempt (BackupStalled, retried) when no
	// byte moved and SQL Server reported no progress for this long (e.g. "5m"); StallAfterBusy
	// bounds the time without bytes while SQL Server still reports progress (e.g. "2h").
	// Empty: 5m and 2h.
	StallAfter     time.Duration `yaml:"stallAfter" json:"stallAfter"`
	StallAfterBusy time.Duration `yaml:"stallAfterBusy" json:"stallAfterBusy"`
	// MemoryLimitMiB is the soft memory limit an agent process (role agent) gives the Go
	// runtime with one stripe in progress; each further stripe in progress (of any stream)
	// raises it by MemoryPerStripeMiB (package memlimit). It makes the collector work harder
	// instead of letting garbage from streaming hundreds of MB/s push the process's footprint
	// on the SQL Server VM up; 0: none. GOMEMLIMIT in the environment wins. It is soft: the
	// agent never fails for it.
	MemoryLimitMiB int `yaml:"memoryLimitMiB" json:"memoryLimitMiB"`
	// RestoreRoots are the folders under which a restore may place files a workflow input
	// names: the as-files folder (asFilesDir, on this VM) and the data and log folders of a
	// restored database (dataPath, logPath, on the SQL Server's file system — the same
	// machine). Absolute paths, Windows (D:\Restore) or Linux (/var/opt/mssql/restore)
	// style. A path outside them is refused; with none, such inputs are refused and a
	// restore uses the instance's default folders. Anyone who can start a workflow chooses
	// these paths, and the agent writes there as SQL Server's sysadmin.
	RestoreRoots []string `yaml:"restoreRoots,omitempty" json:"restoreRoots,omitempty"`
	// VDILibrary is where SQL Server on Linux's VDI client library is (default
	// /opt/mssql/lib/libsqlvdi.so, where mssql-server installs it). The VDI data path loads it
	// at start; where it loads, instances without a dataPath stream through VDI. Windows
	// ignores it: sqlvdi.dll is found through its COM registration.
	VDILibrary string `yaml:"vdiLibrary,omitempty" json:"vdiLibrary,omitempty"`
	// VaultAccess is how the agent reaches the vault: "credential" (the default) opens it
	// with the vault section's credential, which can also delete and overwrite; "grant"
	// holds no storage credential at all — each backup stream and restore step works
	// through the grant the control side mints for it (blob SAS tokens for that step's
	// blobs only, no delete), and the vault section's auth is not read. Either way a step
	// that brings a grant uses it.
	VaultAccess string `yaml:"vaultAccess,omitempty" json:"vaultAccess,omitempty"`
}

// Agent vault access modes (agent.vaultAccess).
const (
	VaultAccessCredential = "credential"
	VaultAccessGrant      = "grant"
)

// AgentGrantOnly reports whether the agent holds no vault credential of its own.
func (c *Config) AgentGrantOnly() bool { return c.Agent.VaultAccess == VaultAccessGrant }

// Endpoint is the agent's HTTPS blob endpoint that SQL Server's BACKUP … TO URL writes to.
// The name in the URL and the address the endpoint binds are separate: SQL Server accepts
// only https://<DNS name>/… with no port, so the URL is always https://<Host>/…, and the
// SQL Server host's hosts file (or DNS) maps Host to the address in Listen.
type Endpoint struct {
	Host     string `yaml:"host" json:"host"`     // the DNS name SQL Server uses in the URL, no port; the certificate must match it
	Listen   string `yaml:"listen" json:"listen"` // ip:port the endpoint binds; default 127.0.0.5:443
	CertFile string `yaml:"certFile" json:"certFile"`
	KeyFile  string `yaml:"keyFile" json:"keyFile"`
}

// Instance is one SQL Server instance the agent backs up.
type Instance struct {
	Name     string `yaml:"name" json:"name"` // @@SERVERNAME: VM or VM\INSTANCE
	Host     string `yaml:"host,omitempty" json:"host,omitempty"`
	Port     int    `yaml:"port,omitempty" json:"port,omitempty"`
	User     string `yaml:"user,omitempty" json:"user,omitempty"`
	Password Secret `yaml:"password,omitempty" json:"password,omitzero"`
	// ConnectionString is a full go-mssqldb connection string, used instead of
	// host/port/user/password/encrypt when set (YAML key: dsn).
	ConnectionString       Secret `yaml:"dsn,omitempty" json:"dsn,omitzero"`
	Encrypt                string `yaml:"encrypt,omitempty" json:"encrypt,omitempty"` // true | false | disable | strict
	TrustServerCertificate bool   `yaml:"trustServerCertificate" json:"trustServerCertificate"`
	// DataPath is how this instance's backup bytes reach the agent: "url" (BACKUP … TO URL
	// into the agent's HTTPS endpoint) or "vdi" (BACKUP … TO VIRTUAL_DEVICE through SQL
	// Server's Virtual Device Interface; the agent needs the VDI client library — sqlvdi.dll
	// on Windows, agent.vdiLibrary on Linux — and refuses to start without it). Not set: vdi
	// where the agent finds the library at start, else url; the agent logs which it chose.
	DataPath string `yaml:"dataPath,omitempty" json:"dataPath,omitempty"`
	// Restore is what restores this agent accepts into the instance, whoever started them:
	// "overwrite" (the default: new databases, and over an existing one when the request
	// asks for overwrite), "new" (only databases that do not exist: nothing already on the
	// instance is ever replaced, the tail-log overwrite of the protected database included;
	// a restore whose first RESTORE was cut off midway cannot be resumed there, as its
	// half-restored database now exists: restore again under another name)
	// or "none" (no restore into the instance, verify-restores and restore drills included;
	// restores as files, which only write under restoreRoots, still work). A request the
	// instance does not accept fails with RestoreNotAllowedByAgent. The VM's
	// administrator's decision, out of reach of anyone who can start workflows: the
	// secure setting for a production instance is "new" or "none".
	Restore string `yaml:"restore,omitempty" json:"restore,omitempty"`
}

// What restores an instance accepts (agent.instances[].restore); protocol has the same names.
const (
	RestoreOverwrite = protocol.RestoreModeOverwrite
	RestoreNew       = protocol.RestoreModeNew
	RestoreNone      = protocol.RestoreModeNone
)

// Data paths (agent.instances[].dataPath); package datapath on the agent side has the same names.
const (
	DataPathURL = "url"
	DataPathVDI = "vdi"
)

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level" json:"level"`   // debug | info | warn | error
	Format string `yaml:"format" json:"format"` // json | console
}

// Defaults applied before the file, environment and flags.
const (
	DefaultTemporalAddress      = "127.0.0.1:7233"
	DefaultNamespace            = "default"
	DefaultControlTaskQueue     = "sqlvault-control"
	DefaultContainer            = "sqlvault"
	DefaultEndpointListen       = "127.0.0.5:443" // a loopback address of its own, so IIS/SSRS on 0.0.0.0:443 are not disturbed
	DefaultMaxConcurrentBackups = 4
	DefaultBlocksInFlight       = 2
	MaxBlocksInFlight           = 16
	DefaultAgentMemoryLimitMiB  = 128
	MinAgentMemoryLimitMiB      = 64
	MemoryPerStripeMiB          = 32
	DefaultSQLPort              = 1433
	DefaultEncrypt              = "true"
	// Ports of /metrics on loopback, one per role, next to nothing the usual exporters
	// (node 9100, windows_exporter 9182, sql_exporter 9399) take.
	DefaultControlMetricsListen = "127.0.0.1:9741"
	DefaultAgentMetricsListen   = "127.0.0.1:9742"
	DefaultCatalogRefresh       = 2 * time.Minute
	MinCatalogRefresh           = time.Second
)

// DefaultKeyFile is where the vault key is looked for when the configuration names none:
// /etc/sqlvault/vault.key, or %ProgramData%\sqlvault\vault.key on Windows (see Platform).
var DefaultKeyFile = Platform().KeyFile

// hostname is swapped in tests.
var hostname = os.Hostname

// Default returns the configuration used when nothing else is given.
func Default() *Config {
	return &Config{
		Role: RoleBoth,
		Temporal: Temporal{
			Address:          DefaultTemporalAddress,
			Namespace:        DefaultNamespace,
			ControlTaskQueue: DefaultControlTaskQueue,
		},
		Vault: Vault{
			Container: DefaultContainer,
			Auth:      AuthDefault,
			// Each credential mode has a conventional variable, so choosing a mode with
			// --vault-auth/SQLVAULT_VAULT_AUTH is enough when the variable is set.
			SAS:              Secret{Env: "SQLVAULT_VAULT_SAS"},
			SharedKey:        SharedKey{Key: Secret{Env: "SQLVAULT_VAULT_KEY"}},
			ConnectionString: Secret{Env: "SQLVAULT_VAULT_CONNECTION_STRING"},
		},
		Key: Key{File: DefaultKeyFile},
		Agent: Agent{
			VM:                   shortHostname(),
			Endpoint:             Endpoint{Host: shortHostname(), Listen: DefaultEndpointListen},
			MaxConcurrentBackups: DefaultMaxConcurrentBackups,
			BlocksInFlight:       DefaultBlocksInFlight,
			MemoryLimitMiB:       DefaultAgentMemoryLimitMiB,
			VDILibrary:           Platform().VDILibrary,
		},
		Metrics:      Metrics{CatalogRefresh: DefaultCatalogRefresh},
		Watchdog:     Watchdog{Interval: DefaultWatchdogInterval},
		Retention:    defaultRetention(),
		DrillPlanner: DrillPlanner{Every: DefaultDrillPlannerEvery},
		Log:          Log{Level: "info", Format: "json"},
	}
}

// shortHostname is the host name up to the first dot: @@SERVERNAME and the VM name used by
// workflows are the short NetBIOS-style name, while Linux often reports an FQDN.
func shortHostname() string {
	h, err := hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// Load builds the configuration: defaults, then the YAML file, then environment variables
// (looked up with env, normally os.Getenv), then flags that were set on the command line
// (flags may be nil). The file is path, or when path is "" the --config flag, or else
// SQLVAULT_CONFIG; with none of them there is no file. Load does not call Validate.
func Load(path string, env func(string) string, flags *pflag.FlagSet) (*Config, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	if path == "" && flags != nil {
		if f := flags.Lookup("config"); f != nil {
			path = f.Value.String()
		}
	}
	if path == "" {
		path = env("SQLVAULT_CONFIG")
	}

	c := Default()
	if err := c.applyTemporalEnvConfig(env); err != nil {
		return nil, err
	}
	fromEnvConfig := c.Temporal
	if path != "" {
		if err := c.decodeFile(path); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, o := range overrides {
		if v := env(o.env); v != "" {
			if err := o.set(c, v); err != nil {
				errs = append(errs, fmt.Errorf("environment variable %s=%q: %w", o.env, v, err))
			}
		}
	}
	if flags != nil {
		for _, o := range overrides {
			name := flagFor(o)
			if name == "" {
				continue
			}
			if f := flags.Lookup(name); f != nil && f.Changed {
				if err := o.set(c, f.Value.String()); err != nil {
					errs = append(errs, fmt.Errorf("flag --%s=%q: %w", name, f.Value.String(), err))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.fillInstanceDefaults()
	c.Temporal.keepEnvConfigProvenance(fromEnvConfig)
	return c, nil
}

func (c *Config) decodeFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	// A misspelt key would otherwise be ignored silently and its default used.
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // EOF: empty file
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// fillInstanceDefaults gives host-based instances the usual port and encryption; a
// dsn-based instance carries its own.
func (c *Config) fillInstanceDefaults() {
	for i := range c.Agent.Instances {
		in := &c.Agent.Instances[i]
		if !in.ConnectionString.IsZero() {
			continue
		}
		if in.Port == 0 {
			in.Port = DefaultSQLPort
		}
		if in.Encrypt == "" {
			in.Encrypt = DefaultEncrypt
		}
	}
}

// MetricsListen is the address /metrics is served on ("off": none): metrics.listen, or
// when it is not set the role's loopback default.
func (c *Config) MetricsListen() string {
	switch {
	case c.Metrics.Listen != "":
		return c.Metrics.Listen
	case c.Role == RoleAgent:
		return DefaultAgentMetricsListen
	}
	return DefaultControlMetricsListen
}

// override is one setting that the environment and (if flag != "") the command line can set.
type override struct {
	env   string
	flag  string
	usage string
	set   func(c *Config, v string) error
}

func setString(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

// overrides is the single list behind Load, BindFlags and the table in doc.go
// (TestDocListsEveryOverride keeps them in step).
var overrides = []override{
	{"SQLVAULT_ROLE", "role", "which workers to run: control, agent or both", setString(func(c *Config) *string { return (*string)(&c.Role) })},
	{"SQLVAULT_TEMPORAL_ADDRESS", "temporal-address", "Temporal frontend host:port", setString(func(c *Config) *string { return &c.Temporal.Address })},
	{"SQLVAULT_TEMPORAL_NAMESPACE", "namespace", "Temporal namespace", setString(func(c *Config) *string { return &c.Temporal.Namespace })},
	{"SQLVAULT_TEMPORAL_TLS", "temporal-tls", "use TLS to Temporal (true|false)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.Temporal.TLS.Enabled = b
		return boolErr(err)
	}},
	{"SQLVAULT_TEMPORAL_TLS_CA_FILE", "temporal-tls-ca-file", "CA certificate file for the Temporal server", setString(func(c *Config) *string { return &c.Temporal.TLS.CAFile })},
	{"SQLVAULT_TEMPORAL_TLS_CERT_FILE", "temporal-tls-cert-file", "client certificate file (mTLS)", setString(func(c *Config) *string { return &c.Temporal.TLS.CertFile })},
	{"SQLVAULT_TEMPORAL_TLS_KEY_FILE", "temporal-tls-key-file", "client key file (mTLS)", setString(func(c *Config) *string { return &c.Temporal.TLS.KeyFile })},
	{"SQLVAULT_TEMPORAL_TLS_SERVER_NAME", "temporal-tls-server-name", "server name expected in the Temporal certificate", setString(func(c *Config) *string { return &c.Temporal.TLS.ServerName })},
	{"SQLVAULT_TEMPORAL_ALLOW_PLAINTEXT", "temporal-allow-plaintext", "allow a non-loopback Temporal address without TLS (labs only; true|false)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.Temporal.AllowPlaintext = b
		return boolErr(err)
	}},
	{"SQLVAULT_TEMPORAL_API_KEY_ENV", "", "name of the environment variable holding the Temporal API key", func(c *Config, v string) error {
		c.Temporal.APIKey = Secret{Env: v}
		return nil
	}},
	{"SQLVAULT_TEMPORAL_API_KEY_FILE", "", "file holding the Temporal API key", func(c *Config, v string) error {
		c.Temporal.APIKey = Secret{File: v}
		return nil
	}},
	{"SQLVAULT_CONTROL_TASK_QUEUE", "control-task-queue", "task queue of the control worker", setString(func(c *Config) *string { return &c.Temporal.ControlTaskQueue })},
	{"SQLVAULT_VAULT_ACCOUNT_URL", "vault-account-url", "vault storage account URL", setString(func(c *Config) *string { return &c.Vault.AccountURL })},
	{"SQLVAULT_VAULT_CONTAINER", "vault-container", "vault container", setString(func(c *Config) *string { return &c.Vault.Container })},
	{"SQLVAULT_VAULT_AUTH", "vault-auth", "vault authentication: default, sas, sharedKey or connectionString", setString(func(c *Config) *string { return &c.Vault.Auth })},
	{"SQLVAULT_VAULT_CREATE_CONTAINER", "", "create the vault container if missing (true|false)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.Vault.CreateContainer = b
		return boolErr(err)
	}},
	{"SQLVAULT_KEY_FILE", "key-file", "vault key file (the file provider's KEK; also the data key of points it sealed)", setString(func(c *Config) *string { return &c.Key.File })},
	{"SQLVAULT_CODEC_KEY_FILE", "codec-key-file", "codec key file: encrypts Temporal payloads (unset: payloads in clear)", setString(func(c *Config) *string { return &c.Codec.KeyFile })},
	{"SQLVAULT_KEY_PROVIDER", "key-provider", "KEK provider: file or azurekeyvault", setString(func(c *Config) *string { return &c.Key.Provider })},
	{"SQLVAULT_KEY_VAULT_URL", "key-vault-url", "Azure Key Vault URL of the KEK (azurekeyvault)", setString(func(c *Config) *string { return &c.Key.AzureKeyVault.VaultURL })},
	{"SQLVAULT_KEY_VAULT_KEY", "key-vault-key", "name of the Key Vault key that is the KEK (azurekeyvault)", setString(func(c *Config) *string { return &c.Key.AzureKeyVault.KeyName })},
	{"SQLVAULT_AGENT_VM", "vm", "this VM's name (agent task queue suffix)", setString(func(c *Config) *string { return &c.Agent.VM })},
	{"SQLVAULT_AGENT_ENDPOINT_HOST", "endpoint-host", "DNS name SQL Server uses in backup URLs (https://<host>/…, never a port)", setString(func(c *Config) *string { return &c.Agent.Endpoint.Host })},
	{"SQLVAULT_AGENT_ENDPOINT_LISTEN", "endpoint-listen", "ip:port the agent endpoint binds (default 127.0.0.5:443; SQL Server connects to 443)", setString(func(c *Config) *string { return &c.Agent.Endpoint.Listen })},
	{"SQLVAULT_AGENT_ENDPOINT_CERT_FILE", "endpoint-cert-file", "agent endpoint TLS certificate file", setString(func(c *Config) *string { return &c.Agent.Endpoint.CertFile })},
	{"SQLVAULT_AGENT_ENDPOINT_KEY_FILE", "endpoint-key-file", "agent endpoint TLS key file", setString(func(c *Config) *string { return &c.Agent.Endpoint.KeyFile })},
	{"SQLVAULT_AGENT_MAX_CONCURRENT_BACKUPS", "max-concurrent-backups", "backups one agent runs at a time", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not a whole number")
		}
		c.Agent.MaxConcurrentBackups = n
		return nil
	}},
	{"SQLVAULT_AGENT_BLOCKS_IN_FLIGHT", "blocks-in-flight", "blocks per stripe sealed and staged in the background", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not a whole number")
		}
		c.Agent.BlocksInFlight = n
		return nil
	}},
	{"SQLVAULT_AGENT_MEMORY_LIMIT_MIB", "memory-limit-mib", "soft memory limit of an agent process in MiB (0: none)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not a whole number")
		}
		c.Agent.MemoryLimitMiB = n
		return nil
	}},
	{"SQLVAULT_AGENT_VAULT_ACCESS", "agent-vault-access", "how the agent reaches the vault: credential (vault.auth) or grant (none of its own: per-step grants from the control side)", setString(func(c *Config) *string { return &c.Agent.VaultAccess })},
	{"SQLVAULT_AGENT_VDI_LIBRARY", "vdi-library", "SQL Server's VDI client library on Linux (default /opt/mssql/lib/libsqlvdi.so)", setString(func(c *Config) *string { return &c.Agent.VDILibrary })},
	{"SQLVAULT_METRICS_LISTEN", "metrics-listen", "ip:port of /metrics, or off (default 127.0.0.1:9741 control and both, 127.0.0.1:9742 agent)", setString(func(c *Config) *string { return &c.Metrics.Listen })},
	{"SQLVAULT_METRICS_CATALOG_REFRESH", "metrics-catalog-refresh", "how often the control role reads the vault's catalog for per-item metrics (default 2m)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration (e.g. 2m)")
		}
		c.Metrics.CatalogRefresh = d
		return nil
	}},
	{"SQLVAULT_WATCHDOG_INTERVAL", "watchdog-interval", "time between the RPO watchdog's sweeps (default 5m)", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration (e.g. 5m)")
		}
		c.Watchdog.Interval = d
		return nil
	}},
	{"SQLVAULT_WATCHDOG_WEBHOOK_URL", "watchdog-webhook-url", "where the RPO watchdog POSTs its breaches (default none)", setString(func(c *Config) *string { return &c.Watchdog.Webhook.URL })},
	{"SQLVAULT_RETENTION_SOFT_DELETE_DAYS", "soft-delete-days", "days an item stopped with delete keeps its recovery points (default 14)", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not a whole number")
		}
		c.Retention.SoftDeleteDays = n
		return nil
	}},
	{"SQLVAULT_LOG_LEVEL", "log-level", "log level: debug, info, warn or error", setString(func(c *Config) *string { return &c.Log.Level })},
	{"SQLVAULT_LOG_FORMAT", "log-format", "log format: json or console", setString(func(c *Config) *string { return &c.Log.Format })},
}

func boolErr(err error) error {
	if err != nil {
		return errors.New("not true or false")
	}
	return nil
}

// BindFlags defines --config and the override flags on fs. Flags have no defaults of their
// own: only a flag given on the command line overrides the file and the environment.
func BindFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (env SQLVAULT_CONFIG)")
	for _, o := range overrides {
		if o.flag != "" {
			fs.String(o.flag, "", fmt.Sprintf("%s (env %s)", o.usage, o.env))
		}
	}
	// Let a bare --temporal-tls mean true, like a boolean flag.
	fs.Lookup("temporal-tls").NoOptDefVal = "true"
}

// AgentTaskQueue is the task queue of the agent on vm (this agent's VM when vm is "").
// The VM name is lower-cased: Windows host names and @@SERVERNAME are case-insensitive but
// task queue names are not, and a workflow routing to "SQLVM1" must reach the agent that
// calls itself "sqlvm1".
func (c *Config) AgentTaskQueue(vm string) string {
	if vm == "" {
		vm = c.Agent.VM
	}
	// The prefix is fixed by the protocol: workflows route to it without reading this file.
	return protocol.AgentTaskQueue(vm)
}

// Redacted is the configuration as YAML, for `sqlvault-worker config show`: secret references are
// shown (env names, file paths) but no secret value, not even an inline one.
func (c *Config) Redacted() string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2) // the indentation of the documented examples
	if err := enc.Encode(c); err != nil {
		// Config holds only strings, numbers and Secrets (which marshal to a small
		// struct), so this cannot happen; say so rather than print half a config.
		return fmt.Sprintf("# cannot render config: %v\n", err)
	}
	return b.String()
}

// Warnings lists settings that work but should be changed: inline secret values.
func (c *Config) Warnings() []string {
	var w []string
	for _, s := range c.secrets() {
		switch {
		case s.secret.Value != "" && s.path == "temporal.apiKey" && c.Temporal.apiKeyFromProfile:
			w = append(w, "temporal.apiKey: the API key is written in the Temporal CLI profile file (api_key); keep that file readable by this service's account only, or give the key in TEMPORAL_API_KEY")
		case s.secret.Value != "":
			w = append(w, fmt.Sprintf("%s: the secret is written in the config file (value:); use env: or file: so the file can be shared", s.path))
		}
	}
	for i, in := range c.Agent.Instances {
		// A dsn carries its own encrypt setting, which is a secret: not inspected here.
		if in.ConnectionString.IsZero() && (in.Encrypt == "disable" || in.Encrypt == "false") {
			w = append(w, fmt.Sprintf("agent.instances[%d].encrypt: %q sends the TDS session to %s unencrypted (with disable, the login and its password too); use encrypt: \"true\" or \"strict\" unless SQL Server offers no TLS at all", i, in.Encrypt, in.Host))
		}
	}
	return w
}

type namedSecret struct {
	path   string
	secret Secret
}

// secrets lists every secret reference with its YAML path.
func (c *Config) secrets() []namedSecret {
	s := []namedSecret{
		{"temporal.apiKey", c.Temporal.APIKey},
		{"vault.sas", c.Vault.SAS},
		{"vault.sharedKey.key", c.Vault.SharedKey.Key},
		{"vault.connectionString", c.Vault.ConnectionString},
		{"codec.server.token", c.Codec.Server.Token},
	}
	for i, in := range c.Agent.Instances {
		s = append(s,
			namedSecret{fmt.Sprintf("agent.instances[%d].password", i), in.Password},
			namedSecret{fmt.Sprintf("agent.instances[%d].dsn", i), in.ConnectionString})
	}
	return s
}

// AgentMemoryLimitMiB is the base soft memory limit to manage for this process (see
// Agent.MemoryLimitMiB), or 0 to leave the runtime alone: the process is not an agent-only
// worker (a control worker's memory follows its workflows, not a stream), the limit is off,
// or GOMEMLIMIT is set in the environment.
func (c *Config) AgentMemoryLimitMiB(getenv func(string) string) int {
	if c.Role != RoleAgent || c.Agent.MemoryLimitMiB <= 0 || getenv("GOMEMLIMIT") != "" {
		return 0
	}
	return c.Agent.MemoryLimitMiB
}
