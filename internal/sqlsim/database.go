package sqlsim

import (
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/media"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// Database states as sys.databases.state_desc reports them.
const (
	StateOnline    = "ONLINE"
	StateRestoring = "RESTORING"
	StateOffline   = "OFFLINE"
	StateSuspect   = "SUSPECT"
)

// DatabaseSpec describes a database created through the Go API.
type DatabaseSpec struct {
	Name string
	// DataPages is the data size in 8 KiB pages (default 1024 = 8 MiB); SizeBytes, when set,
	// wins. Content is generated, so tens of GB cost no memory.
	DataPages int64
	SizeBytes int64
	// Recovery is FULL (default), SIMPLE or BULK_LOGGED.
	Recovery string
	// DataFiles is the number of data files (default 1); LogFiles of log files (default 1).
	// The reference's "~1000 files" limit is tested with DataFiles = 1001.
	DataFiles, LogFiles int
	ReadOnly            bool
	// Seed fixes the content identity (default: derived from a new GUID).
	Seed uint64
	// LSNOffset is added to every internal LSN when SQL reads it, as a decimal string
	// (default 37000000000000000: VLF 37, like a young database). Offsets above 2^63 test
	// that LSNs are carried as numeric(25,0), not int64.
	LSNOffset string
	// Mirrored marks the database as a database-mirroring principal (the product refuses these).
	Mirrored bool
}

type dbFile struct {
	fileID   int32
	logical  string
	physical string
	typ      byte // 0 ROWS, 1 LOG
	pages    int64
}

// Database is one database of an instance. The Go methods are the workload, truth and
// inspection API for tests; SQL sees the same state through the catalog views.
type Database struct {
	in *Instance
	// guarded by in.mu
	id            int32
	name          string
	guid          sqltypes.UUID
	created       time.Time
	files         []dbFile
	recovery      string
	readOnly      bool
	state         string
	userAccess    string
	snapshotOf    int32
	mirroringGUID *sqltypes.UUID
	forkGUID      sqltypes.UUID
	firstForkGUID sqltypes.UUID
	// prevForkGUID and forkPoint say where the current recovery fork began: the LSN at which
	// the restore sequence that started it recovered, on fork prevForkGUID. forkPoint is 0
	// for a database that was never restored. The first log backup after a fork spans the
	// fork point, and msdb records both forks and the point for it (backupset
	// first_recovery_fork_guid, last_recovery_fork_guid, fork_point_lsn).
	prevForkGUID sqltypes.UUID
	forkPoint    content.LSN
	// createdByRestore: RESTORE created this database and has not yet applied its full, so
	// the full leaves it the new GUID RESTORE gave it.
	createdByRestore bool
	ag               *AvailabilityGroup
	busy             map[string]bool // "data", "log", "restore": operations that must be serialized
	restore          *restoreState   // while RESTORING: where the restore sequence stands
	standby          bool
	corruptPage      *int64 // set by Corrupt: DBCC CHECKDB reports it

	shared *sharedState // content and log chain; shared by the replicas of an AG database
}

// sharedState is what an availability-group database's replicas have in common: the data
// and the log, and therefore the log chain.
type sharedState struct {
	mu         sync.Mutex
	content    *content.Database
	lsnOffset  *big.Int
	familyGUID sqltypes.UUID
	// diffBase is the checkpoint LSN of the last full that was not copy-only (0: none);
	// differentials are based on it.
	diffBase     content.LSN
	diffBaseGUID sqltypes.UUID
	// lastLogBackup is sys.database_recovery_status.last_log_backup_lsn: the first LSN of the
	// next log backup; 0 means NULL (no log backup possible).
	lastLogBackup content.LSN
	// tables is the log of user-table changes, in LSN order (table.go). tableMu serializes
	// CREATE TABLE and INSERT from the check (duplicate name, primary key) to the write.
	tables  []media.TableOp
	tableMu sync.Mutex
}

var defaultLSNOffset = big.NewInt(37_000_000_000_000_000)

// ext converts an internal LSN to SQL's numeric(25,0).
func (sh *sharedState) ext(l content.LSN) sqltypes.Decimal {
	v := new(big.Int).SetUint64(uint64(l))
	return sqltypes.Decimal{Unscaled: v.Add(v, sh.lsnOffset)}
}

// extOrNull is ext, with 0 meaning NULL.
func (sh *sharedState) extOrNull(l content.LSN) any {
	if l == 0 {
		return nil
	}
	return sh.ext(l)
}

// internal converts a SQL LSN back; ok is false when it is outside this database's range.
func (sh *sharedState) internal(d sqltypes.Decimal) (content.LSN, bool) {
	if d.Unscaled == nil || d.Scale != 0 {
		return 0, false
	}
	v := new(big.Int).Sub(d.Unscaled, sh.lsnOffset)
	if v.Sign() < 0 || !v.IsUint64() {
		return 0, false
	}
	return content.LSN(v.Uint64()), true
}

// CreateDatabase creates a user database in the ONLINE state (Go API; CREATE DATABASE is
// the T-SQL way).
func (in *Instance) CreateDatabase(spec DatabaseSpec) (*Database, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if spec.Name == "" {
		return nil, fmt.Errorf("sqlsim: DatabaseSpec.Name is required")
	}
	if _, dup := in.dbs[strings.ToUpper(spec.Name)]; dup {
		return nil, sqlErr(1801, "Database '%s' already exists. Choose a different database name.", spec.Name)
	}
	if spec.LSNOffset != "" {
		if _, ok := new(big.Int).SetString(spec.LSNOffset, 10); !ok {
			return nil, fmt.Errorf("sqlsim: LSNOffset %q is not a decimal integer", spec.LSNOffset)
		}
	}
	id := in.nextDBID
	in.nextDBID++
	return in.newDatabaseLocked(spec, id), nil
}

func (in *Instance) newDatabaseLocked(spec DatabaseSpec, id int32) *Database {
	now := in.sim.Now()
	pages := spec.DataPages
	if spec.SizeBytes > 0 {
		pages = (spec.SizeBytes + content.PageSize - 1) / content.PageSize
	}
	if pages <= 0 {
		pages = 1024
	}
	if spec.Recovery == "" {
		spec.Recovery = "FULL"
	}
	guid := newGUID()
	seed := spec.Seed
	if seed == 0 {
		for _, b := range guid[:8] {
			seed = seed<<8 | uint64(b)
		}
	}
	offset := defaultLSNOffset
	if spec.LSNOffset != "" {
		offset, _ = new(big.Int).SetString(spec.LSNOffset, 10)
	}
	db := &Database{
		in:         in,
		id:         id,
		name:       spec.Name,
		guid:       guid,
		created:    now,
		recovery:   strings.ToUpper(spec.Recovery),
		readOnly:   spec.ReadOnly,
		state:      StateOnline,
		userAccess: "MULTI_USER",
		forkGUID:   newGUID(),
		busy:       map[string]bool{},
		files:      defaultFiles(in.cfg, spec.Name, pages, spec.DataFiles, spec.LogFiles),
		shared: &sharedState{
			content:    content.New(content.Options{Seed: seed, DataPages: pages, Created: now}),
			lsnOffset:  offset,
			familyGUID: guid,
		},
	}
	db.firstForkGUID = db.forkGUID
	if spec.Mirrored {
		g := newGUID()
		db.mirroringGUID = &g
	}
	in.dbs[strings.ToUpper(spec.Name)] = db
	return db
}

// defaultFiles lays out data and log files the way CREATE DATABASE does without ON.
func defaultFiles(cfg InstanceConfig, name string, pages int64, dataFiles, logFiles int) []dbFile {
	if dataFiles <= 0 {
		dataFiles = 1
	}
	if logFiles <= 0 {
		logFiles = 1
	}
	var files []dbFile
	per := pages / int64(dataFiles)
	for i := 0; i < dataFiles; i++ {
		p := per
		if i == 0 {
			p += pages % int64(dataFiles)
		}
		logical, physical := name, cfg.DataPath+name+".mdf"
		if i > 0 {
			logical = fmt.Sprintf("%s_%d", name, i+1)
			physical = fmt.Sprintf("%s%s_%d.ndf", cfg.DataPath, name, i+1)
		}
		files = append(files, dbFile{fileID: int32(len(files) + 1), logical: logical, physical: physical, typ: 0, pages: p})
		if i == 0 {
			// File id 2 is the first log file, as on SQL Server.
			for j := 0; j < logFiles; j++ {
				logical, physical := name+"_log", cfg.LogPath+name+"_log.ldf"
				if j > 0 {
					logical = fmt.Sprintf("%s_log%d", name, j+1)
					physical = fmt.Sprintf("%s%s_log%d.ldf", cfg.LogPath, name, j+1)
				}
				files = append(files, dbFile{fileID: int32(len(files) + 1), logical: logical, physical: physical, typ: 1, pages: 1024})
			}
		}
	}
	return files
}

// Name is the database name.
func (db *Database) Name() string {
	db.in.mu.Lock()
	defer db.in.mu.Unlock()
	return db.name
}

// State is sys.databases.state_desc.
func (db *Database) State() string {
	db.in.mu.Lock()
	defer db.in.mu.Unlock()
	return db.state
}

// Recovery is sys.databases.recovery_model_desc.
func (db *Database) Recovery() string {
	db.in.mu.Lock()
	defer db.in.mu.Unlock()
	return db.recovery
}

func (db *Database) sharedState() *sharedState {
	db.in.mu.Lock()
	defer db.in.mu.Unlock()
	return db.shared
}

// Write is the workload: n page writes (one log record each) at the simulator's current
// time. It returns the LSN (as SQL shows it) of the last record. It refuses what SQL Server
// would refuse: a database that is not online, read-only, or an AG secondary.
func (db *Database) Write(n int) (string, error) {
	if err := db.writable(); err != nil {
		return "", err
	}
	sh := db.sharedState()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l := sh.content.Write(db.in.sim.Now(), n)
	return sh.ext(l).String(), nil
}

func (db *Database) writable() error {
	db.in.mu.Lock()
	defer db.in.mu.Unlock()
	switch {
	case db.state != StateOnline:
		return sqlErr(942, "Database '%s' cannot be opened because it is %s.", db.name, strings.ToLower(db.state))
	case db.readOnly || db.snapshotOf != 0:
		return sqlErr(3906, "Failed to update database \"%s\" because the database is read-only.", db.name)
	case db.ag != nil && !db.ag.isPrimaryLocked(db.in):
		return sqlErr(3906, "Failed to update database \"%s\" because the database is read-only.", db.name)
	}
	return nil
}

// Digest is the content digest of the database now.
func (db *Database) Digest() content.Digest { return db.sharedState().content.Digest() }

// DigestAt is the content digest as of instant t: every change committed at or before t.
func (db *Database) DigestAt(t time.Time) content.Digest {
	return db.sharedState().content.DigestAt(t)
}

// DigestAtLSN is the content digest with every record before lsn (as SQL shows LSNs) applied:
// what a restore of a backup whose LastLSN is lsn produces.
func (db *Database) DigestAtLSN(lsn string) (content.Digest, error) {
	sh := db.sharedState()
	d, err := sqltypes.ParseDecimal(lsn)
	if err != nil {
		return content.Digest{}, err
	}
	l, ok := sh.internal(d)
	if !ok {
		return content.Digest{}, fmt.Errorf("sqlsim: LSN %s is outside this database's range", lsn)
	}
	return sh.content.DigestAtLSN(l), nil
}

// NextLSN is the LSN (as SQL shows it) the next log record will get.
func (db *Database) NextLSN() string {
	sh := db.sharedState()
	return sh.ext(sh.content.NextLSN()).String()
}

// DataPages is the data size in pages.
func (db *Database) DataPages() int64 { return db.sharedState().content.DataPages() }

// Seed is the content identity (kept by restores).
func (db *Database) Seed() uint64 { return db.sharedState().content.Seed() }

// PageBytes returns the current bytes of data page id: what a full backup carries. Tests
// search backup blobs for them to prove the vault holds ciphertext.
func (db *Database) PageBytes(id int64) []byte {
	sh := db.sharedState()
	buf := make([]byte, content.PageSize)
	content.PageBytes(buf, sh.content.Seed(), id, sh.content.PageVersion(id))
	return buf
}

// Corrupt marks a data page as damaged, so DBCC CHECKDB reports a consistency error (for
// testing restore verification and restore drills). The damage is logical, with a valid page
// checksum (as when a page is damaged in memory before it is written): BACKUP, even WITH
// CHECKSUM, copies it, so a full or differential taken afterwards carries it and a database
// restored from it fails DBCC CHECKDB too. A full restore from a clean backup clears it.
func (db *Database) Corrupt(page int64) {
	db.in.mu.Lock()
	defer db.in.mu.Unlock()
	db.corruptPage = &page
}
