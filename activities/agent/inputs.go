package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/pathpolicy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// The agent checks what it is asked to act on itself, rather than trusting the workflow
// that scheduled the activity: names must be safe to put in T-SQL and scripts, paths must
// lie under agent.restoreRoots, and the item a backup is written under must be the one its
// database is.

// checkNames refuses names (field, value pairs; empty values skipped) that carry control
// characters or line breaks or exceed SQL Server's 128 characters.
func checkNames(fields ...string) error {
	var problems []string
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			continue
		}
		if p := protocol.NameProblem(fields[i], fields[i+1]); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return protocol.UserError(protocol.ErrInvalidInput, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// checkPointID refuses a point ID that could leave its folder in the vault or on disk:
// point IDs are letters, digits and hyphens (workflows.newPointID).
func checkPointID(id string) error {
	if id == "" || len(id) > 100 || strings.ContainsFunc(id, func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return protocol.UserError(protocol.ErrInvalidInput, "%q is not a recovery point ID (letters, digits and hyphens, e.g. 20261126T101530Z-full-01a2b3c4d5)", protocol.SafeForComment(id))
	}
	return nil
}

// checkRestorePaths refuses a path a request names (kind: "asFilesDir", "dataPath",
// "logPath"; empty ones skipped) outside agent.restoreRoots.
func (a *Agent) checkRestorePaths(kindPath ...string) error {
	for i := 0; i+1 < len(kindPath); i += 2 {
		if kindPath[i+1] == "" {
			continue
		}
		if err := pathpolicy.Within(kindPath[i+1], a.RestoreRoots); err != nil {
			return protocol.UserError(protocol.ErrPathNotAllowed, "%s: %v", kindPath[i], err)
		}
	}
	return nil
}

// checkResolvedDir re-checks an existing folder on this VM after resolving symbolic links,
// so a link under a root cannot lead the as-files writer elsewhere.
func (a *Agent) checkResolvedDir(kind, dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return protocol.UserError(protocol.ErrInvalidInput, "%s: cannot resolve %s on %s: %v", kind, dir, a.VM, err)
	}
	var roots []string
	for _, r := range a.RestoreRoots {
		if rr, err := filepath.EvalSymlinks(r); err == nil {
			roots = append(roots, rr)
		}
	}
	if err := pathpolicy.Within(real, roots); err != nil {
		return protocol.UserError(protocol.ErrPathNotAllowed, "%s: %s resolves to %s: %v", kind, dir, real, err)
	}
	return nil
}

// checkBackupItem recomputes, from SQL Server's own view, the item the database's backups
// belong to and refuses a stream whose input names another item: the item ID decides where
// in the vault the stripes go and whose chain the point joins.
func (a *Agent) checkBackupItem(ctx context.Context, conn *sqlserver.Conn, in protocol.StreamBackupInput) error {
	if err := checkNames("instance", in.Instance, "database", in.Database); err != nil {
		return err
	}
	if err := checkPointID(in.PointID); err != nil {
		return err
	}
	if in.Stripes < 1 || in.Stripes > maxStripes {
		return protocol.UserError(protocol.ErrInvalidInput, "stripes must be 1 to %d (got %d)", maxStripes, in.Stripes)
	}
	srv, err := conn.Server(ctx)
	if err != nil {
		return sqlError(err, in.Database)
	}
	db, err := conn.Database(ctx, in.Database)
	if err != nil {
		return sqlError(err, in.Database)
	}
	var ag *protocol.AGInfo
	if db.InAvailabilityGp {
		if ag, err = a.agOf(ctx, conn, db); err != nil {
			return err
		}
	}
	if want := vault.ItemID(protocol.ItemInstance(srv.ServerName, ag), db.Name); want != in.ItemID {
		return protocol.UserError(protocol.ErrInvalidInput,
			"the stream names item %s, but database %s on %s is item %s here: refusing to write its backup under another item",
			in.ItemID, db.Name, srv.ServerName, want)
	}
	return nil
}

// checkVerifyDrop refuses to drop anything but a verify-restore's scratch database.
func checkVerifyDrop(in protocol.VerifyDatabaseInput) error {
	if in.Drop && !protocol.IsVerifyScratchName(in.Database) {
		return protocol.UserError(protocol.ErrInvalidInput,
			"refusing to drop %s: the agent drops only the scratch databases verify-restore creates (named <database>_sqlvault_verify_<12 hex digits>)",
			sqlserver.QuoteName(protocol.SafeForComment(in.Database)))
	}
	return nil
}

// mkdirUnderRoots creates dir (checked against the roots first) and checks where it
// really is.
func (a *Agent) mkdirUnderRoots(kind, dir string) error {
	if err := a.checkRestorePaths(kind, dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return protocol.UserError(protocol.ErrInvalidInput, "cannot create %s on %s: %v", dir, a.VM, err)
	}
	return a.checkResolvedDir(kind, dir)
}
