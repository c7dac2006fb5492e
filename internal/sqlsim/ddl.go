package sqlsim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/query"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tds"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

func checkpointKind() content.RecordKind { return content.Checkpoint }
func markerKind() content.RecordKind     { return content.Marker }

func (x *executor) requireSysadmin(action string) error {
	if !x.s.in.isSysadmin(x.s.login) {
		return sqlErr(262, "%s permission denied in database '%s'.", action, x.s.currentDB())
	}
	return nil
}

// parseSize reads a CREATE DATABASE size ("8MB", "1GB", "1024KB", "10" = MB) as pages.
func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1 << 20)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, sqlErr(5012, "The size specified '%s' is not valid.", s)
	}
	return (n*mult + content.PageSize - 1) / content.PageSize, nil
}

func (x *executor) createDatabase(st *tsql.CreateDatabase) error {
	if err := x.requireSysadmin("CREATE DATABASE"); err != nil {
		return err
	}
	in := x.s.in
	if st.SnapshotOf != "" {
		return x.createSnapshot(st)
	}
	if len(st.Name) > 128 {
		return sqlErr(103, "The identifier that starts with '%s' is too long. Maximum length is 128.", st.Name[:128])
	}
	var pages int64
	files := 0
	for _, f := range st.DataFiles {
		files++
		if f.Size != "" {
			p, err := parseSize(f.Size)
			if err != nil {
				return err
			}
			pages += p
		} else {
			pages += 1024
		}
	}
	spec := DatabaseSpec{Name: st.Name, DataPages: pages, DataFiles: max(files, 1), LogFiles: max(len(st.LogFiles), 1)}
	db, err := in.CreateDatabase(spec)
	if err != nil {
		return err
	}
	// Explicit file specifications replace the default names and paths.
	in.mu.Lock()
	defer in.mu.Unlock()
	di, li := 0, 0
	for i := range db.files {
		f := &db.files[i]
		var spec *tsql.FileSpec
		if f.typ == 0 && di < len(st.DataFiles) {
			spec = &st.DataFiles[di]
			di++
		} else if f.typ == 1 && li < len(st.LogFiles) {
			spec = &st.LogFiles[li]
			li++
		}
		if spec == nil {
			continue
		}
		if spec.Name != "" {
			f.logical = spec.Name
		}
		if spec.FileName != "" {
			for _, other := range in.dbs {
				if other == db {
					continue
				}
				for _, of := range other.files {
					if strings.EqualFold(of.physical, spec.FileName) {
						delete(in.dbs, strings.ToUpper(db.name))
						return &multiError{errs: []error{
							sqlErr(5170, "Cannot create file '%s' because it already exists. Change the file path or the file name, and retry the operation.", spec.FileName),
							sqlErr(1802, "CREATE DATABASE failed. Some file names listed could not be created. Check related errors."),
						}}
					}
				}
			}
			f.physical = spec.FileName
		}
		if f.typ == 1 && spec.Size != "" {
			if p, err := parseSize(spec.Size); err == nil {
				f.pages = p
			}
		}
	}
	return x.done(0, false)
}

func (x *executor) createSnapshot(st *tsql.CreateDatabase) error {
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	src, ok := in.dbs[strings.ToUpper(st.SnapshotOf)]
	if !ok {
		return sqlErr(911, "Database '%s' does not exist. Make sure that the name is entered correctly.", st.SnapshotOf)
	}
	if _, dup := in.dbs[strings.ToUpper(st.Name)]; dup {
		return sqlErr(1801, "Database '%s' already exists. Choose a different database name.", st.Name)
	}
	id := in.nextDBID
	in.nextDBID++
	snap := &Database{in: in, id: id, name: st.Name, guid: newGUID(), created: in.sim.Now(), recovery: "SIMPLE",
		readOnly: true, state: StateOnline, userAccess: "MULTI_USER", snapshotOf: src.id, busy: map[string]bool{},
		forkGUID: src.forkGUID, firstForkGUID: src.firstForkGUID, shared: src.shared}
	for _, f := range src.files {
		if f.typ == 0 {
			ph := f.physical + ".ss"
			for _, fs := range st.DataFiles {
				if strings.EqualFold(fs.Name, f.logical) && fs.FileName != "" {
					ph = fs.FileName
				}
			}
			snap.files = append(snap.files, dbFile{fileID: f.fileID, logical: f.logical, physical: ph, typ: 0, pages: f.pages})
		}
	}
	in.dbs[strings.ToUpper(st.Name)] = snap
	return x.done(0, false)
}

