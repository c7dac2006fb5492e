package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
)

// Move relocates one file of the backup (RESTORE … WITH MOVE).
type Move struct {
	Logical, Physical string
}

// RestoreCommand is one RESTORE DATABASE or RESTORE LOG from URL (or DISK) devices.
type RestoreCommand struct {
	Database   string
	Log        bool       // RESTORE LOG
	URLs       []string   // the devices, one per stripe (virtual device names for DeviceVirtual)
	DeviceType DeviceType // empty: DeviceURL
	Moves      []Move
	Replace    bool
	NoRecovery bool
	// StopAt is a reading of the clock of the server that wrote the backup (its local time,
	// see domain.ToServerLocal): STOPAT is a datetime, with no offset, compared with the times in the log.
	StopAt *time.Time
	Stats  int
}

// Statement renders the RESTORE with every name, path and time as a parameter.
func (r RestoreCommand) Statement() (string, []any) {
	var sb strings.Builder
	args := []any{r.Database}
	if r.Log {
		sb.WriteString("RESTORE LOG @p1 FROM ")
	} else {
		sb.WriteString("RESTORE DATABASE @p1 FROM ")
	}
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("@p%d", len(args))
	}
	for i, u := range r.URLs {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(string(r.DeviceType.orURL()) + " = " + param(u))
	}
	opts := []string{}
	if r.NoRecovery {
		opts = append(opts, "NORECOVERY")
	} else {
		opts = append(opts, "RECOVERY")
	}
	if r.Replace {
		opts = append(opts, "REPLACE")
	}
	for _, m := range r.Moves {
		opts = append(opts, "MOVE "+param(m.Logical)+" TO "+param(m.Physical))
	}
	if r.StopAt != nil {
		// datetime, not datetimeoffset: STOPAT compares with the server's own clock.
		opts = append(opts, "STOPAT = "+param(mssql.DateTime1(*r.StopAt)))
	}
	if r.Stats > 0 {
		opts = append(opts, fmt.Sprintf("STATS = %d", r.Stats))
	}
	sb.WriteString(" WITH ")
	sb.WriteString(strings.Join(opts, ", "))
	return sb.String(), args
}

// BackupFile is one file of a backup set (RESTORE FILELISTONLY).
type BackupFile struct {
	Logical  string
	Physical string
	Type     string // D data, L log
}

// FileList reads the backup set's files from its URL devices.
func (c *Conn) FileList(ctx context.Context, urls []string) ([]BackupFile, error) {
	return c.fileList(ctx, "URL", urls)
}

// FileListFrom reads the backup set's files from devices of any type.
func (c *Conn) FileListFrom(ctx context.Context, t DeviceType, devices []string) ([]BackupFile, error) {
	return c.fileList(ctx, string(t.orURL()), devices)
}

// FileListFromDisk reads the backup set's files from backup files on the server's disk.
func (c *Conn) FileListFromDisk(ctx context.Context, paths []string) ([]BackupFile, error) {
	return c.fileList(ctx, "DISK", paths)
}

func (c *Conn) fileList(ctx context.Context, kind string, devices []string) ([]BackupFile, error) {
	var sb strings.Builder
	sb.WriteString("RESTORE FILELISTONLY FROM ")
	args := make([]any, len(devices))
	for i, u := range devices {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s = @p%d", kind, i+1)
		args[i] = u
	}
	rows, err := c.db.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, Classify(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, Classify(err)
	}
	var out []BackupFile
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, Classify(err)
		}
		var f BackupFile
		for i, col := range cols {
			s, _ := vals[i].(string)
			switch col {
			case "LogicalName":
				f.Logical = s
			case "PhysicalName":
				f.Physical = s
			case "Type":
				f.Type = s
			}
		}
		out = append(out, f)
	}
	return out, Classify(rows.Err())
}

