package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/metrics"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// stripeSource adapts a vault stripe reader to a data path (datapath.StripeSource).
// Bytes handed to SQL Server count toward the restore stream's metrics (m; nil: none).
type stripeSource struct {
	r *vault.StripeReader
	m *metrics.Stream
}

func (s stripeSource) Size() int64 { return s.r.Size() }
func (s stripeSource) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(ctx, p, off)
	s.m.Read(n)
	return n, err
}

// PrepareRestore checks the target before anything changes: the instance is ours and we are
// sysadmin; an existing target needs overwrite and must not be in an availability group;
// overwriting the protected database itself in FULL recovery needs a tail-log backup first.
func (a *Agent) PrepareRestore(ctx context.Context, in protocol.PrepareRestoreInput) (protocol.PrepareRestoreResult, error) {
	var res protocol.PrepareRestoreResult
	if err := checkNames("targetInstance", in.TargetInstance, "targetDatabase", in.TargetDatabase); err != nil {
		return res, err
	}
	conn, mode, err := a.restoreTarget(in.TargetInstance)
	if err != nil {
		return res, err
	}
	srv, err := conn.Server(ctx)
	if err != nil {
		return res, sqlError(err, in.TargetDatabase)
	}
	if !srv.IsSysadmin {
		return res, notSysadmin(srv)
	}
	st, err := conn.Target(ctx, in.TargetDatabase)
	if err != nil {
		return res, sqlError(err, in.TargetDatabase)
	}
	res.TargetExists, res.TargetState = st.Exists, st.State
	if !st.Exists {
		return res, nil
	}
	if st.InAG {
		return res, protocol.UserError(protocol.ErrTargetInAG,
			"%s is in an availability group, and SQL Server cannot restore over an availability-group database: restore under another name (targetDatabase), or remove it from the group first",
			in.TargetDatabase)
	}
	if mode == protocol.RestoreModeNew {
		return res, a.refuseReplace(in.TargetInstance, in.TargetDatabase)
	}
	if !in.Overwrite {
		return res, protocol.UserError(protocol.ErrTargetExists,
			"%s already exists on %s: restore under another name (targetDatabase / --as-name), or ask for overwrite (--overwrite) to replace it",
			in.TargetDatabase, in.TargetInstance)
	}
	res.NeedsTailLog = in.SourceIsTarget && !in.SkipTailLog && st.State == "ONLINE" && st.RecoveryModel != "SIMPLE"
	return res, nil
}

// RestoreStep applies one backup of the chain WITH NORECOVERY through a restore session of
// the instance's data path. It first asks the database whether the step is already applied (a resumed
// restore after a crash): redo_start_lsn tells where the next roll forward starts.
func (a *Agent) RestoreStep(ctx context.Context, in protocol.RestoreStepInput) (protocol.RestoreStepResult, error) {
	m := a.Metrics.StartStream(metrics.DirectionRestore, in.Step.Type)
	res, err := a.restoreStep(ctx, in, m)
	m.End(outcome(ctx, err))
	return res, err
}

