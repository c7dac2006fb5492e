package sqlsim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sqlvault/sqlvault/internal/sqlsim/query"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// BackupPreference is an availability group's AUTOMATED_BACKUP_PREFERENCE.
type BackupPreference string

// The four preferences of the reference's table.
const (
	PreferPrimary       BackupPreference = "PRIMARY"
	PreferSecondaryOnly BackupPreference = "SECONDARY_ONLY"
	PreferSecondary     BackupPreference = "SECONDARY"
	PreferNone          BackupPreference = "NONE"
)

func (p BackupPreference) code() uint8 {
	switch p {
	case PreferPrimary:
		return 0
	case PreferSecondaryOnly:
		return 1
	case PreferSecondary:
		return 2
	}
	return 3
}

// ReplicaConfig is one replica of an availability group.
type ReplicaConfig struct {
	Instance *Instance
	// BackupPriority is 0..100; 0 means the replica never takes backups. Default 50.
	BackupPriority int
}

// AGConfig describes an availability group. The first replica starts as primary; the
// databases must exist on it (FULL recovery) and are seeded to the others.
type AGConfig struct {
	Name       string
	Preference BackupPreference
	Replicas   []ReplicaConfig
	Databases  []string
}

// AvailabilityGroup spans instances of one simulator.
type AvailabilityGroup struct {
	sim        *Simulator
	name       string
	id         sqltypes.UUID
	preference BackupPreference
	replicas   []*replica
	databases  map[string]sqltypes.UUID // upper-cased name → group_database_id
	primary    int                      // index into replicas
}

type replica struct {
	in       *Instance
	id       sqltypes.UUID
	priority int
	online   bool
}

