package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/urlpath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/vdipath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/memlimit"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/metrics"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// Instance is one SQL Server instance the agent manages.
type Instance struct {
	// Name is @@SERVERNAME ("VM" or "VM\INSTANCE").
	Name string
	Conn *sqlserver.Conn
	// DataPath is how this instance's backup bytes move (agent.instances[].dataPath);
	// empty means datapath.URL.
	DataPath datapath.Kind
	// Restore is what restores the instance accepts (agent.instances[].restore; "" means
	// protocol.RestoreModeOverwrite).
	Restore string
}

// Agent holds the agent's activities and what they need on the VM. Secrets (SQL
// credentials, the vault credential, the key) live here, never in workflow payloads.
type Agent struct {
	VM        string
	Instances []Instance
	Endpoint  *endpoint.Server
	Vault     *vault.Repository
	// Keys gives the data keys: the active one for a backup, the one a manifest names for
	// a restore (a keys.Ring: the vault's keyring through the KEK).
	Keys keys.Source
	Log  *zap.Logger
	// HeartbeatEvery is how often a stream reports progress (default 5 s).
	HeartbeatEvery time.Duration
	// StallAfter and StallAfterBusy bound a stream without progress (stallWatch); 0 means
	// DefaultStallAfter and DefaultStallAfterBusy.
	StallAfter, StallAfterBusy time.Duration
	// BlocksInFlight is how many blocks per stripe are sealed and staged in the background
	// while SQL Server sends the next (vault.StripeWriterOptions); 0 means 1.
	BlocksInFlight int
	// Memory is the soft memory limit to raise while stripes stream (nil: none).
	Memory *memlimit.Budget
	// RestoreRoots are the folders restores may write to when a request names a path
	// (agent.restoreRoots; package pathpolicy).
	RestoreRoots []string
	// VDI is the machine's VDI client library, for instances whose dataPath is vdi (nil:
	// none; agent.New opens it when an instance needs it).
	VDI vdi.Platform
	// Metrics records the streams (nil: nothing recorded).
	Metrics *metrics.Agent
	// WrapStore wraps each store opened from a step's grant (nil: none).
	WrapStore func(vault.Store) vault.Store

	mu       sync.Mutex
	running  map[string]bool          // item + lane: one data and one log stream per database
	urlPath  *urlpath.Path            // dataPath
	vdiPaths map[string]*vdipath.Path // dataPath, by instance
}

// Register registers the agent's activities under their public names.
func (a *Agent) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.PrepareBackup, activity.RegisterOptions{Name: protocol.ActivityPrepareBackup})
	r.RegisterActivityWithOptions(a.StreamBackup, activity.RegisterOptions{Name: protocol.ActivityStreamBackup})
	r.RegisterActivityWithOptions(a.PrepareRestore, activity.RegisterOptions{Name: protocol.ActivityPrepareRestore})
	r.RegisterActivityWithOptions(a.RestoreStep, activity.RegisterOptions{Name: protocol.ActivityRestoreStep})
	r.RegisterActivityWithOptions(a.RecoverDatabase, activity.RegisterOptions{Name: protocol.ActivityRecoverDatabase})
	r.RegisterActivityWithOptions(a.RestoreAsFiles, activity.RegisterOptions{Name: protocol.ActivityRestoreAsFiles})
	r.RegisterActivityWithOptions(a.VerifyDatabase, activity.RegisterOptions{Name: protocol.ActivityVerifyDatabase})
	r.RegisterActivityWithOptions(a.Discover, activity.RegisterOptions{Name: protocol.ActivityDiscover})
	r.RegisterActivityWithOptions(a.AvailabilityGroupView, activity.RegisterOptions{Name: protocol.ActivityAGView})
	r.RegisterActivityWithOptions(a.DropScratchDatabase, activity.RegisterOptions{Name: protocol.ActivityDropScratchDatabase})
}

func (a *Agent) instance(name string) (*sqlserver.Conn, error) {
	for _, in := range a.Instances {
		if strings.EqualFold(in.Name, name) {
			return in.Conn, nil
		}
	}
	known := make([]string, len(a.Instances))
	for i, in := range a.Instances {
		known[i] = in.Name
	}
	return nil, protocol.UserError(protocol.ErrInstanceNotManaged,
		"the agent on VM %s does not manage instance %q (it manages %s): add it to agent.instances in the worker configuration, or send the backup to the right VM",
		a.VM, name, strings.Join(known, ", "))
}