func (x *executor) dropDatabase(st *tsql.DropDatabase) error {
	if err := x.requireSysadmin("DROP DATABASE"); err != nil {
		return err
	}
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, n := range st.Names {
		db, ok := in.dbs[strings.ToUpper(n)]
		if !ok {
			if st.IfExists {
				continue
			}
			return sqlErr(3701, "Cannot drop the database '%s', because it does not exist or you do not have permission.", n)
		}
		if db.id <= 4 {
			return sqlErr(3708, "Cannot drop the database '%s' because it is a system database.", db.name)
		}
		if len(in.sessionsUsingLocked(db.name, 0)) > 0 || len(db.busy) > 0 {
			return sqlErr(3702, "Cannot drop database \"%s\" because it is currently in use.", db.name)
		}
		if db.ag != nil {
			return sqlErr(3752, "The database '%s' is currently joined to an availability group. Before you can drop the database, you need to remove it from the availability group.", db.name)
		}
		delete(in.dbs, strings.ToUpper(n))
	}
	return x.done(0, false)
}

func (x *executor) alterDatabase(st *tsql.AlterDatabase) error {
	if err := x.requireSysadmin("ALTER DATABASE"); err != nil {
		return err
	}
	in := x.s.in
	in.mu.Lock()
	name := st.Name
	if strings.EqualFold(name, "CURRENT") {
		name = x.s.currentDB()
	}
	db, ok := in.dbs[strings.ToUpper(name)]
	if !ok {
		in.mu.Unlock()
		return sqlErr(5011, "User does not have permission to alter database '%s', the database does not exist, or the database is not in a state that allows access checks.", name)
	}
	if st.ModifyName != "" {
		if _, dup := in.dbs[strings.ToUpper(st.ModifyName)]; dup {
			in.mu.Unlock()
			return sqlErr(1801, "Database '%s' already exists. Choose a different database name.", st.ModifyName)
		}
		delete(in.dbs, strings.ToUpper(db.name))
		db.name = st.ModifyName
		in.dbs[strings.ToUpper(db.name)] = db
		in.mu.Unlock()
		x.info(5021, "The database name '%s' has been set.", st.ModifyName)
		return x.done(0, false)
	}
	if len(st.Set) == 0 {
		in.mu.Unlock()
		return sqlErr(102, "Incorrect syntax near '%s'.", name)
	}
	// Options that need exclusive access kick the other sessions out when asked to.
	var kick []uint16
	if st.Termination == "ROLLBACK IMMEDIATE" || strings.HasPrefix(st.Termination, "ROLLBACK AFTER") {
		for _, s := range in.sessionsUsingLocked(db.name, x.s.id) {
			kick = append(kick, s.id)
		}
	}
	err := x.applyDatabaseOption(db, st.Set)
	in.mu.Unlock()
	for _, id := range kick {
		in.killSession(id)
	}
	if err != nil {
		return err
	}
	return x.done(0, false)
}

