package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// An overwrite restore of a database under active protection needs more than a started
// workflow (issue 16): the request must name the protection tag of the database's item, a
// short digest of the item's state and of when it last changed, as whoever asks read it from
// the vault. The sqlvault CLI reads it itself (restore --overwrite); with the Temporal CLI,
// `sqlvault status --json` shows it ("protectionTag"). An item that is stopped (retain, or
// delete within its soft-delete period) or a database that is no protected item needs no
// tag. The tag changes whenever the item's state does, so a request made on what someone
// saw before protection was resumed or reconfigured is refused.
const (
	ActivityCheckOverwrite = "sqlvault.control.CheckOverwrite"
	// ErrProtectedOverwrite: an overwrite restore of a database under active protection
	// without its current protection tag.
	ErrProtectedOverwrite = "OverwriteOfProtectedDatabase"
)

// CheckOverwriteInput asks whether an overwrite restore of TargetDatabase on
// TargetInstance may go ahead with the tag the request named.
type CheckOverwriteInput struct {
	TargetInstance string `json:"targetInstance"`
	TargetDatabase string `json:"targetDatabase"`
	ProtectionTag  string `json:"protectionTag,omitempty"`
}

// ProtectionTag is an item's protection tag: its state and 12 hex digits of SHA-256 over
// the item id, the state and the time of the item record's last change (UTC, to the
// nanosecond), e.g. "protected-3f2a9c1b7d4e".
func ProtectionTag(itemID, state string, updatedAt time.Time) string {
	sum := sha256.Sum256([]byte(itemID + "\x00" + state + "\x00" + updatedAt.UTC().Format(time.RFC3339Nano)))
	return state + "-" + hex.EncodeToString(sum[:6])
}
