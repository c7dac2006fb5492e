// Package sqlserver is the agent's client for one SQL Server instance: discovery queries,
// the per-operation credential, and BACKUP/RESTORE statements with their progress messages.
// It speaks only T-SQL through go-mssqldb, so it works the same against a real SQL Server
// and against the project's simulator.
//
// Identifiers are never spliced into SQL when T-SQL accepts a variable (BACKUP DATABASE
// @db TO URL = @url …); where it does not (CREATE CREDENTIAL), names are bracket-quoted and
// literals quote-escaped by QuoteName and QuoteString.
package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-sql/sqlexp"
	mssql "github.com/microsoft/go-mssqldb"

	"github.com/sqlvault/sqlvault/internal/domain"
)

// Conn is a connection pool to one instance.
type Conn struct {
	db *sql.DB
}

// DefaultMaxOpen is the pool size of Open: enough for the agent's default of 4 steps at once.
const DefaultMaxOpen = 8

// PoolSize is the connections an agent running steps statements at once needs: each step
// holds one session for its BACKUP or RESTORE statement for the statement's whole length,
// and needs a second, briefly, for the probes beside it (sys.dm_exec_requests'
// percent_complete for the heartbeat and the stall watch). With fewer, a probe waits for a
// session its own step's neighbours hold, times out, and the stall watch — which needs the
// probe to tell a restore zeroing its files (no bytes move) from a stuck one — cancels a
// healthy statement. Two per step, plus two for the steps' short queries (prepare, msdb),
// never less than DefaultMaxOpen.
func PoolSize(steps int) int { return max(DefaultMaxOpen, 2*steps+2) }

// Open connects lazily with a go-mssqldb DSN and a pool of DefaultMaxOpen; Ping checks it.
func Open(dsn string) (*Conn, error) { return OpenPool(dsn, DefaultMaxOpen) }

// OpenPool is Open with a pool of maxOpen connections (PoolSize of the agent's concurrency).
func OpenPool(dsn string, maxOpen int) (*Conn, error) {
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlserver: bad connection settings: %w", err)
	}
	db.SetMaxOpenConns(max(maxOpen, 1))
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Conn{db: db}, nil
}

// Close closes the pool.
func (c *Conn) Close() error { return c.db.Close() }

// DB exposes the pool (for tests and ad-hoc queries).
func (c *Conn) DB() *sql.DB { return c.db }

// QuoteName quotes an identifier as T-SQL's QUOTENAME does: [a]]b] for a]b.
func QuoteName(s string) string { return "[" + strings.ReplaceAll(s, "]", "]]") + "]" }