// restoreTarget is instance name's connection for a restore into it, and what restores
// its agent.instances[].restore accepts (RestoreModeOverwrite, RestoreModeNew); an
// instance that accepts none is refused here.
func (a *Agent) restoreTarget(name string) (*sqlserver.Conn, string, error) {
	conn, err := a.instance(name)
	if err != nil {
		return nil, "", err
	}
	mode := protocol.RestoreModeOverwrite
	for _, in := range a.Instances {
		if strings.EqualFold(in.Name, name) && in.Restore != "" {
			mode = in.Restore
		}
	}
	if mode == protocol.RestoreModeNone {
		return nil, mode, protocol.UserError(protocol.ErrRestoreNotAllowed,
			"the agent on VM %s accepts no restore into instance %s (agent.instances[].restore: none in its configuration): restore into another instance, or as files (asFilesDir); only the VM's administrator can change the setting",
			a.VM, name)
	}
	return conn, mode, nil
}

// refuseReplace is the error for a restore that would replace database db on an instance
// whose agent.instances[].restore is new.
func (a *Agent) refuseReplace(instance, db string) error {
	return protocol.UserError(protocol.ErrRestoreNotAllowed,
		"%s exists on instance %s, and the agent on VM %s does not let restores replace a database there (agent.instances[].restore: new in its configuration): restore under a new name (targetDatabase / --as-name); only the VM's administrator can change the setting",
		sqlserver.QuoteName(protocol.SafeForComment(db)), instance, a.VM)
}

// Stripe sizing: SQL Server writes one Put Block per MAXTRANSFERSIZE (4 MiB here) and a
// blob holds at most 50,000 blocks (~195 GiB), so a stripe is kept under 100 GiB; below
// that, stripes add parallelism on big databases (one per 8 GiB, up to 8).
const (
	maxTransferSize   = 4 << 20
	ioBlockSize       = 65536
	stripeSpeedBytes  = 8 << 30
	stripeLimitBytes  = 100 << 30
	maxSpeedStripes   = 8
	maxStripes        = 64
	statsPercentEvery = 5
)

// StripesFor chooses the stripe count for a database of size bytes.
func StripesFor(size int64) int {
	n := int((size + stripeSpeedBytes - 1) / stripeSpeedBytes)
	n = min(max(n, 1), maxSpeedStripes)
	if byLimit := int((size + stripeLimitBytes - 1) / stripeLimitBytes); byLimit > n {
		n = byLimit
	}
	return min(n, maxStripes)
}

// logSizer tells how much log the next log backup would take (sqlserver.Conn).
type logSizer interface {
	LogBackupBytes(ctx context.Context, db sqlserver.Database) (int64, error)
}

// backupBytes is about what a backup of typ writes, to choose its stripes: a log backup
// takes the log since the last log backup (what SQL Server will write), every other type
// at most the data files.
func backupBytes(ctx context.Context, s logSizer, db sqlserver.Database, typ protocol.BackupType) (int64, error) {
	if typ == protocol.Log {
		return s.LogBackupBytes(ctx, db)
	}
	return db.DataBytes, nil
}