// CreateAvailabilityGroup builds an availability group over existing instances.
func (s *Simulator) CreateAvailabilityGroup(cfg AGConfig) (*AvailabilityGroup, error) {
	if len(cfg.Replicas) < 2 {
		return nil, fmt.Errorf("sqlsim: an availability group needs at least two replicas")
	}
	if cfg.Preference == "" {
		cfg.Preference = PreferSecondary
	}
	ag := &AvailabilityGroup{sim: s, name: cfg.Name, id: newGUID(), preference: cfg.Preference, databases: map[string]sqltypes.UUID{}}
	for _, r := range cfg.Replicas {
		p := r.BackupPriority
		if p == 0 {
			p = 50
		}
		if p < 0 {
			p = 0
		}
		ag.replicas = append(ag.replicas, &replica{in: r.Instance, id: newGUID(), priority: p, online: true})
	}
	primary := ag.replicas[0].in
	for _, name := range cfg.Databases {
		src, ok := primary.Database(name)
		if !ok {
			return nil, fmt.Errorf("sqlsim: database %q does not exist on the primary %s", name, primary.ServerName())
		}
		if src.Recovery() != "FULL" {
			return nil, fmt.Errorf("sqlsim: database %q must use the FULL recovery model to join an availability group", name)
		}
		primary.mu.Lock()
		src.ag = ag
		shared, files, guid, created := src.shared, src.files, src.guid, src.created
		fork, firstFork := src.forkGUID, src.firstForkGUID
		primary.mu.Unlock()
		ag.databases[strings.ToUpper(name)] = newGUID()
		for _, r := range ag.replicas[1:] {
			in := r.in
			in.mu.Lock()
			if _, dup := in.dbs[strings.ToUpper(name)]; dup {
				in.mu.Unlock()
				return nil, fmt.Errorf("sqlsim: database %q already exists on %s", name, in.ServerName())
			}
			id := in.nextDBID
			in.nextDBID++
			in.dbs[strings.ToUpper(name)] = &Database{in: in, id: id, name: name, guid: guid, created: created,
				files: append([]dbFile(nil), files...), recovery: "FULL", state: StateOnline, userAccess: "MULTI_USER",
				forkGUID: fork, firstForkGUID: firstFork, ag: ag, busy: map[string]bool{}, shared: shared}
			in.mu.Unlock()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.groups[strings.ToUpper(cfg.Name)]; dup {
		return nil, fmt.Errorf("sqlsim: availability group %q already exists", cfg.Name)
	}
	s.groups[strings.ToUpper(cfg.Name)] = ag
	return ag, nil
}

// Group returns an availability group by name.
func (s *Simulator) Group(name string) (*AvailabilityGroup, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ag, ok := s.groups[strings.ToUpper(name)]
	return ag, ok
}

func (ag *AvailabilityGroup) lock()   { ag.sim.mu.Lock() }
func (ag *AvailabilityGroup) unlock() { ag.sim.mu.Unlock() }

// Primary returns the instance that is primary now.
func (ag *AvailabilityGroup) Primary() *Instance {
	ag.lock()
	defer ag.unlock()
	return ag.replicas[ag.primary].in
}

// Failover makes the replica on instance the primary (a planned manual failover).
func (ag *AvailabilityGroup) Failover(in *Instance) error {
	ag.lock()
	defer ag.unlock()
	for i, r := range ag.replicas {
		if r.in == in {
			ag.primary = i
			return nil
		}
	}
	return fmt.Errorf("sqlsim: %s is not a replica of %s", in.ServerName(), ag.name)
}

// SetPreference changes AUTOMATED_BACKUP_PREFERENCE.
func (ag *AvailabilityGroup) SetPreference(p BackupPreference) {
	ag.lock()
	defer ag.unlock()
	ag.preference = p
}

// SetReplicaOnline takes a replica offline (disconnected) or back online.
func (ag *AvailabilityGroup) SetReplicaOnline(in *Instance, online bool) {
	ag.lock()
	defer ag.unlock()
	for _, r := range ag.replicas {
		if r.in == in {
			r.online = online
		}
	}
}

// isPrimaryLocked reports whether in is the primary. Callers hold in.mu, not the sim lock;
// the sim lock is always taken after an instance lock, never before.
func (ag *AvailabilityGroup) isPrimaryLocked(in *Instance) bool {
	ag.lock()
	defer ag.unlock()
	return ag.replicas[ag.primary].in == in
}

func (ag *AvailabilityGroup) replicaIDLocked(in *Instance) any {
	ag.lock()
	defer ag.unlock()
	for _, r := range ag.replicas {
		if r.in == in {
			return r.id
		}
	}
	return nil
}

func (ag *AvailabilityGroup) databaseGUID(name string) any {
	ag.lock()
	defer ag.unlock()
	if g, ok := ag.databases[strings.ToUpper(name)]; ok {
		return g
	}
	return nil
}

// preferredLocked picks the replica sys.fn_hadr_backup_is_preferred_replica names, following
// SQL Server's rules: among online replicas with a non-zero priority, by preference, then
// highest priority, then name.
func (ag *AvailabilityGroup) preferredLocked() *replica {
	var cands []*replica
	for i, r := range ag.replicas {
		if !r.online || r.priority == 0 {
			continue
		}
		isPrimary := i == ag.primary
		switch ag.preference {
		case PreferPrimary:
			if isPrimary {
				return r
			}
			continue
		case PreferSecondaryOnly, PreferSecondary:
			if isPrimary {
				continue
			}
		}
		cands = append(cands, r)
	}
	if len(cands) == 0 {
		if ag.preference == PreferSecondary {
			return ag.replicas[ag.primary]
		}
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].priority != cands[j].priority {
			return cands[i].priority > cands[j].priority
		}
		return cands[i].in.ServerName() < cands[j].in.ServerName()
	})
	return cands[0]
}

