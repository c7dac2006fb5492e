package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Protection states of an item, as item records and histories carry them.
const (
	ItemProtected     = "protected"
	ItemStoppedRetain = "stopped-retain" // schedules removed, recovery points kept forever
	ItemStoppedDelete = "stopped-delete" // schedules removed, recovery points to be deleted by retention
)

// ProtectedItem is one protected database as activities hand it to workflows (the result
// of sqlvault.control.ListItems). Its JSON is the vault's item record less the record's
// schema stamp, so histories recorded when the activity returned the record itself decode.
type ProtectedItem struct {
	ItemID   string `json:"itemId"`
	VM       string `json:"vm"`
	Instance string `json:"instance"`
	Database string `json:"database"`
	Policy   string `json:"policy"`
	State    string `json:"state"`
	// BackupTypes the database allows (read-only: full and copy-only; SIMPLE: no log).
	BackupTypes []string `json:"backupTypes,omitempty"`
	// AutoProtected: protected because its instance is auto-protected.
	AutoProtected bool      `json:"autoProtected,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// ItemID names a protected database: "i" + the first 24 hex digits of
// SHA-256(upper(instance) + "\x00" + database).
//
// Hashing makes the id a safe blob-name segment whatever the names contain (SQL Server
// allows '/', '.', spaces and any Unicode in a database name) and keeps it fixed-length.
// The instance name is upper-cased because SQL Server instance names (MACHINE\INSTANCE) are
// case-insensitive everywhere. The database name is used exactly as SQL Server returns it
// (sys.databases.name): it is case-insensitive only under a case-insensitive server
// collation, and folding it here could merge two distinct databases on a case-sensitive
// server. Callers must therefore pass the catalog's spelling, not what a user typed.
//
// It is a wire rule, not a storage one: workflows name items with it (StopProtection), and
// the vault keys its records by it.
func ItemID(instance, database string) string {
	h := sha256.Sum256([]byte(strings.ToUpper(instance) + "\x00" + database))
	return "i" + hex.EncodeToString(h[:])[:24]
}
