package sqlsim

import (
	"sync/atomic"
	"time"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// msdbHistory is an instance's msdb backup and restore history.
type msdbHistory struct {
	sets      []*backupSetRow
	families  []mediaFamilyRow
	mediaSets []mediaSetRow
	restores  []restoreRow
}

type mediaFamilyRow struct {
	mediaSetID int32
	seq        uint8
	familyID   sqltypes.UUID
	device     string
	deviceType uint8 // media.DeviceDisk, media.DeviceURL
}

type mediaSetRow struct {
	id         int32
	uuid       sqltypes.UUID
	families   uint8
	compressed bool
}

type restoreRow struct {
	id          int32
	date        time.Time
	dest        string
	user        string
	backupSetID any
	typ         string
	replace     bool
	recovery    bool
	stopAt      time.Time
}

// backupSetRow is one msdb.dbo.backupset row.
type backupSetRow struct {
	id                  int32
	uuid                sqltypes.UUID
	mediaSetID          int32
	families            uint8
	name, description   any
	user                string
	major, minor, build int32
	server, machine     string
	database            string
	databaseGUID        sqltypes.UUID
	familyGUID          sqltypes.UUID
	created             time.Time
	start, finish       time.Time
	typ                 string // D, I, L
	firstLSN, lastLSN   sqltypes.Decimal
	checkpointLSN       sqltypes.Decimal
	databaseBackupLSN   any // numeric or NULL
	diffBaseLSN         any
	diffBaseGUID        any
	forkGUID            sqltypes.UUID
	firstForkGUID       sqltypes.UUID
	forkPointLSN        any // numeric, or NULL when the backup does not span a fork point
	beginsLogChain      bool
	checksums           bool
	copyOnly            bool
	readOnly            bool
	recovery            string
	size, compressed    int64
	collation           string
	// upgraded: the row predates an msdb upgrade (SimulateMsdbUpgrade), which leaves the
	// columns Microsoft documents as nullable NULL.
	upgraded bool
	// zone is the zone of the server that took the backup: its dates are that server's
	// local time, and time_zone is its offset (zone.go).
	zone *time.Location
}

var backupsetColumns = []sqltypes.Column{
	col("backup_set_id", sqltypes.Int), col("backup_set_uuid", sqltypes.UniqueIdentifier), col("media_set_id", sqltypes.Int),
	col("first_family_number", sqltypes.TinyInt), col("last_family_number", sqltypes.TinyInt),
	nvarchar("name", 128), nvarchar("description", 255), nvarchar("user_name", 128),
	col("software_major_version", sqltypes.TinyInt), col("software_minor_version", sqltypes.TinyInt),
	col("software_build_version", sqltypes.SmallInt), nvarchar("server_name", 128), nvarchar("machine_name", 128),
	nvarchar("database_name", 128), col("database_guid", sqltypes.UniqueIdentifier), col("family_guid", sqltypes.UniqueIdentifier),
	col("database_creation_date", sqltypes.DateTime), col("backup_start_date", sqltypes.DateTime),
	col("backup_finish_date", sqltypes.DateTime), nvarchar("type", 1),
	col("first_lsn", sqltypes.Numeric), col("last_lsn", sqltypes.Numeric), col("checkpoint_lsn", sqltypes.Numeric),
	col("database_backup_lsn", sqltypes.Numeric), col("differential_base_lsn", sqltypes.Numeric),
	col("differential_base_guid", sqltypes.UniqueIdentifier), col("first_recovery_fork_guid", sqltypes.UniqueIdentifier),
	col("last_recovery_fork_guid", sqltypes.UniqueIdentifier), col("fork_point_lsn", sqltypes.Numeric),
	col("begins_log_chain", sqltypes.Bit), col("has_backup_checksums", sqltypes.Bit), col("is_copy_only", sqltypes.Bit),
	col("is_damaged", sqltypes.Bit), col("is_readonly", sqltypes.Bit), col("is_snapshot", sqltypes.Bit),
	nvarchar("recovery_model", 60), sqltypes.Column{Name: "backup_size", Type: sqltypes.Numeric, Precision: 20},
	sqltypes.Column{Name: "compressed_backup_size", Type: sqltypes.Numeric, Precision: 20},
	nvarchar("collation_name", 128), col("compatibility_level", sqltypes.TinyInt),
	col("time_zone", sqltypes.SmallInt),
}

func (r *backupSetRow) row() []any {
	var first, last, compressed any = uint8(1), r.families, decimalInt(r.compressed)
	if r.upgraded {
		first, last, compressed = nil, nil, nil
	}
	return []any{
		r.id, r.uuid, r.mediaSetID, first, last, r.name, r.description, r.user,
		uint8(r.major), uint8(r.minor), int16(r.build), r.server, r.machine,
		r.database, r.databaseGUID, r.familyGUID, r.local(r.created), r.local(r.start), r.local(r.finish), r.typ,
		r.firstLSN, r.lastLSN, r.checkpointLSN, r.databaseBackupLSN, r.diffBaseLSN, r.diffBaseGUID,
		r.firstForkGUID, r.forkGUID, r.forkPointLSN, r.beginsLogChain, r.checksums, r.copyOnly, false, r.readOnly, false,
		r.recovery, decimalInt(r.size), compressed, r.collation, uint8(160),
		tzIntervals(r.start, r.loc()),
	}
}

func (r *backupSetRow) loc() *time.Location {
	if r.zone == nil {
		return time.UTC
	}
	return r.zone
}

func (r *backupSetRow) local(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(r.loc())
}

// request is a running BACKUP or RESTORE as sys.dm_exec_requests shows it.
type request struct {
	command string
	dbID    int32
	start   time.Time
	done    atomic.Int64
	total   int64
}

func (r *request) percent() float64 {
	if r.total <= 0 {
		return 0
	}
	p := float64(r.done.Load()) * 100 / float64(r.total)
	if p > 100 {
		p = 100
	}
	return p
}

// SimulateMsdbUpgrade makes every backupset row so far look as it does after an msdb
// upgrade: compressed_backup_size NULL (Microsoft's backupset page: "During an msdb upgrade,
// this value is set to NULL"), and first/last_family_number NULL (documented as "Can be
// NULL"; that an upgrade is when is the simulator's assumption). Tests use it to prove the
// product reads what is documented as always there (backupmediaset.media_family_count) and
// survives the nullable columns.
func (in *Instance) SimulateMsdbUpgrade() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.msdb.sets {
		r.upgraded = true
	}
}