// isPreferredReplica is sys.fn_hadr_backup_is_preferred_replica(db) on instance in.
func (in *Instance) isPreferredReplica(name string) bool {
	in.mu.Lock()
	db, ok := in.dbs[strings.ToUpper(name)]
	var ag *AvailabilityGroup
	if ok {
		ag = db.ag
	}
	in.mu.Unlock()
	if !ok {
		// No such database: 0 from SQL Server 2019 CU20 and 2022 CU2 on (1 before); the
		// simulator reports a 2022 build after CU2.
		return false
	}
	if ag == nil {
		return true // not in an availability group: always 1
	}
	ag.lock()
	defer ag.unlock()
	p := ag.preferredLocked()
	return p != nil && p.in == in
}

// agView builds the availability-group catalog views as instance in sees them. What a
// replica sees follows Microsoft's documentation: the group's metadata
// (sys.availability_groups, sys.availability_replicas with every replica's name and
// backup_priority, sys.availability_databases_cluster) is the same everywhere, while the
// state DMVs (sys.dm_hadr_availability_replica_states, sys.dm_hadr_database_replica_states)
// show every replica only on the primary and only local rows on a secondary.
func (s *Simulator) agView(object string, in *Instance) *query.Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	var groups []*AvailabilityGroup
	for _, ag := range s.groups {
		for _, r := range ag.replicas {
			if r.in == in {
				groups = append(groups, ag)
				break
			}
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].name < groups[j].name })
	switch object {
	case "availability_groups":
		t := &query.Table{Columns: []sqltypes.Column{
			col("group_id", sqltypes.UniqueIdentifier), nvarchar("name", 128),
			col("automated_backup_preference", sqltypes.TinyInt), nvarchar("automated_backup_preference_desc", 60),
		}}
		for _, ag := range groups {
			t.Rows = append(t.Rows, []any{ag.id, ag.name, ag.preference.code(), strings.ToLower(string(ag.preference))})
		}
		return t
	case "availability_replicas":
		t := &query.Table{Columns: []sqltypes.Column{
			col("replica_id", sqltypes.UniqueIdentifier), col("group_id", sqltypes.UniqueIdentifier),
			nvarchar("replica_server_name", 256), col("backup_priority", sqltypes.Int),
			nvarchar("availability_mode_desc", 60), nvarchar("endpoint_url", 128),
		}}
		for _, ag := range groups {
			for _, r := range ag.replicas {
				t.Rows = append(t.Rows, []any{r.id, ag.id, r.in.ServerName(), int32(r.priority), "SYNCHRONOUS_COMMIT",
					"TCP://" + strings.ToLower(r.in.cfg.Machine) + ":5022"})
			}
		}
		return t
	case "dm_hadr_availability_replica_states":
		t := &query.Table{Columns: []sqltypes.Column{
			col("replica_id", sqltypes.UniqueIdentifier), col("group_id", sqltypes.UniqueIdentifier),
			col("is_local", sqltypes.Bit), col("role", sqltypes.TinyInt), nvarchar("role_desc", 60),
			nvarchar("operational_state_desc", 60), nvarchar("connected_state_desc", 60),
			nvarchar("synchronization_health_desc", 60),
		}}
		for _, ag := range groups {
			// A secondary sees only its own row; the primary sees every replica
			// (sys.dm_hadr_availability_replica_states, FIDELITY.md).
			full := ag.replicas[ag.primary].in == in
			for i, r := range ag.replicas {
				if !full && r.in != in {
					continue
				}
				role, desc := uint8(2), "SECONDARY"
				if i == ag.primary {
					role, desc = 1, "PRIMARY"
				}
				conn, health := "CONNECTED", "HEALTHY"
				if !r.online {
					conn, health = "DISCONNECTED", "NOT_HEALTHY"
				}
				t.Rows = append(t.Rows, []any{r.id, ag.id, r.in == in, role, desc, "ONLINE", conn, health})
			}
		}
		return t
	case "dm_hadr_database_replica_states":
		t := &query.Table{Columns: []sqltypes.Column{
			col("database_id", sqltypes.Int), col("group_id", sqltypes.UniqueIdentifier),
			col("replica_id", sqltypes.UniqueIdentifier), col("group_database_id", sqltypes.UniqueIdentifier),
			col("is_local", sqltypes.Bit), col("is_primary_replica", sqltypes.Bit),
			nvarchar("synchronization_state_desc", 60), nvarchar("database_state_desc", 60),
		}}
		for _, ag := range groups {
			// A secondary has a row for each of its own databases; the primary has its own
			// and one for each secondary database (sys.dm_hadr_database_replica_states).
			full := ag.replicas[ag.primary].in == in
			for i, r := range ag.replicas {
				if !full && r.in != in {
					continue
				}
				for name, gid := range ag.databases {
					var dbid any
					if r.in == in {
						if db, ok := in.dbs[name]; ok {
							dbid = db.id
						}
					}
					t.Rows = append(t.Rows, []any{dbid, ag.id, r.id, gid, r.in == in, i == ag.primary, "SYNCHRONIZED", "ONLINE"})
				}
			}
		}
		return t
	case "availability_databases_cluster":
		t := &query.Table{Columns: []sqltypes.Column{
			col("group_id", sqltypes.UniqueIdentifier), col("group_database_id", sqltypes.UniqueIdentifier), nvarchar("database_name", 128),
		}}
		for _, ag := range groups {
			for name, gid := range ag.databases {
				display := name
				if db, ok := in.dbs[name]; ok {
					display = db.name
				}
				t.Rows = append(t.Rows, []any{ag.id, gid, display})
			}
		}
		return t
	}
	return nil
}