// QuoteString quotes a Unicode string literal: N'it”s'.
func QuoteString(s string) string { return "N'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ServerInfo is what discovery learns about the instance itself.
type ServerInfo struct {
	ServerName     string
	Machine        string
	InstanceName   string
	ProductVersion string
	Edition        string
	EngineEdition  int
	IsClustered    bool
	IsSysadmin     bool
	Login          string
}

// Server reads the instance's identity and whether our login is sysadmin.
func (c *Conn) Server(ctx context.Context) (ServerInfo, error) {
	var s ServerInfo
	var inst sql.NullString
	var clustered, sysadmin sql.NullInt64
	err := c.db.QueryRowContext(ctx, `SELECT @@SERVERNAME,
		CAST(SERVERPROPERTY('MachineName') AS nvarchar(128)),
		CAST(SERVERPROPERTY('InstanceName') AS nvarchar(128)),
		CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)),
		CAST(SERVERPROPERTY('Edition') AS nvarchar(128)),
		CAST(SERVERPROPERTY('EngineEdition') AS int),
		CAST(SERVERPROPERTY('IsClustered') AS int),
		IS_SRVROLEMEMBER('sysadmin'),
		SUSER_SNAME()`).Scan(&s.ServerName, &s.Machine, &inst, &s.ProductVersion, &s.Edition, &s.EngineEdition,
		&clustered, &sysadmin, &s.Login)
	if err != nil {
		return s, Classify(err)
	}
	s.InstanceName = inst.String
	s.IsClustered = clustered.Int64 == 1
	s.IsSysadmin = sysadmin.Int64 == 1
	return s, nil
}

// Database is what the product needs to know about one database to decide what it may do.
type Database struct {
	Name             string
	ID               int
	State            string // ONLINE, RESTORING, OFFLINE, …
	RecoveryModel    string // FULL, SIMPLE, BULK_LOGGED
	ReadOnly         bool
	IsSnapshot       bool
	IsMirrored       bool
	InAvailabilityGp bool
	DataBytes        int64
	LogBytes         int64
	Files            int
	LastLogBackupLSN string // "" when NULL: no log backup is possible yet
	PreferredReplica bool   // sys.fn_hadr_backup_is_preferred_replica
	// GUID is sys.database_recovery_status.database_guid ("" when not online): it tells
	// this incarnation of the database from an earlier one (dropped and created again,
	// restored as new), whose backups' LSNs it may reuse.
	GUID string
	// DifferentialBaseLSN is sys.master_files.differential_base_lsn of the primary data
	// file ("" when NULL): the checkpoint of the full backup a differential taken now would
	// be based on — the last full taken, or the full a restore brought back.
	DifferentialBaseLSN string
}

const databaseQuery = `SELECT d.name, d.database_id, d.state_desc, d.recovery_model_desc, d.is_read_only,
	CASE WHEN d.source_database_id IS NULL THEN 0 ELSE 1 END,
	CASE WHEN m.mirroring_guid IS NULL THEN 0 ELSE 1 END,
	CASE WHEN d.group_database_id IS NULL THEN 0 ELSE 1 END,
	(SELECT CAST(COUNT(*) AS int) FROM sys.master_files f WHERE f.database_id = d.database_id),
	(SELECT CAST(ISNULL(SUM(CAST(f.size AS bigint)), 0) * 8192 AS bigint) FROM sys.master_files f WHERE f.database_id = d.database_id AND f.type = 0),
	(SELECT CAST(ISNULL(SUM(CAST(f.size AS bigint)), 0) * 8192 AS bigint) FROM sys.master_files f WHERE f.database_id = d.database_id AND f.type = 1),
	CAST(r.last_log_backup_lsn AS nvarchar(40)),
	sys.fn_hadr_backup_is_preferred_replica(d.name), r.database_guid,
	(SELECT CAST(MAX(f.differential_base_lsn) AS nvarchar(40)) FROM sys.master_files f WHERE f.database_id = d.database_id AND f.file_id = 1)
	FROM sys.databases AS d
	LEFT JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
	LEFT JOIN sys.database_recovery_status AS r ON r.database_id = d.database_id`

func scanDatabase(row interface{ Scan(...any) error }) (Database, error) {
	var d Database
	var lastLog, diffBase sql.NullString
	var snap, mirror, ag int
	var guid mssql.NullUniqueIdentifier
	err := row.Scan(&d.Name, &d.ID, &d.State, &d.RecoveryModel, &d.ReadOnly, &snap, &mirror, &ag, &d.Files,
		&d.DataBytes, &d.LogBytes, &lastLog, &d.PreferredReplica, &guid, &diffBase)
	d.DifferentialBaseLSN = diffBase.String
	d.GUID = guidString(guid)
	d.IsSnapshot, d.IsMirrored, d.InAvailabilityGp = snap == 1, mirror == 1, ag == 1
	d.LastLogBackupLSN = lastLog.String
	return d, err
}

// Database looks one database up by name; ErrDatabaseNotFound if it does not exist.
func (c *Conn) Database(ctx context.Context, name string) (Database, error) {
	d, err := scanDatabase(c.db.QueryRowContext(ctx, databaseQuery+" WHERE d.name = @p1", name))
	if errors.Is(err, sql.ErrNoRows) {
		return d, &Error{Kind: ErrDatabaseNotFound, Database: name}
	}
	if err != nil {
		return d, Classify(err)
	}
	return d, nil
}

// Databases lists the user databases (database_id > 4).
func (c *Conn) Databases(ctx context.Context) ([]Database, error) {
	rows, err := c.db.QueryContext(ctx, databaseQuery+" WHERE d.database_id > 4 ORDER BY d.name")
	if err != nil {
		return nil, Classify(err)
	}
	defer rows.Close()
	var out []Database
	for rows.Next() {
		d, err := scanDatabase(rows)
		if err != nil {
			return nil, Classify(err)
		}
		out = append(out, d)
	}
	return out, Classify(rows.Err())
}

// CreateCredential creates (or replaces) the SAS credential SQL Server uses for URLs under
// containerURL. The secret travels only to SQL Server, over this connection.
func (c *Conn) CreateCredential(ctx context.Context, containerURL, sas string) error {
	name := QuoteName(containerURL)
	q := fmt.Sprintf(`IF EXISTS (SELECT 1 FROM sys.credentials WHERE name = %s) DROP CREDENTIAL %s;
CREATE CREDENTIAL %s WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = %s`,
		QuoteString(containerURL), name, name, QuoteString(strings.TrimPrefix(sas, "?")))
	if _, err := c.db.ExecContext(ctx, q); err != nil {
		return Classify(err)
	}
	return nil
}

// DropCredential removes the credential; a missing one is not an error.
func (c *Conn) DropCredential(ctx context.Context, containerURL string) error {
	q := fmt.Sprintf("IF EXISTS (SELECT 1 FROM sys.credentials WHERE name = %s) DROP CREDENTIAL %s",
		QuoteString(containerURL), QuoteName(containerURL))
	if _, err := c.db.ExecContext(ctx, q); err != nil {
		return Classify(err)
	}
	return nil
}

// BackupKind is what BACKUP produces.
type BackupKind string

// Backup kinds.
const (
	Full         BackupKind = "full"
	Differential BackupKind = "differential"
	Log          BackupKind = "log"
	CopyOnlyFull BackupKind = "copy-only-full"
)

// DeviceType is the kind of backup device a BACKUP or RESTORE names.
type DeviceType string

// Device types.
const (
	DeviceURL  DeviceType = "URL"
	DeviceDisk DeviceType = "DISK"
	// DeviceVirtual is a VDI virtual device set (BACKUP … TO VIRTUAL_DEVICE = N'<name>'),
	// the device clause VDI clients issue; see FIDELITY.md, "VDI (issue 14)".
	DeviceVirtual DeviceType = "VIRTUAL_DEVICE"
)

func (t DeviceType) orURL() DeviceType {
	if t == "" {
		return DeviceURL
	}
	return t
}

// BackupCommand is one BACKUP statement to URL (or virtual) devices.
type BackupCommand struct {
	Database string
	Kind     BackupKind
	// URLs are the devices, one per stripe: URLs, or virtual device names when DeviceType
	// is DeviceVirtual.
	URLs        []string
	DeviceType  DeviceType // empty: DeviceURL
	Compression bool       // SQL Server's own COMPRESSION (not on Express)
	// MaxTransferSize is bytes per Put Block; BlockSize the I/O block size.
	MaxTransferSize int
	BlockSize       int
	Stats           int
	NoRecovery      bool // tail-log backup
}

// Statement renders the BACKUP with every name and URL as a parameter: @p1 is the database,
// @p2… the devices. Options are fixed keywords and integers chosen by the product.
func (b BackupCommand) Statement() (string, []any) {
	var sb strings.Builder
	args := []any{b.Database}
	if b.Kind == Log {
		sb.WriteString("BACKUP LOG @p1 TO ")
	} else {
		sb.WriteString("BACKUP DATABASE @p1 TO ")
	}
	for i, u := range b.URLs {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s = @p%d", b.DeviceType.orURL(), i+2)
		args = append(args, u)
	}
	opts := []string{"FORMAT", "CHECKSUM"}
	switch b.Kind {
	case Differential:
		opts = append(opts, "DIFFERENTIAL")
	case CopyOnlyFull:
		opts = append(opts, "COPY_ONLY")
	}
	if b.Compression {
		opts = append(opts, "COMPRESSION")
	} else {
		opts = append(opts, "NO_COMPRESSION")
	}
	if b.MaxTransferSize > 0 {
		opts = append(opts, fmt.Sprintf("MAXTRANSFERSIZE = %d", b.MaxTransferSize))
	}
	if b.BlockSize > 0 {
		opts = append(opts, fmt.Sprintf("BLOCKSIZE = %d", b.BlockSize))
	}
	if b.Stats > 0 {
		opts = append(opts, fmt.Sprintf("STATS = %d", b.Stats))
	}
	if b.NoRecovery {
		opts = append(opts, "NORECOVERY")
	}
	sb.WriteString(" WITH ")
	sb.WriteString(strings.Join(opts, ", "))
	return sb.String(), args
}

// Message is one informational message SQL Server sent while a statement ran.
type Message struct {
	Number int32
	Text   string
}

// Run executes a statement, calling onMessage for each INFO message as it arrives (BACKUP's
// STATS progress), and returns SQL Server's error classified.
func (c *Conn) Run(ctx context.Context, query string, args []any, onMessage func(Message)) error {
	return run(ctx, c.db, query, args, onMessage)
}

// querier is a pool or one connection of it.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func run(ctx context.Context, db querier, query string, args []any, onMessage func(Message)) error {
	retmsg := &sqlexp.ReturnMessage{}
	rows, err := db.QueryContext(ctx, query, append([]any{retmsg}, args...)...)
	if err != nil {
		return Classify(err)
	}
	defer rows.Close()
	var errs []mssql.Error
	var other error
	for more := true; more; {
		switch m := retmsg.Message(ctx).(type) {
		case sqlexp.MsgNotice:
			if me, ok := m.Message.(mssql.Error); ok && onMessage != nil {
				onMessage(Message{Number: me.Number, Text: me.Message})
			}
		case sqlexp.MsgError:
			var me mssql.Error
			if errors.As(m.Error, &me) {
				errs = append(errs, me)
			} else if other == nil {
				other = m.Error
			}
		case sqlexp.MsgNextResultSet:
			more = rows.NextResultSet()
		case sqlexp.MsgNext:
			for rows.Next() {
			}
		}
	}
	if len(errs) > 0 {
		last := errs[len(errs)-1]
		last.All = errs
		return Classify(last)
	}
	if other != nil {
		return Classify(other)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return Classify(rows.Err())
}

// BackupSet is the msdb.dbo.backupset row of one backup, as SQL Server recorded it.
type BackupSet struct {
	ID                   int64
	Type                 string // D, I, L
	CopyOnly             bool
	FirstLSN             string
	LastLSN              string
	CheckpointLSN        string
	DatabaseBackupLSN    string
	DifferentialBaseLSN  string
	DifferentialBaseGUID string
	BackupSetGUID        string
	DatabaseGUID         string
	FamilyGUID           string
	// Start and Finish are instants (UTC). msdb's backup_start_date and backup_finish_date
	// are the server's local time with no offset (see localtime.go); they are converted with
	// UTCOffsetMinutes.
	Start, Finish time.Time
	// UTCOffsetMinutes is the server's local time minus UTC when the backup ran, from
	// backupset.time_zone, or the server's current offset when msdb does not know it.
	UTCOffsetMinutes int
	// LocalStart is backup_start_date as msdb holds it (the server's wall clock), to compare
	// with other msdb dates.
	LocalStart      time.Time
	SizeBytes       int64
	CompressedBytes int64 // backup_size when msdb has NULL (after an msdb upgrade)
	HasChecksums    bool
	RecoveryModel   string
	Families        int // backupmediaset.media_family_count: the stripes of the media set
	Devices         []string
	// FirstForkGUID and ForkGUID are backupset's first_recovery_fork_guid and
	// last_recovery_fork_guid; ForkPointLSN is fork_point_lsn, set ("" otherwise) when they
	// differ: the backup spans the point where a restore recovered and began a new recovery
	// fork. ForkTime, for such a backup only, is when that fork began as far as msdb tells
	// (see ForkStart); nil when msdb does not say.
	FirstForkGUID, ForkGUID string
	ForkPointLSN            string
	ForkTime                *time.Time
}

// BackupSetByDevice finds the newest backup set that wrote to device URL, or nil.
func (c *Conn) BackupSetByDevice(ctx context.Context, url string) (*BackupSet, error) {
	return c.backupSet(ctx, "mf.physical_device_name = @p1", url)
}

// BackupSetByDeviceSuffix finds the newest backup set one of whose devices ends with
// suffix (e.g. "/<point>-a2-s1.bak", whatever the endpoint's host and session were), or nil.
func (c *Conn) BackupSetByDeviceSuffix(ctx context.Context, suffix string) (*BackupSet, error) {
	// RIGHT/LEN rather than LIKE: the suffix is compared literally, wildcards and all.
	return c.backupSet(ctx, "RIGHT(mf.physical_device_name, LEN(@p1)) = @p1", suffix)
}

func (c *Conn) backupSet(ctx context.Context, where string, arg string) (*BackupSet, error) {
	return c.backupSetWhere(ctx, where, arg)
}

func (c *Conn) backupSetWhere(ctx context.Context, where string, args ...any) (*BackupSet, error) {
	row := c.db.QueryRowContext(ctx, `SELECT TOP (1) bs.backup_set_id, bs.type, bs.is_copy_only,
		CAST(bs.first_lsn AS nvarchar(40)), CAST(bs.last_lsn AS nvarchar(40)), CAST(bs.checkpoint_lsn AS nvarchar(40)),
		CAST(bs.database_backup_lsn AS nvarchar(40)), CAST(bs.differential_base_lsn AS nvarchar(40)),
		bs.differential_base_guid, bs.backup_set_uuid, bs.database_guid, bs.family_guid,
		bs.backup_start_date, bs.backup_finish_date, CAST(bs.backup_size AS bigint), CAST(bs.compressed_backup_size AS bigint),
		bs.has_backup_checksums, bs.recovery_model, CAST(ms.media_family_count AS int), mf.physical_device_name,
		bs.first_recovery_fork_guid, bs.last_recovery_fork_guid, CAST(bs.fork_point_lsn AS nvarchar(40)), bs.database_name, CAST(bs.time_zone AS int)
		FROM msdb.dbo.backupset AS bs
		JOIN msdb.dbo.backupmediaset AS ms ON ms.media_set_id = bs.media_set_id
		JOIN msdb.dbo.backupmediafamily AS mf ON mf.media_set_id = bs.media_set_id
		WHERE `+where+`
		ORDER BY bs.backup_set_id DESC`, args...)
	var b BackupSet
	var dbLSN, diffLSN sql.NullString
	var device string
	var diffGUID, setGUID, dbGUID, famGUID, firstFork, lastFork mssql.NullUniqueIdentifier
	var forkPoint sql.NullString
	var dbName string
	var compressed sql.NullInt64
	var tz sql.NullInt32
	err := row.Scan(&b.ID, &b.Type, &b.CopyOnly, &b.FirstLSN, &b.LastLSN, &b.CheckpointLSN, &dbLSN, &diffLSN,
		&diffGUID, &setGUID, &dbGUID, &famGUID, &b.Start, &b.Finish, &b.SizeBytes, &compressed, &b.HasChecksums,
		&b.RecoveryModel, &b.Families, &device, &firstFork, &lastFork, &forkPoint, &dbName, &tz)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, Classify(err)
	}
	b.DatabaseBackupLSN, b.DifferentialBaseLSN = dbLSN.String, diffLSN.String
	off, known := offsetFromTimeZone(tz)
	if !known {
		if off, err = c.UTCOffset(ctx); err != nil {
			return nil, err
		}
	}
	b.UTCOffsetMinutes = off
	b.LocalStart = domain.WallClock(b.Start)
	b.Start, b.Finish = domain.FromServerLocal(b.Start, off), domain.FromServerLocal(b.Finish, off)
	// compressed_backup_size is NULL after an msdb upgrade, which Microsoft documents as
	// "an uncompressed backup": the stored size is then the backup size.
	b.CompressedBytes = b.SizeBytes
	if compressed.Valid {
		b.CompressedBytes = compressed.Int64
	}
	b.Devices = []string{device}
	b.DifferentialBaseGUID = guidString(diffGUID)
	b.BackupSetGUID, b.DatabaseGUID, b.FamilyGUID = guidString(setGUID), guidString(dbGUID), guidString(famGUID)
	b.FirstForkGUID, b.ForkGUID = guidString(firstFork), guidString(lastFork)
	if b.FirstForkGUID != "" && b.ForkGUID != "" && !strings.EqualFold(b.FirstForkGUID, b.ForkGUID) {
		b.ForkPointLSN = forkPoint.String
		t, err := c.ForkStart(ctx, dbName, b.LocalStart, b.Start, off)
		if err != nil {
			return nil, err
		}
		b.ForkTime = t
	}
	return &b, nil
}

