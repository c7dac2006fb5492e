package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"go.temporal.io/sdk/activity"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// RestoreAsFiles writes the decrypted backup of every step of the chain to a folder on the
// target VM, with restore.sql: the T-SQL that restores them by hand (RESTORE … FROM DISK).
// For a DBA who wants the .bak files themselves, or to restore with their own tools.
//
// The script runs as written on the target instance: it restores under the name asked for,
// moves every file explicitly (to the target's folders under names made from that name, or,
// for the protected database on its own instance, back to where the backup says they were),
// and replaces the target only when it exists — which its header says in capitals, with
// what it overwrites. Names appear in comments only escaped (protocol.SafeForComment), so a
// name can never end a comment and start a statement; names with control characters are
// refused outright.
func (a *Agent) RestoreAsFiles(ctx context.Context, in protocol.RestoreAsFilesInput) (protocol.RestoreAsFilesResult, error) {
	var res protocol.RestoreAsFilesResult
	if err := checkNames("targetInstance", in.TargetInstance, "targetDatabase", in.TargetDatabase); err != nil {
		return res, err
	}
	for _, step := range in.Plan.Steps {
		if err := checkPointID(step.PointID); err != nil {
			return res, err
		}
	}
	if err := a.checkRestorePaths("dataPath", in.DataPath, "logPath", in.LogPath); err != nil {
		return res, err
	}
	conn, err := a.instance(in.TargetInstance)
	if err != nil {
		return res, err
	}
	if err := a.mkdirUnderRoots("asFilesDir", in.Dir); err != nil {
		return res, err
	}
	target, err := conn.Target(ctx, in.TargetDatabase)
	if err != nil {
		return res, sqlError(err, in.TargetDatabase)
	}
	var total atomic.Int64 // read by the heartbeat goroutine
	beat := func() { activity.RecordHeartbeat(ctx, protocol.StreamProgress{Bytes: total.Load()}) }
	stop := a.heartbeatLoop(ctx, beat)
	defer stop()
	name := sqlserver.QuoteName(in.TargetDatabase)
	var body strings.Builder
	var moves []sqlserver.Move
	defer a.Memory.Hold(1)() // the files are written one stripe at a time
	repo, stepKeys, err := a.vaultFor(ctx, in.Grant, protocol.GrantRestore, in.Plan.ItemID, in.Plan.PointIDs())
	if err != nil {
		return res, err
	}
	for i, step := range in.Plan.Steps {
		m, err := a.stepManifest(ctx, repo, in.Plan.ItemID, step.PointID, in.AllowUnauthenticated)
		if err != nil {
			return res, err
		}
		if err := checkStepManifest(i, step, m); err != nil {
			return res, err
		}
		key, err := stepKeys.Key(ctx, m.Encryption.KeyID)
		if err != nil {
			return res, keyError(err, "decrypt recovery point "+m.PointID)
		}
		var paths []string
		for n, s := range m.Stripes {
			path := filepath.Join(in.Dir, fmt.Sprintf("%02d-%s-s%d.bak", i+1, step.PointID, n+1))
			written, err := a.writeStripe(ctx, repo, s, key, path)
			total.Add(written)
			if err != nil {
				return res, err
			}
			paths = append(paths, path)
			res.Files = append(res.Files, path)
		}
		verb := "DATABASE"
		if step.Type == vault.BackupLog {
			verb = "LOG"
		}
		devices := make([]string, len(paths))
		for k, p := range paths {
			devices[k] = "DISK = " + sqlserver.QuoteString(p)
		}
		opts := []string{"NORECOVERY"}
		if i == 0 {
			if moves, err = a.scriptMoves(ctx, conn, paths, in); err != nil {
				return res, err
			}
			if target.Exists {
				opts = append(opts, "REPLACE")
			}
			for _, mv := range moves {
				opts = append(opts, "MOVE "+sqlserver.QuoteString(mv.Logical)+" TO "+sqlserver.QuoteString(mv.Physical))
			}
		}
		stop, err := step.ServerStopAt()
		if err != nil {
			return res, err
		}
		if stop != nil {
			opts = append(opts, "STOPAT = '"+stop.Format("2006-01-02T15:04:05.000")+"'")
		}
		fmt.Fprintf(&body, "-- step %d: %s %s\nRESTORE %s %s FROM %s\n  WITH %s;\n", i+1,
			protocol.SafeForComment(step.Type), protocol.SafeForComment(step.PointID),
			verb, name, strings.Join(devices, ", "), strings.Join(opts, ",\n       "))
	}
	fmt.Fprintf(&body, "RESTORE DATABASE %s WITH RECOVERY;\n", name)
	script := restoreScriptHeader(in, target, moves) + body.String()
	res.Script = filepath.Join(in.Dir, "restore.sql")
	if err := os.WriteFile(res.Script, []byte(script), 0o640); err != nil {
		return res, protocol.RetryableError(protocol.ErrBackupFailed, err, "write %s: %v", res.Script, err)
	}
	res.Bytes = total.Load()
	return res, nil
}