// PrepareBackup checks, on the VM, that the backup can run: the instance is ours, our
// login is sysadmin, the database exists in a state and recovery model that allow this
// type. Each refusal is a named user error saying what to do.
func (a *Agent) PrepareBackup(ctx context.Context, in protocol.PrepareBackupInput) (protocol.PrepareBackupResult, error) {
	var res protocol.PrepareBackupResult
	if err := checkNames("instance", in.Instance, "database", in.Database); err != nil {
		return res, err
	}
	conn, err := a.instance(in.Instance)
	if err != nil {
		return res, err
	}
	srv, err := conn.Server(ctx)
	if err != nil {
		return res, sqlError(err, in.Database)
	}
	if !srv.IsSysadmin {
		return res, notSysadmin(srv)
	}
	db, err := conn.Database(ctx, in.Database)
	if err != nil {
		return res, sqlError(err, in.Database)
	}
	typ, reason := in.Type, ""
	var ag *protocol.AGInfo
	if db.InAvailabilityGp {
		if ag, err = a.agOf(ctx, conn, db); err != nil {
			return res, err
		}
	}
	item := vault.ItemID(protocol.ItemInstance(srv.ServerName, ag), db.Name)
	if in.AutoFull && (typ == protocol.Log || typ == protocol.Differential) && !(typ == protocol.Log && db.RecoveryModel == "SIMPLE") {
		state, maxAge, err := a.chainState(ctx, in, item)
		if err != nil {
			return res, err
		}
		why, err := chainBreak(ctx, conn, db, state, maxAge, typ)
		if err != nil {
			return res, err
		}
		if why != "" {
			typ, reason = protocol.Full, fmt.Sprintf("automatic full instead of a %s backup: %s", in.Type, why)
			a.logger().Warn("chain broken; taking a full", zap.String("database", db.Name), zap.String("reason", why))
		}
	}
	// An on-demand differential is not turned into a full, but one no restore could use is
	// refused: its base must be a full in the vault (the chain state says which; a workflow
	// that passed none is not checked, as before).
	if !in.AutoFull && typ == protocol.Differential && in.Chain != nil && in.Chain.ItemID == item {
		s, _ := in.Chain.Domain()
		if why := differentialBaseBreak(db, s); why != "" {
			return res, protocol.UserError(protocol.ErrNoDifferentialBase, "%s cannot take a differential backup: %s; take a full backup first", db.Name, why)
		}
	}
	if err := checkBackupAllowed(db, typ); err != nil {
		return res, err
	}
	stripes := in.Stripes
	if stripes == 0 {
		size, err := backupBytes(ctx, conn, db, typ)
		if err != nil {
			return res, sqlError(err, in.Database)
		}
		stripes = StripesFor(size)
	}
	return protocol.PrepareBackupResult{
		ServerName: srv.ServerName, ProductVersion: srv.ProductVersion, Edition: srv.Edition,
		Database: db.Name, RecoveryModel: db.RecoveryModel, DataBytes: db.DataBytes, Stripes: stripes,
		ItemID: item, Type: typ, Reason: reason, AG: ag,
	}, nil
}

// agOf returns the availability group db belongs to, as this replica sees it.
func (a *Agent) agOf(ctx context.Context, conn *sqlserver.Conn, db sqlserver.Database) (*protocol.AGInfo, error) {
	ags, err := conn.AvailabilityGroups(ctx)
	if err != nil {
		return nil, sqlError(err, db.Name)
	}
	for _, g := range ags {
		for _, d := range g.Databases {
			if strings.EqualFold(d, db.Name) {
				info := agInfo(g)
				info.LocalPreferred = db.PreferredReplica
				return info, nil
			}
		}
	}
	return nil, nil
}

// agInfo is the protocol's form of a group as this replica sees it: on a secondary the
// other replicas' roles are unknown ("").
func agInfo(g sqlserver.AvailabilityGroup) *protocol.AGInfo {
	info := &protocol.AGInfo{Name: g.Name, Preference: g.Preference}
	for _, r := range g.Replicas {
		info.Replicas = append(info.Replicas, protocol.AGReplica{Server: r.Server, Role: r.Role, BackupPriority: r.BackupPriority})
		if r.Local {
			info.Local = r.Server
		}
	}
	return info
}

// AvailabilityGroupView tells the backup workflow how this replica sees a database's
// group, so that a backup asked of a secondary (which cannot see the primary) can find the
// primary by asking each replica. Read-only; safe to repeat.
func (a *Agent) AvailabilityGroupView(ctx context.Context, in protocol.AGViewInput) (protocol.AGViewResult, error) {
	var res protocol.AGViewResult
	conn, err := a.instance(in.Instance)
	if err != nil {
		return res, err
	}
	db, err := conn.Database(ctx, in.Database)
	if err != nil {
		return res, sqlError(err, in.Database)
	}
	if !db.InAvailabilityGp {
		return res, nil
	}
	res.AG, err = a.agOf(ctx, conn, db)
	return res, err
}

func notSysadmin(srv sqlserver.ServerInfo) error {
	return protocol.UserError(protocol.ErrNotSysadmin,
		"the login %s is not a member of the sysadmin server role on %s, which backup and restore need. Grant it on the instance: ALTER SERVER ROLE [sysadmin] ADD MEMBER %s;",
		srv.Login, srv.ServerName, sqlserver.QuoteName(srv.Login))
}

