// Package doctor checks, from the VM, everything an agent needs for a backup, and names
// the fix for each thing that is wrong: Temporal, the vault, the key, each SQL Server
// instance and its login, its data path and whether the machine has SQL Server's VDI client
// library, SQL Server's way to the agent along that path (a real BACKUP of model, COPY_ONLY,
// into a session that discards the bytes: TO URL into the endpoint, or TO VIRTUAL_DEVICE),
// and free memory.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/vdipath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/host"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// Status of one check.
type Status string

const (
	OK   Status = "ok"
	Fail Status = "FAIL"
	Skip Status = "skip" // could not be checked now; not a failure
	Warn Status = "warn" // works, but short of what is recommended; not a failure
)

// Result is one line of the report.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Instance is what doctor needs of a SQL Server connection (*sqlserver.Conn has it).
type Instance interface {
	Server(ctx context.Context) (sqlserver.ServerInfo, error)
	CreateCredential(ctx context.Context, containerURL, sas string) error
	DropCredential(ctx context.Context, containerURL string) error
	Run(ctx context.Context, query string, args []any, onMessage func(sqlserver.Message)) error
	Close() error
}

// Env is what the checks use; each piece can be replaced in tests.
type Env struct {
	Config       *config.Config
	DialTemporal func(ctx context.Context) error
	OpenVault    func(ctx context.Context) (vault.Store, error)
	// VaultProtection reads the vault's soft delete and immutability (nil: not checked).
	VaultProtection func(ctx context.Context) (azstore.Protection, error)
	OpenInstance    func(ctx context.Context, in config.Instance) (Instance, error)
	// StartEndpoint starts an endpoint server like the agent's (same host, listen address and
	// certificate) for the round trip.
	StartEndpoint func() (*endpoint.Server, error)
	// FreeMemory is the memory available to new processes, in bytes.
	FreeMemory func() (uint64, error)
	// VDI opens the machine's VDI client library (nil: none), for the data path lines and
	// the default data path (datapath.Library.Choose).
	VDI func() (vdi.Platform, error)
	// Timeout bounds each check; default 30 s (the round trip: 2 min).
	Timeout time.Duration
	// OpenKEK builds the configured KEK provider (nil: keys.OpenKEK); tests point it at a
	// fake Key Vault.
	OpenKEK func(config.Key) (keys.KEK, error)
}

// MinFreeMemory is what an agent with a few streams needs free (its memory limit is soft,
// 128 MiB + 32 MiB per stripe by default).
const MinFreeMemory = 512 << 20

// Run runs every check and returns the results in order.
func Run(ctx context.Context, env Env) []Result {
	if env.Timeout == 0 {
		env.Timeout = 30 * time.Second
	}
	cfg := env.Config
	var out []Result
	add := func(r Result) { out = append(out, r) }
	timed := func(d time.Duration, f func(context.Context) Result) Result {
		c, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return f(c)
	}
	add(timed(env.Timeout, env.temporal))
	add(timed(env.Timeout, env.vault))
	add(timed(env.Timeout, env.protection))
	add(timed(env.Timeout, env.key))
	lib := datapath.NewLibrary(env.VDI)
	for _, in := range cfg.Agent.Instances {
		out = append(out, env.instance(ctx, in, lib)...)
	}
	add(env.memory())
	return out
}

// Failed reports whether any check failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// PrintTable writes the results as a table, each failing line followed by its fix.
func PrintTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Check, r.Status, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", r.Fix)
		}
	}
	tw.Flush()
}

// PrintJSON writes the results as a JSON array.
func PrintJSON(w io.Writer, rs []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rs)
}

func (e Env) temporal(ctx context.Context) Result {
	t := e.Config.Temporal
	name := "temporal"
	tls := "without TLS"
	if t.TLS.InUse() || !t.APIKey.IsZero() {
		tls = "with TLS"
	}
	if err := e.DialTemporal(ctx); err != nil {
		return Result{name, Fail, fmt.Sprintf("%s (%s, namespace %s): %v", t.Address, tls, t.Namespace, err),
			"check temporal.address, temporal.tls and temporal.apiKey in the configuration, and that this VM can reach " + t.Address}
	}
	return Result{name, OK, fmt.Sprintf("%s reachable %s, namespace %s", t.Address, tls, t.Namespace), ""}
}

// probeBlob is written and deleted to prove the vault is writable; one per VM, so two
// agents' doctors do not delete each other's probe.
func probeBlob(vm string) string { return "v1/doctor/" + vm + ".probe" }