// applyDatabaseOption applies one SET option. Called with in.mu held.
func (x *executor) applyDatabaseOption(db *Database, set []string) error {
	in := x.s.in
	opt := set[0]
	arg := ""
	if len(set) > 1 {
		arg = set[1]
	}
	if db.snapshotOf != 0 {
		return sqlErr(5093, "The operation cannot be performed on a database snapshot.")
	}
	if db.state == StateRestoring && opt != "OFFLINE" {
		return sqlErr(5052, "ALTER DATABASE is not permitted while a database is in the Restoring state.")
	}
	sh := db.shared
	switch opt {
	case "RECOVERY":
		arg = strings.ToUpper(arg)
		if arg != "FULL" && arg != "SIMPLE" && arg != "BULK_LOGGED" {
			return sqlErr(102, "Incorrect syntax near '%s'.", arg)
		}
		if db.ag != nil && arg != "FULL" {
			return sqlErr(1468, "The operation cannot be performed on database \"%s\" because it is involved in a database mirroring session or an availability group.", db.name)
		}
		if arg == db.recovery {
			return nil
		}
		sh.mu.Lock()
		sh.content.Append(in.sim.Now(), markerKind())
		if arg == "SIMPLE" {
			// The log chain ends: the next log backup needs a full or differential first.
			sh.lastLogBackup = 0
		}
		sh.mu.Unlock()
		db.recovery = arg
	case "READ_ONLY":
		db.readOnly = true
	case "READ_WRITE":
		db.readOnly = false
	case "OFFLINE":
		if len(in.sessionsUsingLocked(db.name, x.s.id)) > 0 {
			return sqlErr(5061, "ALTER DATABASE failed because a lock could not be placed on database '%s'. Try again later.", db.name)
		}
		db.state = StateOffline
	case "ONLINE":
		if db.state == StateOffline {
			db.state = StateOnline
		}
	case "SINGLE_USER", "MULTI_USER", "RESTRICTED_USER":
		db.userAccess = opt
	case "EMERGENCY":
		return &tsql.UnsupportedError{Statement: "ALTER DATABASE … SET EMERGENCY"}
	case "HADR":
		return &tsql.UnsupportedError{Statement: "ALTER DATABASE … SET HADR (use the simulator's Go API for availability groups)"}
	default:
		// Other options (AUTO_CLOSE, PAGE_VERIFY, …) change nothing the simulator models.
	}
	return nil
}

func (x *executor) createCredential(st *tsql.CreateCredential) error {
	if !x.s.in.isSysadmin(x.s.login) {
		return sqlErr(15247, "User does not have permission to perform this action.")
	}
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	key := strings.ToUpper(st.Name)
	c, exists := in.credentials[key]
	switch {
	case st.Alter && !exists:
		return sqlErr(15151, "Cannot alter the credential '%s', because it does not exist or you do not have permission.", st.Name)
	case !st.Alter && exists:
		return sqlErr(15025, "The server principal '%s' already exists.", st.Name)
	case !exists:
		c = &credential{id: int32(65536 + len(in.credentials)), name: st.Name}
		in.credentials[key] = c
	}
	c.identity, c.secret = st.Identity, st.Secret
	return x.done(0, false)
}

func (x *executor) dropCredential(st *tsql.DropCredential) error {
	if !x.s.in.isSysadmin(x.s.login) {
		return sqlErr(15247, "User does not have permission to perform this action.")
	}
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.credentials[strings.ToUpper(st.Name)]; !ok {
		return sqlErr(15151, "Cannot drop the credential '%s', because it does not exist or you do not have permission.", st.Name)
	}
	delete(in.credentials, strings.ToUpper(st.Name))
	return x.done(0, false)
}

func (x *executor) createLogin(st *tsql.CreateLogin) error {
	if !x.s.in.isSysadmin(x.s.login) {
		return sqlErr(15247, "User does not have permission to perform this action.")
	}
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.logins[strings.ToUpper(st.Name)]; ok {
		return sqlErr(15025, "The server principal '%s' already exists.", st.Name)
	}
	in.logins[strings.ToUpper(st.Name)] = &Login{Name: st.Name, Password: st.Password}
	return x.done(0, false)
}

func (x *executor) dropLogin(st *tsql.DropLogin) error {
	if !x.s.in.isSysadmin(x.s.login) {
		return sqlErr(15247, "User does not have permission to perform this action.")
	}
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.logins[strings.ToUpper(st.Name)]; !ok {
		return sqlErr(15151, "Cannot drop the login '%s', because it does not exist or you do not have permission.", st.Name)
	}
	delete(in.logins, strings.ToUpper(st.Name))
	return x.done(0, false)
}

func (x *executor) alterServerRole(st *tsql.AlterServerRole) error {
	if !x.s.in.isSysadmin(x.s.login) {
		return sqlErr(15247, "User does not have permission to perform this action.")
	}
	if !strings.EqualFold(st.Role, "sysadmin") {
		return &tsql.UnsupportedError{Statement: "ALTER SERVER ROLE " + st.Role + " (only sysadmin is modelled)"}
	}
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	l, ok := in.logins[strings.ToUpper(st.Member)]
	if !ok {
		return sqlErr(15151, "Cannot add the principal '%s', because it does not exist or you do not have permission.", st.Member)
	}
	l.Sysadmin = st.Add
	return x.done(0, false)
}