// checkBackupAllowed applies the rules SQL Server and the product share, before anything runs.
func checkBackupAllowed(db sqlserver.Database, t protocol.BackupType) error {
	switch {
	case db.IsSnapshot:
		return protocol.UserError(protocol.ErrDatabaseSnapshot, "%s is a database snapshot: snapshots cannot be backed up; back up its source database", db.Name)
	case db.IsMirrored:
		return protocol.UserError(protocol.ErrMirroredDatabase, "%s takes part in database mirroring, which sqlvault does not support (as Azure Backup does not)", db.Name)
	case db.State != "ONLINE":
		return protocol.UserError(protocol.ErrDatabaseNotOnline, "%s is %s: only ONLINE databases can be backed up", db.Name, db.State)
	}
	switch t {
	case protocol.Log:
		if db.RecoveryModel == "SIMPLE" {
			return protocol.UserError(protocol.ErrLogBackupSimple,
				"%s uses the SIMPLE recovery model, which keeps no log to back up: take full or differential backups, or switch it with ALTER DATABASE %s SET RECOVERY FULL and take a full backup",
				db.Name, sqlserver.QuoteName(db.Name))
		}
		if db.LastLogBackupLSN == "" {
			return protocol.UserError(protocol.ErrNoLogChain, "%s has no log chain yet (no full backup since it entered FULL recovery): take a full backup first", db.Name)
		}
	case protocol.Differential:
		if db.ReadOnly {
			return protocol.UserError(protocol.ErrReadOnlyDifferential, "%s is read-only: only full and copy-only full backups are supported for read-only databases", db.Name)
		}
	}
	return nil
}

// sqlError turns a classified SQL Server failure into the activity's named error.
func sqlError(err error, database string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var se *sqlserver.Error
	if !errors.As(err, &se) {
		return protocol.RetryableError(protocol.ErrBackupFailed, err, "%v", err)
	}
	user := map[sqlserver.Kind]struct {
		kind string
		what string
	}{
		sqlserver.ErrDatabaseNotFound:      {protocol.ErrDatabaseNotFound, "check the name as sys.databases shows it"},
		sqlserver.ErrLogBackupSimple:       {protocol.ErrLogBackupSimple, "the database uses SIMPLE recovery: take a full or differential backup instead"},
		sqlserver.ErrNoLogChain:            {protocol.ErrNoLogChain, "take a full backup first"},
		sqlserver.ErrNoDifferentialBase:    {protocol.ErrNoDifferentialBase, "there is no full backup to base a differential on: take a full backup first"},
		sqlserver.ErrDatabaseNotOnline:     {protocol.ErrDatabaseNotOnline, "bring the database online first"},
		sqlserver.ErrDatabaseSnapshot:      {protocol.ErrDatabaseSnapshot, "back up the snapshot's source database"},
		sqlserver.ErrSecondaryReplica:      {protocol.ErrSecondaryReplica, "this replica cannot take this backup type: run it on the primary"},
		sqlserver.ErrCompressionNotAllowed: {protocol.ErrCompressionNotSupported, "this edition has no native compression: leave SQL Server compression off (the agent compresses)"},
		sqlserver.ErrNotSysadmin:           {protocol.ErrNotSysadmin, "grant the agent's login the sysadmin role"},
	}
	if u, ok := user[se.Kind]; ok {
		if se.Kind == sqlserver.ErrDatabaseNotFound {
			return protocol.UserError(u.kind, "database %q does not exist on the instance: %s", database, u.what)
		}
		return protocol.UserError(u.kind, "%s (SQL Server error %d: %s)", u.what, se.Number, se.Text)
	}
	kind := protocol.ErrBackupFailed
	switch se.Kind {
	case sqlserver.ErrUnreachable, sqlserver.ErrLoginFailed:
		kind = protocol.ErrSQLServerUnreachable
	case sqlserver.ErrBackupInProgress:
		kind = protocol.ErrBackupInProgress
	}
	return protocol.RetryableError(kind, err, "%v", se)
}

func (a *Agent) lock(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		a.running = map[string]bool{}
	}
	if a.running[key] {
		return false
	}
	a.running[key] = true
	return true
}

func (a *Agent) unlock(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.running, key)
}