// ForkStart is the instant from which a recovery fork of database that began before the
// backup (backup_start_date localStart on the server's clock, instant start, server offset
// offset) holds changes, as msdb tells it: the start of the newest restore step into the
// database before the backup (msdb.dbo.restorehistory.restore_date). The fork began when
// that restore sequence recovered, which is at or after the step's start; nothing was
// written to the database in between, as it was RESTORING. nil when msdb has no such row
// (history purged, or recovered by RESTORE … WITH RECOVERY alone, which restores no
// backup set): then no instant before the backup is credited to the fork.
//
// restore_date is local time with no offset, and msdb does not record the offset of a
// restore. It is converted with the smallest of the offsets known around it (the backup's,
// and that of the newest backup on the server that started before the restore): a smaller
// offset gives a later instant, and a fork start that is late only leaves instants
// unrestorable, while one that is early would credit the fork with instants it never held.
func (c *Conn) ForkStart(ctx context.Context, database string, localStart, start time.Time, offset int) (*time.Time, error) {
	var t sql.NullTime
	err := c.db.QueryRowContext(ctx, `SELECT MAX(restore_date) FROM msdb.dbo.restorehistory
		WHERE destination_database_name = @p1 AND restore_date <= @p2`, database, mssql.DateTime1(localStart)).Scan(&t)
	if err != nil {
		return nil, Classify(err)
	}
	if !t.Valid {
		return nil, nil
	}
	var tz sql.NullInt32
	err = c.db.QueryRowContext(ctx, `SELECT TOP (1) CAST(time_zone AS int) FROM msdb.dbo.backupset
		WHERE backup_start_date <= @p1 ORDER BY backup_start_date DESC`, mssql.DateTime1(domain.WallClock(t.Time))).Scan(&tz)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, Classify(err)
	}
	if before, known := offsetFromTimeZone(tz); known && before < offset {
		offset = before
	}
	fork := domain.FromServerLocal(t.Time, offset)
	if fork.After(start) {
		fork = start // the fork began before its first backup did
	}
	return &fork, nil
}