func (e Env) vault(ctx context.Context) Result {
	v := e.Config.Vault
	name := "vault"
	where := v.AccountURL + "/" + v.Container
	st, err := e.OpenVault(ctx)
	if err != nil {
		return Result{name, Fail, fmt.Sprintf("%s: %v", where, err), "check vault.accountUrl, vault.container and vault.auth (and the credential it names)"}
	}
	probe := probeBlob(e.Config.Agent.VM)
	if err := st.Put(ctx, probe, []byte("sqlvault doctor probe\n"), vault.PutOptions{}); err != nil {
		return Result{name, Fail, fmt.Sprintf("%s: cannot write: %v", where, err),
			"give this VM's identity write access to the container (Storage Blob Data Contributor), or a SAS with create, write and delete"}
	}
	if err := st.Delete(ctx, probe); err != nil && !errors.Is(err, vault.ErrNotFound) {
		return Result{name, Fail, fmt.Sprintf("%s: wrote a probe but cannot delete it: %v", where, err),
			"give this VM's identity delete rights on the container (Storage Blob Data Contributor), or a SAS with delete"}
	}
	return Result{name, OK, where + " reachable and writable", ""}
}

func (e Env) key(ctx context.Context) Result {
	if e.Config.Key.KeyProvider() == config.KeyProviderAzureKeyVault {
		return e.keyVault(ctx)
	}
	path := e.Config.Key.File
	k, err := blockcrypt.LoadKeyFile(path)
	switch {
	case err == nil && e.Config.Key.VMScoped():
		return Result{"key", OK, fmt.Sprintf("%s (this VM's own KEK, key id %s)", path, k.ID()), ""}
	case err == nil:
		return Result{"key", OK, fmt.Sprintf("%s (key id %s)", path, k.ID()), ""}
	case errors.Is(err, blockcrypt.ErrKeyFileMissing) && e.Config.Key.VMScoped():
		return Result{"key", Fail, err.Error(), "copy this VM's own key file to " + path + " (key.scope: vm; its copy is key.vms." + strings.ToLower(e.Config.Agent.VM) + " where `sqlvault key rotate --vm` runs)"}
	case errors.Is(err, blockcrypt.ErrKeyFileMissing):
		return Result{"key", Fail, err.Error(), "copy the vault's key file to " + path + " (every agent of a vault uses the same key; sqlvault-worker key generate makes a new vault's)"}
	case errors.Is(err, blockcrypt.ErrKeyFileTooOpen):
		return Result{"key", Fail, err.Error(), keyPermissionFix(path)}
	default:
		return Result{"key", Fail, err.Error(), "the file must hold the vault key as one line of base64 (32 bytes), readable by the service account"}
	}
}

// keyVault checks the Key Vault KEK: it reads the key (get), which proves the identity,
// the network path and that the key is enabled and of a type that wraps.
func (e Env) keyVault(ctx context.Context) Result {
	open := e.OpenKEK
	if open == nil {
		open = keys.OpenKEK
	}
	kek, err := open(e.Config.Key)
	if err != nil {
		return Result{"key", Fail, err.Error(), "set key.azureKeyVault.vaultUrl and keyName, and give the VM a managed identity"}
	}
	d := kek.Describe(ctx)
	if d.Error != "" {
		// The KEK error says what to do after "What to do:".
		detail, fix, _ := strings.Cut(d.Error, ". What to do: ")
		return Result{"key", Fail, detail, fix}
	}
	return Result{"key", OK, fmt.Sprintf("Key Vault key %s (%s)", d.KEK, d.Detail), ""}
}

func (e Env) memory() Result {
	if e.FreeMemory == nil {
		return Result{"memory", Skip, "not measured on this platform", ""}
	}
	free, err := e.FreeMemory()
	if err != nil {
		return Result{"memory", Skip, "cannot read free memory: " + err.Error(), ""}
	}
	if free < MinFreeMemory {
		return Result{"memory", Fail, fmt.Sprintf("%d MiB free, want at least %d MiB", free>>20, MinFreeMemory>>20),
			"free memory on the VM (SQL Server's max server memory leaves the rest to the OS and the agent), or lower agent.maxConcurrentBackups"}
	}
	return Result{"memory", OK, fmt.Sprintf("%d MiB free", free>>20), ""}
}