// TargetState is what a restore needs to know about the target database.
type TargetState struct {
	Exists bool
	State  string
	InAG   bool
	// RedoStartLSN is where the next roll forward starts: the highest
	// sys.master_files.redo_start_lsn of the database's files ("" unless RESTORING, which is
	// when Microsoft documents it non-NULL). WAL-G's SQL Server restore decides "already
	// applied" from the same column (internal/databases/sqlserver, IsLogAlreadyApplied).
	RedoStartLSN  string
	RecoveryModel string
	// LastRestore is the backup set the newest msdb.dbo.restorehistory row of this database
	// restored (nil if none): with RedoStartLSN it tells whether a STOPAT step that stopped
	// inside its log was applied.
	LastRestore *RestoredSet
}

// RestoredSet is a backup set as msdb.dbo.backupset recorded it when it was restored.
type RestoredSet struct {
	FirstLSN, LastLSN string
	StopAt            *time.Time // restorehistory.stop_at: the server's local time, no offset
}

// Target reads the target database's state.
func (c *Conn) Target(ctx context.Context, name string) (TargetState, error) {
	var st TargetState
	var redo sql.NullString
	var ag int
	err := c.db.QueryRowContext(ctx, `SELECT d.state_desc, d.recovery_model_desc,
		CASE WHEN d.group_database_id IS NULL THEN 0 ELSE 1 END,
		(SELECT CAST(MAX(f.redo_start_lsn) AS nvarchar(40)) FROM sys.master_files f WHERE f.database_id = d.database_id)
		FROM sys.databases d WHERE d.name = @p1`, name).Scan(&st.State, &st.RecoveryModel, &ag, &redo)
	if errors.Is(err, sql.ErrNoRows) {
		return TargetState{}, nil
	}
	if err != nil {
		return st, Classify(err)
	}
	st.Exists, st.InAG, st.RedoStartLSN = true, ag == 1, redo.String
	if st.State != "RESTORING" {
		return st, nil
	}
	var first, last sql.NullString
	var stopAt sql.NullTime
	err = c.db.QueryRowContext(ctx, `SELECT TOP (1) CAST(bs.first_lsn AS nvarchar(40)), CAST(bs.last_lsn AS nvarchar(40)), rh.stop_at
		FROM msdb.dbo.restorehistory AS rh
		JOIN msdb.dbo.backupset AS bs ON bs.backup_set_id = rh.backup_set_id
		WHERE rh.destination_database_name = @p1
		ORDER BY rh.restore_history_id DESC`, name).Scan(&first, &last, &stopAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return st, Classify(err)
	default:
		st.LastRestore = &RestoredSet{FirstLSN: first.String, LastLSN: last.String}
		if stopAt.Valid {
			st.LastRestore.StopAt = &stopAt.Time
		}
	}
	return st, nil
}

// DefaultPaths are the instance's default data and log folders (with a trailing separator).
func (c *Conn) DefaultPaths(ctx context.Context) (data, log string, err error) {
	var d, l sql.NullString
	err = c.db.QueryRowContext(ctx, `SELECT CAST(SERVERPROPERTY('InstanceDefaultDataPath') AS nvarchar(260)),
		CAST(SERVERPROPERTY('InstanceDefaultLogPath') AS nvarchar(260))`).Scan(&d, &l)
	if err != nil {
		return "", "", Classify(err)
	}
	return d.String, l.String, nil
}

// Recover brings a RESTORING database online (RESTORE DATABASE … WITH RECOVERY).
func (c *Conn) Recover(ctx context.Context, name string) error {
	_, err := c.db.ExecContext(ctx, "RESTORE DATABASE @p1 WITH RECOVERY", name)
	return Classify(err)
}

// CheckDB runs DBCC CHECKDB; a consistency error comes back as an *Error.
func (c *Conn) CheckDB(ctx context.Context, name string) error {
	_, err := c.db.ExecContext(ctx, "DBCC CHECKDB (@p1) WITH NO_INFOMSGS", name)
	return Classify(err)
}

// DropDatabase drops a database (only ever a scratch database the product created).
func (c *Conn) DropDatabase(ctx context.Context, name string) error {
	_, err := c.db.ExecContext(ctx, "IF DB_ID(@p1) IS NOT NULL DROP DATABASE "+QuoteName(name), name)
	return Classify(err)
}