func guidString(g mssql.NullUniqueIdentifier) string {
	if !g.Valid {
		return ""
	}
	return g.UUID.String()
}

// Credentials lists the names of the instance's credentials that start with prefix.
func (c *Conn) Credentials(ctx context.Context, prefix string) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT name FROM sys.credentials WHERE LEFT(name, LEN(@p1)) = @p1", prefix)
	if err != nil {
		return nil, Classify(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, Classify(err)
		}
		out = append(out, n)
	}
	return out, Classify(rows.Err())
}

// AGReplica is one replica of an availability group.
type AGReplica struct {
	Server         string
	Role           string // PRIMARY, SECONDARY, RESOLVING; "" where this instance cannot see it
	BackupPriority int
	Local          bool // the replica on this instance
}

// AvailabilityGroup is an availability group as this instance sees it.
type AvailabilityGroup struct {
	Name       string
	Preference string // primary, secondary_only, secondary, none
	Replicas   []AGReplica
	Databases  []string
}

// AvailabilityGroups lists the availability groups this instance takes part in. Every
// replica comes from sys.availability_replicas (the group's metadata, the same on every
// replica); its role from sys.dm_hadr_availability_replica_states, which on a secondary
// holds only the local row (Microsoft's documentation of the view), so there the other
// replicas' roles are "".
func (c *Conn) AvailabilityGroups(ctx context.Context) ([]AvailabilityGroup, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT ag.name, ag.automated_backup_preference_desc, ar.replica_server_name,
		ar.backup_priority, ISNULL(rs.role_desc, N''), CASE WHEN rs.is_local = 1 THEN 1 ELSE 0 END
		FROM sys.availability_groups AS ag
		JOIN sys.availability_replicas AS ar ON ar.group_id = ag.group_id
		LEFT JOIN sys.dm_hadr_availability_replica_states AS rs ON rs.replica_id = ar.replica_id
		ORDER BY ag.name, ar.replica_server_name`)
	if err != nil {
		return nil, Classify(err)
	}
	byName := map[string]*AvailabilityGroup{}
	var out []*AvailabilityGroup
	for rows.Next() {
		var name, pref, server, role string
		var prio, local int
		if err := rows.Scan(&name, &pref, &server, &prio, &role, &local); err != nil {
			rows.Close()
			return nil, Classify(err)
		}
		ag := byName[name]
		if ag == nil {
			ag = &AvailabilityGroup{Name: name, Preference: pref}
			byName[name] = ag
			out = append(out, ag)
		}
		ag.Replicas = append(ag.Replicas, AGReplica{Server: server, Role: role, BackupPriority: prio, Local: local == 1})
	}
	rows.Close()
	dbRows, err := c.db.QueryContext(ctx, `SELECT ag.name, adc.database_name FROM sys.availability_groups AS ag
		JOIN sys.availability_databases_cluster AS adc ON adc.group_id = ag.group_id ORDER BY adc.database_name`)
	if err != nil {
		return nil, Classify(err)
	}
	defer dbRows.Close()
	for dbRows.Next() {
		var name, db string
		if err := dbRows.Scan(&name, &db); err != nil {
			return nil, Classify(err)
		}
		if ag := byName[name]; ag != nil {
			ag.Databases = append(ag.Databases, db)
		}
	}
	res := make([]AvailabilityGroup, len(out))
	for i, ag := range out {
		res[i] = *ag
	}
	return res, Classify(dbRows.Err())
}

// LatestBackupSet returns the newest backup set of a database of a type (D, I, L), counting
// copy-only ones only when copyOnly is true, or nil.
func (c *Conn) LatestBackupSet(ctx context.Context, database, typ string, copyOnly bool) (*BackupSet, error) {
	bs, err := c.backupSetWhere(ctx, "bs.database_name = @p1 AND bs.type = @p2 AND (bs.is_copy_only = 0 OR @p3 = 1)", database, typ, copyOnly)
	return bs, err
}

// BackupSetByLastLSN finds the log backup of a database that ended at lsn, or nil.
func (c *Conn) BackupSetByLastLSN(ctx context.Context, database, lsn string) (*BackupSet, error) {
	return c.backupSetWhere(ctx, "bs.database_name = @p1 AND bs.type = 'L' AND CAST(bs.last_lsn AS nvarchar(40)) = @p2", database, lsn)
}

// LogBackupBytes estimates what BACKUP LOG would write now: the log since the last log
// backup (sys.dm_db_log_stats.log_since_last_log_backup_mb, SQL Server 2016 SP2 and later).
// Where that is not known — older builds (error 208: no such function), or NULL (an
// availability-group secondary returns only a few of its columns) — it falls back to the
// size of the log files (db.LogBytes), the most a log backup can hold, so stripes are never
// too few.
func (c *Conn) LogBackupBytes(ctx context.Context, db Database) (int64, error) {
	var mb sql.NullFloat64
	err := c.db.QueryRowContext(ctx, `SELECT ls.log_since_last_log_backup_mb FROM sys.dm_db_log_stats(@p1) AS ls`, db.ID).Scan(&mb)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return db.LogBytes, nil
	case err != nil:
		var me mssql.Error
		if errors.As(err, &me) && me.Number == 208 {
			return db.LogBytes, nil
		}
		return 0, Classify(err)
	case !mb.Valid:
		return db.LogBytes, nil
	}
	return int64(mb.Float64 * (1 << 20)), nil
}

// Now is the server's clock, as an instant (SYSUTCDATETIME: SYSDATETIME is local time).
func (c *Conn) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := c.db.QueryRowContext(ctx, "SELECT SYSUTCDATETIME()").Scan(&t)
	return domain.WallClock(t), Classify(err)
}