func (a *Agent) restoreStep(ctx context.Context, in protocol.RestoreStepInput, stream *metrics.Stream) (protocol.RestoreStepResult, error) {
	var res protocol.RestoreStepResult
	if err := checkNames("targetInstance", in.TargetInstance, "targetDatabase", in.TargetDatabase); err != nil {
		return res, err
	}
	if err := checkPointID(in.Step.PointID); err != nil {
		return res, err
	}
	if err := a.checkRestorePaths("dataPath", in.DataPath, "logPath", in.LogPath); err != nil {
		return res, err
	}
	log := a.logger().With(zap.String("database", in.TargetDatabase), zap.String("point", in.Step.PointID))
	// Checked again here, where the RESTORE runs, whatever scheduled it.
	conn, mode, err := a.restoreTarget(in.TargetInstance)
	if err != nil {
		return res, err
	}
	// The manifest first: the plan was made from the listing's summaries, and a step whose
	// manifest disagrees must neither run nor be taken as applied (applied trusts its LSNs).
	repo, stepKeys, err := a.vaultFor(ctx, in.Grant, protocol.GrantRestore, in.ItemID, []string{in.Step.PointID})
	if err != nil {
		return res, err
	}
	m, err := a.stepManifest(ctx, repo, in.ItemID, in.Step.PointID, in.AllowUnauthenticated)
	if err != nil {
		return res, err
	}
	if err := checkStepManifest(in.Index, in.Step, m); err != nil {
		return res, err
	}
	st, err := conn.Target(ctx, in.TargetDatabase)
	if err != nil {
		return res, sqlError(err, in.TargetDatabase)
	}
	if applied(st, in) {
		log.Info("restore step already applied; skipping")
		return protocol.RestoreStepResult{AlreadyApplied: true}, nil
	}
	// The first step creates the database; over an existing one it replaces it (SQL Server
	// restores over the same database even without REPLACE once its tail is backed up).
	if mode == protocol.RestoreModeNew && in.Index == 0 && st.Exists {
		return res, a.refuseReplace(in.TargetInstance, in.TargetDatabase)
	}
	// The stripe readers fetch ahead in the background under this context: it ends with the
	// step, after the session is closed.
	ctx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()
	defer a.Memory.Hold(len(m.Stripes))() // SQL Server reads every stripe at once
	sess, err := a.openRestoreSession(ctx, conn, repo, stepKeys, in.TargetInstance, m, "", stream)
	if err != nil {
		return res, setupError(err, in.TargetDatabase)
	}
	defer sess.Close()

	stop, err := in.Step.ServerStopAt()
	if err != nil {
		return res, err
	}
	cmd := sqlserver.RestoreCommand{Database: in.TargetDatabase, Log: in.Step.Type == vault.BackupLog,
		URLs: sess.Devices(), DeviceType: sess.DeviceType(),
		Replace: in.Replace, NoRecovery: true, StopAt: stop, Stats: statsPercentEvery}
	if in.Relocate && in.Index == 0 {
		files, err := sess.FileList(ctx)
		if err != nil {
			if serr := sess.Err(); serr != nil {
				// As for the RESTORE below: SQL Server only saw a failed read (VDI's
				// FILELISTONLY reads devices through the same stripe readers).
				return res, pathError(serr, "reading")
			}
			return res, setupError(err, in.TargetDatabase)
		}
		cmd.Moves, err = a.relocate(ctx, conn, files, in.TargetDatabase, in.DataPath, in.LogPath)
		if err != nil {
			return res, err
		}
	}
	q, args := cmd.Statement()
	err = a.runWithProgress(ctx, conn, q, args, func(pct int) protocol.StreamProgress {
		return protocol.StreamProgress{Percent: pct, Bytes: sess.Progress().Bytes}
	})
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if protocol.ErrorType(err) == protocol.ErrBackupStalled {
			return res, err
		}
		if serr := sess.Err(); serr != nil {
			return res, pathError(serr, "reading")
		}
		return res, restoreError(err, in)
	}
	return res, nil
}

func errNumber(err error) int32 {
	var se *sqlserver.Error
	if errors.As(err, &se) {
		return se.Number
	}
	return 0
}