// dataPathLine reports the data path the agent would give the instance (datapath's rule:
// the configured one, or vdi where the VDI client library is present, else url), and what
// doctor found of the library: where it loaded from, or why it did not.
func dataPathLine(in config.Instance, lib *datapath.Library) (Result, datapath.Choice) {
	name := "instance " + in.Name + " data path"
	c, err := lib.Choose(in.DataPath)
	if err != nil {
		if _, perr := datapath.ParseKind(in.DataPath); perr != nil {
			return Result{name, Fail, perr.Error(), "set agent.instances " + in.Name + " dataPath to url or vdi, or leave it out (vdi where the VDI client library is present, else url)"}, c
		}
		_, libErr := lib.Get()
		return Result{name, Fail, fmt.Sprintf("vdi, but this machine has no VDI client library (%v)", libErr),
			"install SQL Server's VDI client (sqlvdi.dll comes with SQL Server on Windows; /opt/mssql/lib/libsqlvdi.so with mssql-server on Linux, or set agent.vdiLibrary to where it is), or set dataPath: url"}, c
	}
	switch {
	case c.Kind == datapath.VDI && !c.Default:
		return Result{name, OK, "vdi (BACKUP … TO VIRTUAL_DEVICE) through " + c.Platform.Describe(), ""}, c
	case c.Kind == datapath.VDI:
		return Result{name, OK, "vdi (BACKUP … TO VIRTUAL_DEVICE) through " + c.Platform.Describe() + "; the default: dataPath is not set and the library is present (dataPath: url keeps TO URL)", ""}, c
	}
	p, libErr := lib.Get()
	how := "dataPath: url"
	if c.Default {
		how = "the default: dataPath is not set"
	}
	if p != nil {
		return Result{name, OK, "url (BACKUP … TO URL into the endpoint), " + how + "; the VDI client library is present (" + p.Describe() + "): dataPath: vdi would use it", ""}, c
	}
	return Result{name, OK, fmt.Sprintf("url (BACKUP … TO URL into the endpoint), %s; no VDI client library (%v)", how, libErr), ""}, c
}

// instance checks one instance: reachable, login sysadmin, its data path, and the round
// trip along it.
func (e Env) instance(ctx context.Context, in config.Instance, lib *datapath.Library) []Result {
	name := "instance " + in.Name
	c, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	conn, err := e.OpenInstance(c, in)
	var info sqlserver.ServerInfo
	if err == nil {
		info, err = conn.Server(c)
	}
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return []Result{{name, Fail, err.Error(), fmt.Sprintf("check agent.instances %s: host %s, port %d, user and password (or, on Windows, the login of %s); is SQL Server running and listening on TCP?", in.Name, in.Host, in.Port, host.WindowsServiceAccount)}}
	}
	defer conn.Close()
	out := []Result{{name, OK, fmt.Sprintf("%s reachable (%s, login %s)", info.ServerName, info.ProductVersion, info.Login), ""}}
	login := host.Login{Name: info.Login}
	if !info.IsSysadmin {
		out = append(out, Result{name + " login", Fail, fmt.Sprintf("login %s is not sysadmin (BACKUP, RESTORE and discovery need it)", host.QuoteName(info.Login)),
			"run as a sysadmin: " + login.GrantTSQL()})
		out = append(out, Result{name + " endpoint", Skip, "needs a sysadmin login", ""})
		return out
	}
	out = append(out, Result{name + " login", OK, fmt.Sprintf("login %s is sysadmin", host.QuoteName(info.Login)), ""})
	dp, choice := dataPathLine(in, lib)
	out = append(out, dp)
	rc, cancel2 := context.WithTimeout(ctx, 4*e.Timeout)
	defer cancel2()
	if dp.Status != OK {
		if _, err := datapath.ParseKind(in.DataPath); err != nil {
			return append(out, Result{name + " endpoint", Skip, "needs a data path: url or vdi", ""})
		}
		return append(out, Result{name + " vdi", Skip, "needs the VDI client library", ""})
	}
	if choice.Kind == datapath.VDI {
		return append(out, vdiRoundTrip(rc, name+" vdi", conn, choice.Platform, info.ServerName))
	}
	return append(out, e.roundTrip(rc, name+" endpoint", conn))
}

// vdiRoundTrip has SQL Server back up model, COPY_ONLY, to a virtual device set of the
// agent's VDI path whose stripe discards the bytes: the library works for this instance and
// SQL Server opens the agent's sets.
func vdiRoundTrip(ctx context.Context, name string, conn Instance, platform vdi.Platform, serverName string) Result {
	path := vdipath.New(platform, vdipath.Options{Instance: vdipath.InstanceName(serverName)})
	sess, err := path.OpenBackup(ctx, nil, []datapath.BackupStripe{{Name: "doctor.bak", Sink: discard{}}})
	if err != nil {
		return Result{name, Fail, err.Error(), vdiFix}
	}
	defer sess.Close()
	q, args := sqlserver.BackupCommand{Database: "model", Kind: sqlserver.CopyOnlyFull, URLs: sess.Devices(), DeviceType: sess.DeviceType()}.Statement()
	if err := conn.Run(ctx, q, args, nil); err != nil {
		if serr := sess.Err(); serr != nil {
			err = fmt.Errorf("%w (the agent's side: %v)", err, serr)
		}
		return Result{name, Fail, "BACKUP DATABASE model TO VIRTUAL_DEVICE (COPY_ONLY): " + err.Error(), vdiFix}
	}
	if err := sess.Finish(ctx); err != nil {
		return Result{name, Fail, "BACKUP DATABASE model TO VIRTUAL_DEVICE (COPY_ONLY): " + err.Error(), vdiFix}
	}
	return Result{name, OK, fmt.Sprintf("SQL Server opened the agent's virtual device set and sent a COPY_ONLY backup of model (%d bytes, discarded) through %s",
		sess.Progress().Bytes, platform.Describe()), ""}
}

