package sqlsim

import (
	"fmt"
	"strings"

	"github.com/sqlvault/sqlvault/internal/sqlsim/query"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// env is the query evaluator's window on the instance: catalog views, system functions and
// variables.
type env struct{ x *executor }

// col is a shorthand for result column declarations.
func col(name string, t sqltypes.Type) sqltypes.Column {
	c := sqltypes.Column{Name: name, Type: t}
	switch t {
	case sqltypes.NVarChar:
		c.Size = 256
	case sqltypes.Numeric:
		c.Precision, c.Scale = 25, 0
	}
	return c
}

func nvarchar(name string, size int) sqltypes.Column {
	return sqltypes.Column{Name: name, Type: sqltypes.NVarChar, Size: size}
}

func (e *env) Table(name tsql.Name, args []any) (*query.Table, error) {
	parts := name.Parts
	display := strings.Join(parts, ".")
	// Normalise to schema.object with the database part checked: sys views live in every
	// database (sys.databases is server-wide anyway); msdb.dbo tables only in msdb.
	var dbPart, schema, object string
	switch len(parts) {
	case 1:
		object = parts[0]
	case 2:
		schema, object = parts[0], parts[1]
	case 3:
		dbPart, schema, object = parts[0], parts[1], parts[2]
	case 4:
		return nil, sqlErr(7202, "Could not find server '%s' in sys.servers.", parts[0])
	default:
		return nil, sqlErr(208, "Invalid object name '%s'.", display)
	}
	in := e.x.s.in
	if dbPart != "" {
		if _, ok := in.Database(dbPart); !ok {
			return nil, sqlErr(911, "Database '%s' does not exist. Make sure that the name is entered correctly.", dbPart)
		}
	}
	schema = strings.ToLower(schema)
	object = strings.ToLower(object)
	current := e.x.s.currentDB()
	inDB := current
	if dbPart != "" {
		inDB = dbPart
	}
	if schema == "sys" && object == "dm_db_log_stats" {
		return e.x.logStats(args)
	}
	if schema == "sys" {
		if t := in.sysView(object, inDB, e.x.s); t != nil {
			return t, nil
		}
	}
	if (schema == "dbo" || schema == "") && strings.EqualFold(inDB, "msdb") {
		if t := in.msdbTable(object); t != nil {
			return t, nil
		}
	}
	if t, err := in.userTableView(inDB, schema, object); t != nil || err != nil {
		return t, err
	}
	return nil, sqlErr(208, "Invalid object name '%s'.", display)
}

func (e *env) Variable(name string) (any, sqltypes.Type, bool) {
	s := e.x.s
	if strings.HasPrefix(name, "@") {
		in := s.in
		switch strings.ToUpper(name[1:]) {
		case "VERSION":
			return in.versionString(), sqltypes.NVarChar, true
		case "SERVERNAME":
			return in.ServerName(), sqltypes.NVarChar, true
		case "SERVICENAME":
			if in.cfg.Instance == "" {
				return "MSSQLSERVER", sqltypes.NVarChar, true
			}
			return in.cfg.Instance, sqltypes.NVarChar, true
		case "SPID":
			return int16(s.id), sqltypes.SmallInt, true
		case "ROWCOUNT":
			s.mu.Lock()
			defer s.mu.Unlock()
			return int32(s.rowcount), sqltypes.Int, true
		case "ERROR":
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.lastErr, sqltypes.Int, true
		case "TRANCOUNT":
			return int32(0), sqltypes.Int, true
		case "LANGUAGE":
			return "us_english", sqltypes.NVarChar, true
		}
		return nil, 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vars[strings.ToLower(name)]
	return v.value, v.typ, ok
}

func (in *Instance) versionString() string {
	return fmt.Sprintf("Microsoft SQL Server 2022 (RTM-CU) - %s (X64) \n\t(SQL Server simulator) \n\t%s on Linux (sqlvault sqlsim)", in.cfg.Version, strings.TrimSuffix(string(in.cfg.Edition), " (64-bit)"))
}

func (e *env) Function(name tsql.Name, args []any) (any, sqltypes.Type, bool, error) {
	in := e.x.s.in
	fn := strings.ToLower(name.Last())
	if len(name.Parts) > 1 && !strings.EqualFold(name.Parts[len(name.Parts)-2], "sys") {
		return nil, 0, false, nil
	}
	str := func(i int) (string, bool) {
		if i >= len(args) || args[i] == nil {
			return "", false
		}
		s, ok := args[i].(string)
		return s, ok
	}
	switch fn {
	case "getdate", "sysdatetime", "getutcdate", "sysutcdatetime", "current_timestamp":
		// GETDATE/SYSDATETIME/CURRENT_TIMESTAMP: the server's local time; GETUTCDATE and
		// SYSUTCDATETIME: UTC (see zone.go for the source).
		t := in.localNow()
		if fn == "getutcdate" || fn == "sysutcdatetime" {
			t = t.UTC()
		}
		if fn == "getdate" || fn == "getutcdate" || fn == "current_timestamp" {
			return t, sqltypes.DateTime, true, nil
		}
		return t, sqltypes.DateTime2, true, nil
	case "is_srvrolemember":
		role, _ := str(0)
		login := e.x.s.login
		if l, ok := str(1); ok {
			login = l
		}
		if !strings.EqualFold(role, "sysadmin") {
			if strings.EqualFold(role, "public") {
				return int32(1), sqltypes.Int, true, nil
			}
			return nil, sqltypes.Int, true, nil
		}
		in.mu.Lock()
		l, exists := in.logins[strings.ToUpper(login)]
		in.mu.Unlock()
		if !exists {
			return nil, sqltypes.Int, true, nil
		}
		if l.Sysadmin {
			return int32(1), sqltypes.Int, true, nil
		}
		return int32(0), sqltypes.Int, true, nil
	case "suser_sname", "suser_name", "original_login", "system_user":
		return e.x.s.login, sqltypes.NVarChar, true, nil
	case "db_name":
		if len(args) == 0 || args[0] == nil {
			return e.x.s.currentDB(), sqltypes.NVarChar, true, nil
		}
		id, ok := toInt64(args[0])
		if !ok {
			return nil, sqltypes.NVarChar, true, nil
		}
		in.mu.Lock()
		db := in.dbByIDLocked(int32(id))
		in.mu.Unlock()
		if db == nil {
			return nil, sqltypes.NVarChar, true, nil
		}
		return db.Name(), sqltypes.NVarChar, true, nil
	case "db_id":
		n := e.x.s.currentDB()
		if s, ok := str(0); ok {
			n = s
		}
		db, ok := in.Database(n)
		if !ok {
			return nil, sqltypes.SmallInt, true, nil
		}
		return int16(db.id), sqltypes.SmallInt, true, nil
	case "serverproperty":
		p, _ := str(0)
		return in.serverProperty(p)
	case "databasepropertyex":
		n, _ := str(0)
		p, _ := str(1)
		return in.databaseProperty(n, p)
	case "fn_hadr_backup_is_preferred_replica":
		n, _ := str(0)
		return in.isPreferredReplica(n), sqltypes.Bit, true, nil
	case "has_dbaccess":
		n, _ := str(0)
		if _, ok := in.Database(n); !ok {
			return nil, sqltypes.Int, true, nil
		}
		return int32(1), sqltypes.Int, true, nil
	}
	return nil, 0, false, nil
}

func (in *Instance) serverProperty(p string) (any, sqltypes.Type, bool, error) {
	major, minor, build := parseVersion(in.cfg.Version)
	switch strings.ToLower(p) {
	case "productversion":
		return in.cfg.Version, sqltypes.NVarChar, true, nil
	case "productmajorversion":
		return fmt.Sprint(major), sqltypes.NVarChar, true, nil
	case "productminorversion":
		return fmt.Sprint(minor), sqltypes.NVarChar, true, nil
	case "productbuild":
		return fmt.Sprint(build), sqltypes.NVarChar, true, nil
	case "productlevel":
		return "RTM", sqltypes.NVarChar, true, nil
	case "edition":
		return string(in.cfg.Edition), sqltypes.NVarChar, true, nil
	case "engineedition":
		switch in.cfg.Edition {
		case Express:
			return int32(4), sqltypes.Int, true, nil
		case Standard:
			return int32(2), sqltypes.Int, true, nil
		}
		return int32(3), sqltypes.Int, true, nil
	case "machinename", "computernamephysicalnetbios":
		return in.cfg.Machine, sqltypes.NVarChar, true, nil
	case "servername":
		return in.ServerName(), sqltypes.NVarChar, true, nil
	case "instancename":
		if in.cfg.Instance == "" {
			return nil, sqltypes.NVarChar, true, nil
		}
		return in.cfg.Instance, sqltypes.NVarChar, true, nil
	case "isclustered":
		if in.cfg.Clustered {
			return int32(1), sqltypes.Int, true, nil
		}
		return int32(0), sqltypes.Int, true, nil
	case "ishadrenabled":
		return int32(1), sqltypes.Int, true, nil
	case "collation":
		return "SQL_Latin1_General_CP1_CI_AS", sqltypes.NVarChar, true, nil
	case "instancedefaultdatapath":
		return in.cfg.DataPath, sqltypes.NVarChar, true, nil
	case "instancedefaultlogpath":
		return in.cfg.LogPath, sqltypes.NVarChar, true, nil
	case "hostplatform":
		return "Linux", sqltypes.NVarChar, true, nil
	}
	return nil, sqltypes.NVarChar, true, nil
}

func (in *Instance) databaseProperty(name, p string) (any, sqltypes.Type, bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	db, ok := in.dbs[strings.ToUpper(name)]
	if !ok {
		return nil, sqltypes.NVarChar, true, nil
	}
	switch strings.ToLower(p) {
	case "status":
		return db.state, sqltypes.NVarChar, true, nil
	case "recovery":
		return db.recovery, sqltypes.NVarChar, true, nil
	case "updateability":
		if db.readOnly {
			return "READ_ONLY", sqltypes.NVarChar, true, nil
		}
		return "READ_WRITE", sqltypes.NVarChar, true, nil
	case "useraccess":
		return db.userAccess, sqltypes.NVarChar, true, nil
	case "collation":
		return "SQL_Latin1_General_CP1_CI_AS", sqltypes.NVarChar, true, nil
	}
	return nil, sqltypes.NVarChar, true, nil
}

// stateCode is sys.databases.state.
func stateCode(s string) uint8 {
	switch s {
	case StateOnline:
		return 0
	case StateRestoring:
		return 1
	case StateSuspect:
		return 4
	case StateOffline:
		return 6
	}
	return 0
}

func recoveryCode(r string) uint8 {
	switch r {
	case "FULL":
		return 1
	case "BULK_LOGGED":
		return 2
	}
	return 3
}

func intOrNull(v int32) any {
	if v == 0 {
		return nil
	}
	return v
}

// sysView builds a sys.* catalog view as seen from database inDB.
func (in *Instance) sysView(object, inDB string, s *session) *query.Table {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch object {
	case "databases":
		t := &query.Table{Columns: []sqltypes.Column{
			nvarchar("name", 128), col("database_id", sqltypes.Int), col("source_database_id", sqltypes.Int),
			col("create_date", sqltypes.DateTime), col("compatibility_level", sqltypes.TinyInt),
			nvarchar("collation_name", 128), nvarchar("user_access_desc", 60), col("is_read_only", sqltypes.Bit),
			col("state", sqltypes.TinyInt), nvarchar("state_desc", 60), col("recovery_model", sqltypes.TinyInt),
			nvarchar("recovery_model_desc", 60), col("is_in_standby", sqltypes.Bit),
			col("replica_id", sqltypes.UniqueIdentifier), col("group_database_id", sqltypes.UniqueIdentifier),
			nvarchar("log_reuse_wait_desc", 60),
		}}
		for _, db := range in.databasesLocked() {
			var replica, group any
			if db.ag != nil {
				replica = db.ag.replicaIDLocked(in)
				group = db.ag.databaseGUID(db.name)
			}
			t.Rows = append(t.Rows, []any{
				db.name, db.id, intOrNull(db.snapshotOf), in.local(db.created), uint8(160), "SQL_Latin1_General_CP1_CI_AS",
				db.userAccess, db.readOnly || db.snapshotOf != 0, stateCode(db.state), db.state, recoveryCode(db.recovery),
				db.recovery, db.standby, replica, group, "NOTHING",
			})
		}
		return t
	case "master_files", "database_files":
		t := &query.Table{Columns: []sqltypes.Column{
			col("database_id", sqltypes.Int), col("file_id", sqltypes.Int), col("type", sqltypes.TinyInt),
			nvarchar("type_desc", 60), col("data_space_id", sqltypes.Int), nvarchar("name", 128),
			nvarchar("physical_name", 260), nvarchar("state_desc", 60), col("size", sqltypes.Int),
			col("max_size", sqltypes.Int), col("growth", sqltypes.Int), col("is_read_only", sqltypes.Bit),
			col("redo_start_lsn", sqltypes.Numeric), col("differential_base_lsn", sqltypes.Numeric),
			col("differential_base_guid", sqltypes.UniqueIdentifier),
		}}
		for _, db := range in.databasesLocked() {
			if object == "database_files" && !strings.EqualFold(db.name, inDB) {
				continue
			}
			for _, f := range db.files {
				typeDesc, space := "ROWS", int32(1)
				if f.typ == 1 {
					typeDesc, space = "LOG", 0
				}
				// redo_start_lsn: where the next roll forward starts, NULL unless RESTORING.
				var redo any
				if db.state == StateRestoring && db.restore != nil {
					redo = db.shared.ext(db.restore.redo)
				}
				// differential_base_lsn / _guid: the full a differential would be based on
				// (the last full, or the full a restore brought back); NULL for the log
				// file and before any full.
				var base, baseGUID any
				db.shared.mu.Lock()
				if f.typ == 0 && db.shared.diffBase != 0 {
					base = db.shared.ext(db.shared.diffBase)
					if g := db.shared.diffBaseGUID; g != (sqltypes.UUID{}) {
						baseGUID = g
					}
				}
				db.shared.mu.Unlock()
				t.Rows = append(t.Rows, []any{db.id, f.fileID, f.typ, typeDesc, space, f.logical, f.physical,
					db.state, int32(f.pages), int32(-1), int32(8192), db.readOnly, redo, base, baseGUID})
			}
		}
		return t
	case "database_recovery_status":
		t := &query.Table{Columns: []sqltypes.Column{
			col("database_id", sqltypes.Int), col("database_guid", sqltypes.UniqueIdentifier),
			col("family_guid", sqltypes.UniqueIdentifier), col("last_log_backup_lsn", sqltypes.Numeric),
			col("recovery_fork_guid", sqltypes.UniqueIdentifier), col("first_recovery_fork_guid", sqltypes.UniqueIdentifier),
			col("fork_point_lsn", sqltypes.Numeric),
		}}
		for _, db := range in.databasesLocked() {
			if db.state != StateOnline {
				continue
			}
			sh := db.shared
			sh.mu.Lock()
			last := sh.extOrNull(sh.lastLogBackup)
			if db.recovery == "SIMPLE" {
				last = nil
			}
			t.Rows = append(t.Rows, []any{db.id, db.guid, sh.familyGUID, last, db.forkGUID, db.firstForkGUID, nil})
			sh.mu.Unlock()
		}
		return t
	case "database_mirroring":
		t := &query.Table{Columns: []sqltypes.Column{
			col("database_id", sqltypes.Int), col("mirroring_guid", sqltypes.UniqueIdentifier),
			col("mirroring_state", sqltypes.TinyInt), nvarchar("mirroring_state_desc", 60),
			nvarchar("mirroring_role_desc", 60), nvarchar("mirroring_partner_name", 128),
		}}
		for _, db := range in.databasesLocked() {
			if db.mirroringGUID != nil {
				t.Rows = append(t.Rows, []any{db.id, *db.mirroringGUID, uint8(4), "SYNCHRONIZED", "PRINCIPAL", "TCP://mirror:5022"})
			} else {
				t.Rows = append(t.Rows, []any{db.id, nil, nil, nil, nil, nil})
			}
		}
		return t
	case "credentials":
		t := &query.Table{Columns: []sqltypes.Column{
			col("credential_id", sqltypes.Int), nvarchar("name", 128), nvarchar("credential_identity", 4000),
		}}
		for _, c := range in.credentials {
			// The secret is never readable, as on SQL Server.
			t.Rows = append(t.Rows, []any{c.id, c.name, c.identity})
		}
		return t
	case "server_principals", "sql_logins":
		t := &query.Table{Columns: []sqltypes.Column{
			nvarchar("name", 128), col("principal_id", sqltypes.Int), nvarchar("type", 1), nvarchar("type_desc", 60),
			col("is_disabled", sqltypes.Bit),
		}}
		i := int32(256)
		for _, l := range in.logins {
			t.Rows = append(t.Rows, []any{l.Name, i, "S", "SQL_LOGIN", false})
			i++
		}
		return t
	case "dm_exec_sessions":
		t := &query.Table{Columns: []sqltypes.Column{
			col("session_id", sqltypes.SmallInt), nvarchar("login_name", 128), col("database_id", sqltypes.SmallInt),
			col("is_user_process", sqltypes.Bit),
		}}
		for id, se := range in.sessions {
			var dbid any
			if db, ok := in.dbs[strings.ToUpper(se.currentDB())]; ok {
				dbid = int16(db.id)
			}
			t.Rows = append(t.Rows, []any{int16(id), se.login, dbid, true})
		}
		return t
	case "dm_exec_requests":
		t := &query.Table{Columns: []sqltypes.Column{
			col("session_id", sqltypes.SmallInt), nvarchar("command", 32), col("database_id", sqltypes.SmallInt),
			col("percent_complete", sqltypes.Float), col("start_time", sqltypes.DateTime), nvarchar("status", 30),
		}}
		for id, r := range in.requests {
			t.Rows = append(t.Rows, []any{int16(id), r.command, int16(r.dbID), r.percent(), in.local(r.start), "running"})
		}
		return t
	case "availability_groups", "availability_replicas", "dm_hadr_availability_replica_states",
		"dm_hadr_database_replica_states", "availability_databases_cluster":
		return in.sim.agView(object, in)
	}
	return nil
}

// msdbTable builds msdb.dbo.* backup history tables.
func (in *Instance) msdbTable(object string) *query.Table {
	in.mu.Lock()
	defer in.mu.Unlock()
	h := &in.msdb
	switch object {
	case "backupset":
		t := &query.Table{Columns: backupsetColumns}
		for _, r := range h.sets {
			t.Rows = append(t.Rows, r.row())
		}
		return t
	case "backupmediafamily":
		t := &query.Table{Columns: []sqltypes.Column{
			col("media_set_id", sqltypes.Int), col("family_sequence_number", sqltypes.TinyInt),
			col("media_family_id", sqltypes.UniqueIdentifier), col("media_count", sqltypes.Int),
			nvarchar("logical_device_name", 128), nvarchar("physical_device_name", 260),
			col("device_type", sqltypes.TinyInt), col("physical_block_size", sqltypes.Int), col("mirror", sqltypes.TinyInt),
		}}
		for _, f := range h.families {
			t.Rows = append(t.Rows, []any{f.mediaSetID, f.seq, f.familyID, int32(1), nil, f.device, f.deviceType, int32(65536), uint8(0)})
		}
		return t
	case "backupmediaset":
		t := &query.Table{Columns: []sqltypes.Column{
			col("media_set_id", sqltypes.Int), col("media_uuid", sqltypes.UniqueIdentifier),
			col("media_family_count", sqltypes.TinyInt), nvarchar("name", 128), col("is_compressed", sqltypes.Bit),
		}}
		for _, m := range h.mediaSets {
			t.Rows = append(t.Rows, []any{m.id, m.uuid, m.families, nil, m.compressed})
		}
		return t
	case "restorehistory":
		t := &query.Table{Columns: []sqltypes.Column{
			col("restore_history_id", sqltypes.Int), col("restore_date", sqltypes.DateTime),
			nvarchar("destination_database_name", 128), nvarchar("user_name", 128), col("backup_set_id", sqltypes.Int),
			nvarchar("restore_type", 1), col("replace", sqltypes.Bit), col("recovery", sqltypes.Bit),
			col("stop_at", sqltypes.DateTime),
		}}
		for _, r := range h.restores {
			var stop any
			if !r.stopAt.IsZero() {
				stop = r.stopAt
			}
			t.Rows = append(t.Rows, []any{r.id, in.local(r.date), r.dest, r.user, r.backupSetID, r.typ, r.replace, r.recovery, stop})
		}
		return t
	}
	return nil
}