// scriptMoves places every file of the first backup: relocated (a new name, another
// instance or folders asked for) to the target's folders under names made from the target
// name, or else where the backup says the files were. Writing them always makes the script
// say where it writes, and lets a DBA change them in one place.
func (a *Agent) scriptMoves(ctx context.Context, conn *sqlserver.Conn, paths []string, in protocol.RestoreAsFilesInput) ([]sqlserver.Move, error) {
	files, err := conn.FileListFromDisk(ctx, paths)
	if err != nil {
		return nil, sqlError(err, in.TargetDatabase)
	}
	if in.Relocate {
		return a.relocate(ctx, conn, files, in.TargetDatabase, in.DataPath, in.LogPath)
	}
	moves := make([]sqlserver.Move, len(files))
	for i, f := range files {
		moves[i] = sqlserver.Move{Logical: f.Logical, Physical: f.Physical}
	}
	return moves, nil
}

// restoreScriptHeader says, in comments, what the script restores, which files it writes
// and what it overwrites. Every name in it is escaped for a comment.
func restoreScriptHeader(in protocol.RestoreAsFilesInput, target sqlserver.TargetState, moves []sqlserver.Move) string {
	name := sqlserver.QuoteName(protocol.SafeForComment(in.TargetDatabase))
	inst := protocol.SafeForComment(in.TargetInstance)
	var h strings.Builder
	fmt.Fprintf(&h, "-- Restore database %s on instance %s from the %d backup(s) sqlvault wrote to this folder,\n", name, inst, len(in.Plan.Steps))
	h.WriteString("-- then recover it. Run it on that instance as a sysadmin, e.g. sqlcmd -b -i restore.sql.\n--\n")
	if target.Exists {
		fmt.Fprintf(&h, "-- WARNING: IT OVERWRITES database %s, which existed on %s (state %s) when this\n", name, inst, protocol.SafeForComment(target.State))
		h.WriteString("-- script was written: the first RESTORE uses WITH REPLACE, so the database's current contents,\n")
		h.WriteString("-- including any log not yet backed up, are lost. To keep it, change the database name in every\n")
		h.WriteString("-- statement below and the file names in the MOVE clauses first.\n")
	} else {
		fmt.Fprintf(&h, "-- Database %s did not exist on %s when this script was written; the script does not use\n", name, inst)
		h.WriteString("-- WITH REPLACE, so it stops rather than overwrite a database of that name created since.\n")
	}
	if len(moves) > 0 {
		h.WriteString("-- It writes the database's files here (MOVE); SQL Server refuses a file another database uses:\n")
		for _, mv := range moves {
			fmt.Fprintf(&h, "--   %s -> %s\n", protocol.SafeForComment(mv.Logical), protocol.SafeForComment(mv.Physical))
		}
	}
	h.WriteString("\n")
	return h.String()
}

// writeStripe decrypts one stripe into a file (written to a temporary name, then renamed,
// so a crash never leaves a file that looks whole).
func (a *Agent) writeStripe(ctx context.Context, repo *vault.Repository, s vault.StripeInfo, key *blockcrypt.Key, path string) (int64, error) {
	r, err := repo.OpenStripe(ctx, s, key)
	if err != nil {
		return 0, vaultReadError(err, "open %s", s.Blob)
	}
	tmp := path + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return 0, protocol.UserError(protocol.ErrInvalidInput, "cannot write %s: %v", tmp, err)
	}
	n, err := r.WriteTo(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return n, vaultReadError(err, "write %s", path)
	}
	return n, os.Rename(tmp, path)
}