const vdiFix = "the agent must run on the SQL Server machine under an account VDI accepts (Windows: an administrator or a service account; Linux: mssql or a member of its group, as Microsoft's Linux VDI specification says); or set dataPath: url"

// wsaeaddrinuse is Windows' "address in use" (winsock2.h), which syscall does not name.
const wsaeaddrinuse syscall.Errno = 10048

// discard is a backup sink that drops the bytes: the round trip proves the path, not the vault.
type discard struct{}

func (discard) PutBlock(context.Context, string, []byte) error { return nil }
func (discard) Commit(context.Context, []string) error         { return nil }

// roundTrip has SQL Server back up model, COPY_ONLY, to the endpoint: SQL Server must
// resolve the endpoint's name to its address and trust its certificate.
func (e Env) roundTrip(ctx context.Context, name string, conn Instance) Result {
	ep := e.Config.Agent.Endpoint
	srv, err := e.StartEndpoint()
	if err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		if errors.Is(err, syscall.EADDRINUSE) || errno == wsaeaddrinuse {
			return Result{name, Skip, fmt.Sprintf("the endpoint address %s is in use (is the agent service running?): %v", ep.Listen, err),
				"stop the service (sqlvault-worker service stop), run doctor again, then start it"}
		}
		if errors.Is(err, endpoint.ErrPrivilegedPort) {
			return Result{name, Fail, err.Error(), "run doctor as root or Administrator (the service itself has the right to bind port 443)"}
		}
		return Result{name, Fail, err.Error(), "check agent.endpoint (certFile, keyFile, listen); sqlvault-worker setup creates a certificate"}
	}
	defer srv.Close()
	const blob = "doctor.bak"
	sess, err := srv.OpenBackup(map[string]endpoint.BackupSink{blob: discard{}}, 10*time.Minute)
	if err != nil {
		return Result{name, Fail, err.Error(), "check agent.endpoint"}
	}
	defer sess.Close()
	if err := conn.CreateCredential(ctx, sess.ContainerURL(), sess.SAS()); err != nil {
		return Result{name, Fail, "create the session's credential: " + err.Error(), "the login needs CREATE CREDENTIAL (sysadmin has it)"}
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = conn.DropCredential(dctx, sess.ContainerURL())
	}()
	q, args := sqlserver.BackupCommand{Database: "model", Kind: sqlserver.CopyOnlyFull, URLs: []string{sess.URL(blob)}}.Statement()
	if err := conn.Run(ctx, q, args, nil); err != nil {
		return Result{name, Fail, "BACKUP DATABASE model TO URL (COPY_ONLY): " + err.Error(), roundTripFix(err.Error(), ep)}
	}
	p := sess.Progress()
	return Result{name, OK, fmt.Sprintf("SQL Server resolved %s, trusted its certificate and sent a COPY_ONLY backup of model (%d bytes, discarded)", ep.Host, p.Bytes), ""}
}

// roundTripFix reads SQL Server's operating system error in a failed BACKUP TO URL.
func roundTripFix(msg string, ep config.Endpoint) string {
	ip, _, _ := net.SplitHostPort(ep.Listen)
	switch {
	case strings.Contains(msg, "error 12175"), strings.Contains(msg, "error 12045"), strings.Contains(msg, "error 12044"), strings.Contains(msg, "error 12057"):
		return "SQL Server does not trust the endpoint's certificate: run sqlvault-worker setup (it trusts the endpoint's CA in the machine's root store), or trust the CA of " + ep.CertFile + " yourself, then restart SQL Server if it cached the failure"
	case strings.Contains(msg, "error 12007"), strings.Contains(msg, "error 11001"):
		return fmt.Sprintf("SQL Server cannot resolve %s: run sqlvault-worker setup (it adds %s %s to the hosts file), or add that line yourself", ep.Host, ip, ep.Host)
	case strings.Contains(msg, "error 12029"), strings.Contains(msg, "error 12002"), strings.Contains(msg, "error 10061"):
		return fmt.Sprintf("SQL Server resolves %s but cannot connect to it: the hosts file must map it to %s (the endpoint's listen address), and nothing may block port 443 on loopback", ep.Host, ip)
	case strings.Contains(msg, "error 86"):
		return "SQL Server's credential for the endpoint was refused: the clocks of SQL Server and the agent differ, or another credential matches the URL; compare the clocks"
	}
	return fmt.Sprintf("check that %s resolves to %s on this machine (hosts file) and that the machine trusts the endpoint's CA; sqlvault-worker setup does both", ep.Host, ip)
}
