package protocol

import "time"

// ActivityMintVaultGrant mints, on the control side, the storage grant one agent step needs
// (MintGrantInput → *VaultGrant, nil when the control side cannot mint: the agent then uses
// its own vault credential, as before grants existed).
const ActivityMintVaultGrant = "sqlvault.control.MintVaultGrant"

// Grant operations: what the agent step does with the vault, which decides the blobs and
// permissions granted.
const (
	// GrantBackup: write the point's stripes (data and index blobs) of every attempt the
	// stream may make, and read them back (a retry adopts an earlier attempt's stripes).
	GrantBackup = "backup"
	// GrantRestore: read the points' manifests and stripes, nothing else.
	GrantRestore = "restore"
)

// GrantMargin is added to a step's bound to make its grant's lifetime: time for the step's
// last requests and for clocks that disagree a little.
const GrantMargin = 15 * time.Minute

// MintGrantInput says which step the grant is for.
type MintGrantInput struct {
	Op     string `json:"op"`
	ItemID string `json:"itemId"`
	// PointIDs: the one point a backup writes, or the points a restore step reads.
	PointIDs []string `json:"pointIds"`
	// Stripes and Attempts (GrantBackup): the stream's stripe count and its activity's
	// maximum attempts (each attempt writes blobs of its own).
	Stripes  int `json:"stripes,omitempty"`
	Attempts int `json:"attempts,omitempty"`
	// Valid is how long the grant lasts: the step's own bound plus a margin.
	Valid time.Duration `json:"valid"`
}

// VaultGrant is a set of blob-scoped SAS tokens sealed with the vault key, bound (as
// associated data) to the operation, item and points it was minted for: workflow history
// holds only ciphertext, and a grant opened for another point fails.
type VaultGrant struct {
	Sealed []byte `json:"sealed"`
	// KeyID names the vault key that sealed it (not secret).
	KeyID string `json:"keyId"`
}
