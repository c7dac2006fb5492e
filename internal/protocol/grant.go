package protocol

import (
	"encoding/json"
	"time"
)

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
	// VM is the VM whose agent runs the step (runs from before per-VM keys: ""). When it has
	// data keys of its own (its agent opens no other: key.scope vm), the grant carries the
	// data keys the step needs, for that VM alone (VaultGrant.Keys).
	VM string `json:"vm,omitempty"`
}

// VaultGrant is a set of blob-scoped SAS tokens sealed with the vault key, bound (as
// associated data) to the operation, item and points it was minted for: workflow history
// holds only ciphertext, and a grant opened for another point fails.
type VaultGrant struct {
	Sealed []byte `json:"sealed"`
	// KeyID names the vault key that sealed it (not secret).
	KeyID string `json:"keyId"`
	// Keys are the data keys the step needs, delivered to a VM with keys of its own; nil for
	// any other. A grant may carry keys and no storage access (Sealed empty): the control
	// side could not mint, and the agent uses its own credential.
	Keys *DataKeyDelivery `json:"keys,omitempty"`
	// FleetKeys are the keyring records a step on a VM without keys of its own needs (the
	// fleet's active key, the points' keys), as stored: wrapped under the fleet KEK. An agent
	// without a vault credential, which cannot read the keyring, opens them with its KEK.
	FleetKeys *FleetKeyRecords `json:"fleetKeys,omitempty"`
}

// FleetKeyRecords are fleet data key records as the keyring stores them (JSON of
// vault.KeyRecord): nothing an agent holding the fleet KEK could not read from the keyring.
type FleetKeyRecords struct {
	// Active is the fleet's active data key's id ("" when the keyring has none: the key
	// file is the active key).
	Active  string            `json:"active,omitempty"`
	Records []json.RawMessage `json:"records,omitempty"`
}

// DataKeyDelivery is data keys for one VM's agent, ciphertext only: the VM's active data
// key as the keyring wraps it under that VM's own KEK (the carrier), and each other key the
// step needs sealed with the carrier key and bound to the VM and the key's id. Only that
// VM's KEK opens the carrier, so only that VM's agent opens the rest; the agent checks each
// key's id, as it does for the keyring's records.
type DataKeyDelivery struct {
	VM string `json:"vm"`
	// Carrier is the VM's data key the others are sealed with, as wrapped under its KEK.
	CarrierID string `json:"carrierId"`
	Provider  string `json:"provider"`
	KEK       string `json:"kek"`
	Algorithm string `json:"algorithm"`
	Wrapped   []byte `json:"wrapped"`
	// Keys are the others, by id.
	Keys []DeliveredKey `json:"keys,omitempty"`
}

// DeliveredKey is one data key sealed with a delivery's carrier key.
type DeliveredKey struct {
	ID     string `json:"id"`
	Sealed []byte `json:"sealed"`
}