// dataPath is the data path of an instance's streams (agent.instances[].dataPath). Each is
// made on first use, once per agent: the URL path from the endpoint (it knows which
// credentials belong to live sessions), a VDI path per instance (VDI names the instance).
func (a *Agent) dataPath(instance string) (datapath.Path, error) {
	kind, name := datapath.URL, instance
	for _, in := range a.Instances {
		if strings.EqualFold(in.Name, instance) {
			name = in.Name
			if in.DataPath != "" {
				kind = in.DataPath
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch kind {
	case datapath.URL:
		if a.urlPath == nil {
			a.urlPath = urlpath.New(a.Endpoint, a.logger())
		}
		return a.urlPath, nil
	case datapath.VDI:
		if a.VDI == nil {
			return nil, protocol.UserError(protocol.ErrInvalidInput, "instance %s: %v", instance, datapath.ErrNoVDI)
		}
		key := strings.ToUpper(name)
		if a.vdiPaths == nil {
			a.vdiPaths = map[string]*vdipath.Path{}
		}
		if a.vdiPaths[key] == nil {
			a.vdiPaths[key] = vdipath.New(a.VDI, vdipath.Options{Instance: vdipath.InstanceName(name), Log: a.logger().Named("vdi")})
		}
		return a.vdiPaths[key], nil
	}
	return nil, protocol.UserError(protocol.ErrInvalidInput, "instance %s: unknown data path %q: use url or vdi", instance, kind)
}

// pathError names a failure the data path reports (a session's Err or Finish): the path's
// own named errors as they are; anything else is the vault's (a sink or source), which SQL
// Server only saw as a failed write or read.
func pathError(err error, verb string) error {
	if protocol.ErrorType(err) != "" {
		return err
	}
	if unauthenticated(err) {
		return protocol.UserError(protocol.ErrUnauthenticated, "%s the vault: %v", verb, err)
	}
	// Retrying would reuse the step's expired grant: only a new run mints another.
	if errors.Is(err, azstore.ErrGrantExpired) {
		return protocol.UserError(protocol.ErrVaultGrantExpired, "%s the vault failed: %v", verb, err)
	}
	return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "%s the vault failed: %v", verb, err)
}

// unauthenticated reports a vault object that failed authentication: a manifest, an index,
// a block list or a block (its GCM tag). Retrying cannot fix it.
func unauthenticated(err error) bool {
	return errors.Is(err, vault.ErrUnauthenticated) || errors.Is(err, blockcrypt.ErrAuth)
}

// vaultReadError names a failure to read what a restore restores: an object that fails
// authentication by name (a user error: the vault was changed by someone without the key),
// anything else as the vault being unavailable (retried).
func vaultReadError(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, azstore.ErrGrantExpired) {
		// Retrying would reuse the step's expired grant: only a new run mints another.
		return protocol.UserError(protocol.ErrVaultGrantExpired, "%s: %v", msg, err)
	}
	if keyFailure(err) {
		// Authenticating what it read needs the key the object names: the keyring's
		// failure (the KEK out of reach, a data key missing) is what to report.
		return keyError(err, msg)
	}
	if unauthenticated(err) {
		return protocol.UserError(protocol.ErrUnauthenticated, "%s: %v", msg, err)
	}
	return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "%s: %v", msg, err)
}

// stepManifest reads the manifest of a restore step, authenticated; a legacy one (written
// before manifests were authenticated) only when the restore was started with
// allowUnauthenticated, and then with a warning in the log.
func (a *Agent) stepManifest(ctx context.Context, repo *vault.Repository, itemID, pointID string, allowUnauthenticated bool) (*vault.Manifest, error) {
	if !allowUnauthenticated {
		m, err := repo.Manifest(ctx, itemID, pointID)
		if err != nil {
			return nil, vaultReadError(err, "read the manifest of %s", pointID)
		}
		return m, nil
	}
	m, legacy, err := repo.ManifestOrLegacy(ctx, itemID, pointID)
	if err != nil {
		return nil, vaultReadError(err, "read the manifest of %s", pointID)
	}
	if legacy {
		a.logger().Warn("restoring from a legacy (unauthenticated) manifest, as the restore allowed; run sqlvault vault upgrade",
			zap.String("item", itemID), zap.String("point", pointID))
	}
	return m, nil
}

// setupError names an error from opening a data path session: the path's own failures are
// protocol errors already; the rest is SQL Server refusing a setup statement.
func setupError(err error, database string) error {
	if protocol.ErrorType(err) != "" {
		return err
	}
	return sqlError(err, database)
}

func (a *Agent) logger() *zap.Logger {
	if a.Log == nil {
		return zap.NewNop()
	}
	return a.Log
}

func deviceName(pointID string, attempt int32, stripe int) string {
	return fmt.Sprintf("%s-a%d-s%d.bak", pointID, attempt, stripe)
}