// alterAG is ALTER AVAILABILITY GROUP, run on the instance the session is connected to.
func (x *executor) alterAG(st *tsql.AlterAvailabilityGroup) error {
	if err := x.requireSysadmin("ALTER AVAILABILITY GROUP"); err != nil {
		return err
	}
	in := x.s.in
	ag, ok := in.sim.Group(st.Group)
	if !ok {
		return sqlErr(19405, "Failed to obtain the availability group '%s'. The availability group does not exist on this instance.", st.Group)
	}
	switch st.Action {
	case "FAILOVER", "FORCE_FAILOVER_ALLOW_DATA_LOSS":
		if ag.Primary() == in {
			return sqlErr(41122, "Cannot failover availability group '%s' to this instance of SQL Server. The local availability replica is already the primary replica of the availability group.", ag.name)
		}
		if err := ag.Failover(in); err != nil {
			return sqlErr(19405, "%v", err)
		}
	case "SET":
		if ag.Primary() != in {
			return sqlErr(41190, "Availability group '%s' failed to process the ALTER AVAILABILITY GROUP command. The local availability replica is not the primary replica.", ag.name)
		}
		if v, ok := st.Options["AUTOMATED_BACKUP_PREFERENCE"]; ok {
			p := BackupPreference(strings.ToUpper(v))
			switch p {
			case PreferPrimary, PreferSecondaryOnly, PreferSecondary, PreferNone:
				ag.SetPreference(p)
			default:
				return sqlErr(102, "Incorrect syntax near '%s'.", v)
			}
		}
	case "MODIFY REPLICA":
		v, ok := st.Options["BACKUP_PRIORITY"]
		if !ok {
			return x.done(0, false)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return sqlErr(41160, "The BACKUP_PRIORITY value %s is out of range. Specify a value from 0 to 100.", v)
		}
		ag.lock()
		found := false
		for _, r := range ag.replicas {
			if strings.EqualFold(r.in.ServerName(), st.Replica) {
				r.priority, found = n, true
			}
		}
		ag.unlock()
		if !found {
			return sqlErr(35223, "Cannot modify availability replica '%s'. The replica is not part of availability group '%s'.", st.Replica, ag.name)
		}
	default:
		return &tsql.UnsupportedError{Statement: "ALTER AVAILABILITY GROUP … " + st.Action}
	}
	return x.done(0, false)
}