// applied reports whether the target already shows this step applied (a resumed restore
// after a crash), from the database's state alone, never from an error number:
//   - it is RESTORING and its next roll forward (redo_start_lsn) starts at the step's
//     LastLSN (full, differential) or at or past it (log; WAL-G decides a log is applied
//     the same way);
//   - or, for a log restore WITH STOPAT that stopped inside its log, redo_start_lsn lies
//     inside this log (FirstLSN <= redo < LastLSN) and the newest restore into the database
//     (msdb.dbo.restorehistory) was this backup set. Before the step, redo_start_lsn can lie
//     inside the log too (the first log after a full starts before the full ends), so the
//     LSN alone cannot tell; the history row that SQL Server writes when the restore
//     completes can.
func applied(st sqlserver.TargetState, in protocol.RestoreStepInput) bool {
	if !st.Exists || st.State != "RESTORING" || st.RedoStartLSN == "" {
		return false
	}
	redo, last := vault.LSN(st.RedoStartLSN), vault.LSN(in.Step.LastLSN)
	if !redo.Valid() || !last.Valid() {
		return false
	}
	if in.Step.Type != vault.BackupLog {
		return redo.Compare(last) == 0
	}
	if redo.Compare(last) >= 0 {
		return true
	}
	first := vault.LSN(in.Step.FirstLSN)
	if in.Step.StopAt == nil || st.LastRestore == nil || !first.Valid() || redo.Compare(first) < 0 {
		return false
	}
	return sameLSN(st.LastRestore.FirstLSN, first) && sameLSN(st.LastRestore.LastLSN, last)
}

func sameLSN(s string, l vault.LSN) bool {
	v := vault.LSN(s)
	return v.Valid() && v.Compare(l) == 0
}

// openRestoreSession opens every stripe of a recovery point for reading and a session of
// the instance's data path serving them to SQL Server. prefix names the devices (unique
// per step). The bytes SQL Server reads count toward stream (nil: not measured).
func (a *Agent) openRestoreSession(ctx context.Context, conn *sqlserver.Conn, repo *vault.Repository, src keys.Source, instance string, m *vault.Manifest, prefix string, stream *metrics.Stream) (datapath.RestoreSession, error) {
	path, err := a.dataPath(instance)
	if err != nil {
		return nil, err
	}
	key, err := src.Key(ctx, m.Encryption.KeyID)
	if err != nil {
		return nil, keyError(err, "open recovery point "+m.PointID)
	}
	stripes := make([]datapath.RestoreStripe, 0, len(m.Stripes))
	for i, s := range m.Stripes {
		// OpenStripe authenticates the stripe's index and block list before SQL Server is
		// given a byte of it.
		r, err := repo.OpenStripe(ctx, s, key)
		if err != nil {
			return nil, vaultReadError(err, "open stripe %d of %s", i+1, m.PointID)
		}
		stripes = append(stripes, datapath.RestoreStripe{Name: fmt.Sprintf("%s%s-s%d.bak", prefix, m.PointID, i+1), Source: stripeSource{r: r, m: stream}})
	}
	return path.OpenRestore(ctx, conn, stripes)
}

// relocate places every file of the backup in the target folders under names made from the
// target database's name, so a copy never collides with the original's files.
func (a *Agent) relocate(ctx context.Context, conn *sqlserver.Conn, files []sqlserver.BackupFile, target, dataPath, logPath string) ([]sqlserver.Move, error) {
	if dataPath == "" || logPath == "" {
		d, l, err := conn.DefaultPaths(ctx)
		if err != nil {
			return nil, sqlError(err, target)
		}
		if dataPath == "" {
			dataPath = d
		}
		if logPath == "" {
			logPath = l
		}
	}
	base := fileSafe(target)
	var moves []sqlserver.Move
	dataN, logN := 0, 0
	for _, f := range files {
		ext := filepath.Ext(f.Physical)
		var name, dir string
		if f.Type == "L" {
			logN++
			dir, name = logPath, fmt.Sprintf("%s_log%s", base, suffixN(logN))
			if ext == "" {
				ext = ".ldf"
			}
		} else {
			dataN++
			dir, name = dataPath, base+suffixN(dataN)
			if ext == "" {
				ext = ".mdf"
			}
		}
		moves = append(moves, sqlserver.Move{Logical: f.Logical, Physical: joinPath(dir, name+ext)})
	}
	return moves, nil
}

