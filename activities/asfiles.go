package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlserver"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// RestoreAsFiles writes the decrypted backup of every step of the chain to a folder on the
// target VM, with restore.sql: the T-SQL that restores them by hand (RESTORE … FROM DISK).
// For a DBA who wants the .bak files themselves, or to restore with their own tools.
func (a *Agent) RestoreAsFiles(ctx context.Context, in protocol.RestoreAsFilesInput) (protocol.RestoreAsFilesResult, error) {
	var res protocol.RestoreAsFilesResult
	conn, err := a.instance(in.TargetInstance)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(in.Dir, 0o750); err != nil {
		return res, protocol.UserError(protocol.ErrInvalidInput, "cannot create %s on %s: %v", in.Dir, a.VM, err)
	}
	var total int64
	beat := func() { activity.RecordHeartbeat(ctx, protocol.StreamProgress{Bytes: total}) }
	stop := a.heartbeatLoop(ctx, beat)
	defer stop()
	var script strings.Builder
	fmt.Fprintf(&script, "-- Restore %s from the files sqlvault wrote (%d step(s)). Run on %s, e.g. with sqlcmd -i restore.sql.\n",
		sqlserver.QuoteName(in.TargetDatabase), len(in.Plan.Steps), in.TargetInstance)
	target := sqlserver.QuoteName(in.TargetDatabase)
	defer a.Memory.Hold(1)() // the files are written one stripe at a time
	for i, step := range in.Plan.Steps {
		m, err := a.Vault.Manifest(ctx, in.Plan.ItemID, step.PointID)
		if err != nil {
			return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read the manifest of %s: %v", step.PointID, err)
		}
		if err := checkStepManifest(i, step, m); err != nil {
			return res, err
		}
		var paths []string
		for n, s := range m.Stripes {
			path := filepath.Join(in.Dir, fmt.Sprintf("%02d-%s-s%d.bak", i+1, step.PointID, n+1))
			written, err := a.writeStripe(ctx, s, path)
			total += written
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
		if i == 0 && in.Relocate {
			files, err := conn.FileListFromDisk(ctx, paths)
			if err != nil {
				return res, sqlError(err, in.TargetDatabase)
			}
			moves, err := a.relocate(ctx, conn, files, in.TargetDatabase, in.DataPath, in.LogPath)
			if err != nil {
				return res, err
			}
			for _, mv := range moves {
				opts = append(opts, "MOVE "+sqlserver.QuoteString(mv.Logical)+" TO "+sqlserver.QuoteString(mv.Physical))
			}
		}
		stop, err := stopAtOf(step)
		if err != nil {
			return res, err
		}
		if stop != nil {
			opts = append(opts, "STOPAT = '"+stop.Format("2006-01-02T15:04:05.000")+"'")
		}
		fmt.Fprintf(&script, "-- step %d: %s %s\nRESTORE %s %s FROM %s\n  WITH %s;\n", i+1, step.Type, step.PointID,
			verb, target, strings.Join(devices, ", "), strings.Join(opts, ", "))
	}
	fmt.Fprintf(&script, "RESTORE DATABASE %s WITH RECOVERY;\n", target)
	res.Script = filepath.Join(in.Dir, "restore.sql")
	if err := os.WriteFile(res.Script, []byte(script.String()), 0o640); err != nil {
		return res, protocol.RetryableError(protocol.ErrBackupFailed, err, "write %s: %v", res.Script, err)
	}
	res.Bytes = total
	return res, nil
}

// writeStripe decrypts one stripe into a file (written to a temporary name, then renamed,
// so a crash never leaves a file that looks whole).
func (a *Agent) writeStripe(ctx context.Context, s vault.StripeInfo, path string) (int64, error) {
	r, err := a.Vault.OpenStripe(ctx, s, a.Key)
	if err != nil {
		return 0, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "open %s: %v", s.Blob, err)
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
		return n, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "write %s: %v", path, err)
	}
	return n, os.Rename(tmp, path)
}