// exec runs the stored procedures the simulator offers: its workload and truth procedures
// (for demos, where no Go API is at hand) and a few system procedures.
func (x *executor) exec(st *tsql.Exec) error {
	proc := strings.ToLower(st.Proc.Last())
	args := map[string]any{}
	var positional []any
	for _, a := range st.Args {
		v, _, err := query.Eval(a.Value, x.env())
		if err != nil {
			return err
		}
		if a.Name == "" {
			positional = append(positional, v)
		} else {
			args[strings.ToLower(a.Name)] = v
		}
	}
	arg := func(name string, pos int) any {
		if v, ok := args[name]; ok {
			return v
		}
		if pos < len(positional) {
			return positional[pos]
		}
		return nil
	}
	switch proc {
	case "sp_sqlsim_write":
		// EXEC sp_sqlsim_write @database = N'db', @pages = 100 : the demo workload.
		name, _ := arg("database", 0).(string)
		if name == "" {
			name = x.s.currentDB()
		}
		n, ok := toInt64(arg("pages", 1))
		if !ok || n <= 0 {
			n = 1
		}
		db, err := x.s.in.onlineDB(name)
		if err != nil {
			return err
		}
		lsn, err := db.Write(int(n))
		if err != nil {
			return err
		}
		return x.resultRow([]sqltypes.Column{col("last_lsn", sqltypes.Numeric)}, []any{mustDecimal(lsn)})
	case "sp_sqlsim_digest":
		// EXEC sp_sqlsim_digest @database = N'db' : the content digest, to compare a restore.
		name, _ := arg("database", 0).(string)
		if name == "" {
			name = x.s.currentDB()
		}
		db, ok := x.s.in.Database(name)
		if !ok {
			return sqlErr(911, "Database '%s' does not exist. Make sure that the name is entered correctly.", name)
		}
		return x.resultRow([]sqltypes.Column{nvarchar("database_name", 128), nvarchar("digest", 64)}, []any{db.Name(), db.Digest().String()})
	case "sp_executesql":
		return &tsql.UnsupportedError{Statement: "nested sp_executesql"}
	}
	return sqlErr(2812, "Could not find stored procedure '%s'.", strings.Join(st.Proc.Parts, "."))
}

func mustDecimal(s string) sqltypes.Decimal {
	d, err := sqltypes.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

func (x *executor) resultRow(cols []sqltypes.Column, row []any) error {
	if err := x.w.Columns(cols); err != nil {
		return err
	}
	if err := x.w.Row(row); err != nil {
		return err
	}
	return x.done(1, true)
}

func (x *executor) dbcc(st *tsql.Dbcc) error {
	switch st.Command {
	case "CHECKDB":
		name := x.s.currentDB()
		if len(st.Args) > 0 {
			v, _, err := query.Eval(st.Args[0], x.env())
			if err != nil {
				return err
			}
			switch t := v.(type) {
			case string:
				name = t
			default:
				if id, ok := toInt64(v); ok {
					x.s.in.mu.Lock()
					if db := x.s.in.dbByIDLocked(int32(id)); db != nil {
						name = db.name
					}
					x.s.in.mu.Unlock()
				}
			}
		}
		db, err := x.s.in.onlineDB(name)
		if err != nil {
			return err
		}
		quiet := false
		for _, w := range st.With {
			if w == "NO_INFOMSGS" {
				quiet = true
			}
		}
		db.in.mu.Lock()
		bad := db.corruptPage
		db.in.mu.Unlock()
		if bad != nil {
			return &multiError{errs: []error{
				sqlErr(8928, "Object ID 0, index ID 0, partition ID 0, alloc unit ID 0 (type In-row data): Page (1:%d) could not be processed. See other errors for details.", *bad),
				sqltypes.Errorf(8989, 16, "CHECKDB found 0 allocation errors and 1 consistency errors in database '%s'.", db.Name()),
			}}
		}
		if !quiet {
			_ = x.w.Message(tds.Message{Number: 8989, Class: 0, State: 1,
				Text: fmt.Sprintf("CHECKDB found 0 allocation errors and 0 consistency errors in database '%s'.", db.Name())})
		}
		return x.done(0, false)
	}
	return &tsql.UnsupportedError{Statement: "DBCC " + st.Command}
}