func suffixN(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf("_%d", n)
}

// joinPath joins with the separator the folder already uses (Windows or Linux SQL Server).
func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	sep := "/"
	if strings.Contains(dir, `\`) {
		sep = `\`
	}
	return strings.TrimRight(dir, `/\`) + sep + name
}

// fileSafe keeps a database name usable in a file name on Windows and Linux.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 32 || strings.ContainsRune(`<>:"/\|?*`, r) {
			return '_'
		}
		return r
	}, s)
}

// restoreError names restore refusals; the rest is retried.
func restoreError(err error, in protocol.RestoreStepInput) error {
	switch errNumber(err) {
	case 4305, 4326, 4330, 3136, 3117, 4338, 4335: // 4330: a log of another recovery fork
		return protocol.UserError(protocol.ErrRestoreChainRejected,
			"SQL Server refused step %d (%s %s) of the chain: %v; the target is left RESTORING: start the restore again (with overwrite) or restore under another name",
			in.Index+1, in.Step.Type, in.Step.PointID, err)
	case 3154, 3159:
		return protocol.UserError(protocol.ErrTargetExists, "SQL Server refused to replace %s: %v", in.TargetDatabase, err)
	case 3104:
		return protocol.UserError(protocol.ErrTargetInAG, "%v", err)
	}
	return sqlError(err, in.TargetDatabase)
}

// RecoverDatabase brings the target online and reports its state.
func (a *Agent) RecoverDatabase(ctx context.Context, in protocol.RecoverInput) (string, error) {
	if err := checkNames("targetInstance", in.TargetInstance, "targetDatabase", in.TargetDatabase); err != nil {
		return "", err
	}
	// Recovery ends a restore: an instance that accepts none has nothing to recover (and a
	// database left RESTORING there, a log-shipping standby say, is not ours to bring up).
	conn, _, err := a.restoreTarget(in.TargetInstance)
	if err != nil {
		return "", err
	}
	st, err := conn.Target(ctx, in.TargetDatabase)
	if err != nil {
		return "", sqlError(err, in.TargetDatabase)
	}
	if st.State != "ONLINE" {
		if err := conn.Recover(ctx, in.TargetDatabase); err != nil {
			return "", sqlError(err, in.TargetDatabase)
		}
	}
	st, err = conn.Target(ctx, in.TargetDatabase)
	if err != nil {
		return "", sqlError(err, in.TargetDatabase)
	}
	return st.State, nil
}

// VerifyDatabase runs DBCC CHECKDB on a restored database and, for a scratch copy, drops
// it: only a database named as verify-restore names its scratch copies
// (protocol.VerifyScratchName) may be dropped.
func (a *Agent) VerifyDatabase(ctx context.Context, in protocol.VerifyDatabaseInput) (protocol.VerifyDatabaseResult, error) {
	if err := checkNames("targetInstance", in.TargetInstance, "database", in.Database); err != nil {
		return protocol.VerifyDatabaseResult{}, err
	}
	if err := checkVerifyDrop(in); err != nil {
		return protocol.VerifyDatabaseResult{}, err
	}
	conn, err := a.instance(in.TargetInstance)
	if err != nil {
		return protocol.VerifyDatabaseResult{}, err
	}
	res := protocol.VerifyDatabaseResult{OK: true, Message: fmt.Sprintf("DBCC CHECKDB found no errors in %s", in.Database)}
	if err := conn.CheckDB(ctx, in.Database); err != nil {
		if _, ok := err.(*sqlserver.Error); !ok {
			return res, err
		}
		res = protocol.VerifyDatabaseResult{OK: false, Message: fmt.Sprintf("DBCC CHECKDB reported errors in %s: %v", in.Database, err)}
	}
	if in.Drop {
		if err := conn.DropDatabase(ctx, in.Database); err != nil {
			return res, sqlError(err, in.Database)
		}
	}
	return res, nil
}
