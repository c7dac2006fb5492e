package protocol

import (
	"time"

	"github.com/sqlvault/sqlvault/internal/domain"
)

// ActivityBackupChainState computes, on the control side, the chain state a scheduled log
// or differential backup must continue (ChainStateInput → *ChainState, nil when the vault
// has no item under the instance and database given).
const ActivityBackupChainState = "sqlvault.control.BackupChainState"

// PrepareBackupInput asks the agent whether a backup can run and how.
type PrepareBackupInput struct {
	Instance string     `json:"instance"`
	Database string     `json:"database"`
	Type     BackupType `json:"type"`
	Stripes  int        `json:"stripes,omitempty"`
	AutoFull bool       `json:"autoFull,omitempty"`
	// Chain is what the vault holds of the item's chain, computed by the control side
	// (ActivityBackupChainState), for AutoFull's check and a differential's base check:
	// the agent compares it with SQL Server and reads nothing from the vault. nil (a workflow started before it existed,
	// or an item the control side could not name): the agent reads the vault itself.
	Chain *ChainState `json:"chain,omitempty"`
}

// ChainStateInput names the database whose chain state is wanted, as the Backup workflow
// was given it.
type ChainStateInput struct {
	Instance string `json:"instance"`
	Database string `json:"database"`
	// ItemID names the item when the schedule gave it (BackupInput.ItemID); else the item
	// is ItemID(Instance, Database).
	ItemID string `json:"itemId,omitempty"`
}

// ChainState is domain.ChainState on the wire, for one item, with the item's policy's bound
// on the newest full's age.
type ChainState struct {
	// ItemID is the item the state is of: the agent uses the state only if it names the
	// item the agent computes from SQL Server's own view (server name, availability group,
	// the database's spelling), and reads the vault itself otherwise.
	ItemID           string    `json:"itemId"`
	DatabaseGUID     string    `json:"databaseGuid,omitempty"`
	NewestFullID     string    `json:"newestFullId,omitempty"`
	NewestFullStart  time.Time `json:"newestFullStart,omitzero"`
	NewestLogLastLSN string    `json:"newestLogLastLsn,omitempty"`
	BaseEndLSN       string    `json:"baseEndLsn,omitempty"`
	BackupSetGUIDs   []string  `json:"backupSetGuids,omitempty"`
	// BaseCheckpointLSNs are the checkpoint LSNs of the scheduled fulls a differential can
	// be restored onto (domain.ChainState.BaseCheckpoints; absent from older control sides).
	BaseCheckpointLSNs []string `json:"baseCheckpointLsns,omitempty"`
	// FullMaxAgeMinutes is how old the newest full may be under the item's policy (0: no
	// bound).
	FullMaxAgeMinutes int `json:"fullMaxAgeMinutes,omitempty"`
}

// NewChainState puts s, the state of item, on the wire.
func NewChainState(item string, s domain.ChainState, fullMaxAge time.Duration) *ChainState {
	return &ChainState{ItemID: item, DatabaseGUID: s.DatabaseGUID, NewestFullID: s.NewestFullID,
		NewestFullStart: s.NewestFullStart.UTC(), NewestLogLastLSN: string(s.NewestLogLastLSN), BaseEndLSN: string(s.BaseEndLSN),
		BackupSetGUIDs: s.BackupSetGUIDs, BaseCheckpointLSNs: lsnStrings(s.BaseCheckpoints), FullMaxAgeMinutes: int(fullMaxAge / time.Minute)}
}

func lsnStrings(ls []domain.LSN) []string {
	var out []string
	for _, l := range ls {
		out = append(out, string(l))
	}
	return out
}

// Domain is the state as the chain rules take it, and the full's maximum age.
func (c *ChainState) Domain() (domain.ChainState, time.Duration) {
	return domain.ChainState{DatabaseGUID: c.DatabaseGUID, NewestFullID: c.NewestFullID, NewestFullStart: c.NewestFullStart,
		NewestLogLastLSN: domain.LSN(c.NewestLogLastLSN), BaseEndLSN: domain.LSN(c.BaseEndLSN),
		BackupSetGUIDs: c.BackupSetGUIDs, BaseCheckpoints: lsns(c.BaseCheckpointLSNs)}, time.Duration(c.FullMaxAgeMinutes) * time.Minute
}

func lsns(ss []string) []domain.LSN {
	var out []domain.LSN
	for _, s := range ss {
		out = append(out, domain.LSN(s))
	}
	return out
}

// PrepareBackupResult is what the agent learned from SQL Server.
type PrepareBackupResult struct {
	ServerName     string `json:"serverName"`
	ProductVersion string `json:"productVersion"`
	Edition        string `json:"edition"`
	Database       string `json:"database"` // as sys.databases spells it
	RecoveryModel  string `json:"recoveryModel"`
	DataBytes      int64  `json:"dataBytes"`
	Stripes        int    `json:"stripes"`
	ItemID         string `json:"itemId"`
	// Type is the backup to take: the requested one, or full when AutoFull found the chain
	// broken; Reason then says why.
	Type   BackupType `json:"type,omitempty"`
	Reason string     `json:"reason,omitempty"`
	// AG is the database's availability group, when it is in one: the workflow then sends
	// the backup to the replica the group's backup preference names.
	AG *AGInfo `json:"availabilityGroup,omitempty"`
}

// StreamBackupInput runs BACKUP … TO URL through the agent's endpoint into the vault.
type StreamBackupInput struct {
	Instance    string     `json:"instance"`
	Database    string     `json:"database"`
	Type        BackupType `json:"type"`
	ItemID      string     `json:"itemId"`
	PointID     string     `json:"pointId"`
	Stripes     int        `json:"stripes"`
	Compression bool       `json:"compression"`
	TailLog     bool       `json:"tailLog,omitempty"`
	// Grant is the agent's storage access for this stream (GrantBackup); nil (a workflow
	// started before grants, or a control side that cannot mint): the agent's own credential.
	Grant *VaultGrant `json:"grant,omitempty"`
}

// BackupSet is SQL Server's own record of a backup (msdb.dbo.backupset). LSNs are decimal
// strings: numeric(25,0) does not fit in 64 bits.
type BackupSet struct {
	Type                 string    `json:"type"` // D, I, L
	CopyOnly             bool      `json:"copyOnly"`
	FirstLSN             string    `json:"firstLsn"`
	LastLSN              string    `json:"lastLsn"`
	CheckpointLSN        string    `json:"checkpointLsn"`
	DatabaseBackupLSN    string    `json:"databaseBackupLsn,omitempty"`
	DifferentialBaseLSN  string    `json:"differentialBaseLsn,omitempty"`
	DifferentialBaseGUID string    `json:"differentialBaseGuid,omitempty"`
	BackupSetGUID        string    `json:"backupSetGuid"`
	DatabaseGUID         string    `json:"databaseGuid"`
	FamilyGUID           string    `json:"familyGuid"`
	Start                time.Time `json:"start"`
	Finish               time.Time `json:"finish"`
	SizeBytes            int64     `json:"sizeBytes"`
	HasChecksums         bool      `json:"hasChecksums"`
	RecoveryModel        string    `json:"recoveryModel"`
	// Recovery forks (msdb first_recovery_fork_guid, last_recovery_fork_guid, fork_point_lsn)
	// and, for a backup that spans a fork point, when that fork began (see
	// vault.BackupInfo).
	FirstForkGUID string     `json:"firstRecoveryForkGuid,omitempty"`
	ForkGUID      string     `json:"recoveryForkGuid,omitempty"`
	ForkPointLSN  string     `json:"forkPointLsn,omitempty"`
	ForkTime      *time.Time `json:"forkTime,omitempty"`
	// UTCOffsetMinutes is the server's local time minus UTC when the backup ran; Start and
	// Finish are UTC already (the agent converts msdb's local times).
	UTCOffsetMinutes *int `json:"utcOffsetMinutes,omitempty"`
}

// Stripe is one committed stripe in the vault (its block map lives in the index blob).
type Stripe struct {
	Blob        string `json:"blob"`
	Index       string `json:"index"`
	IndexSHA256 string `json:"indexSha256"`
	PlainBytes  int64  `json:"plainBytes"`
	StoredBytes int64  `json:"storedBytes"`
	Blocks      int    `json:"blocks"`
	Digest      string `json:"digest"`
}

// StreamBackupResult is what the agent reports once SQL Server finished the backup: SQL
// Server's record plus the stripes it wrote.
type StreamBackupResult struct {
	BackupSet   BackupSet `json:"backupSet"`
	Stripes     []Stripe  `json:"stripes"`
	KeyID       string    `json:"keyId"`
	Compression string    `json:"compression"` // zstd | none
	Attempt     int32     `json:"attempt"`
	// Adopted is true when a retry found that an earlier attempt had completed in SQL
	// Server and its stripes were whole in the vault, and reported that backup instead of
	// taking another (a second log backup would otherwise leave a hole in the chain).
	Adopted bool `json:"adopted,omitempty"`
	// DataPath is how the bytes went from SQL Server to the agent: "url" (BACKUP … TO URL)
	// or, with issue 14, "vdi". Empty from agents older than the field: those only had URL.
	DataPath string `json:"dataPath,omitempty"`
}

// CommitInput asks the control side to verify the stripes and write the manifest.
type CommitInput struct {
	ItemID         string             `json:"itemId"`
	PointID        string             `json:"pointId"`
	VM             string             `json:"vm"`
	Instance       string             `json:"instance"`
	ServerName     string             `json:"serverName"`
	ProductVersion string             `json:"productVersion"`
	Edition        string             `json:"edition"`
	Database       string             `json:"database"`
	Type           BackupType         `json:"type"`
	Stream         StreamBackupResult `json:"stream"`
	WorkflowID     string             `json:"workflowId"`
	RunID          string             `json:"runId"`
	Reason         string             `json:"reason,omitempty"`
	// RetainUntil: an on-demand backup's own retention.
	RetainUntil *time.Time `json:"retainUntil,omitempty"`
	// CreatedAt is the manifest's createdAt: workflow time, fixed in history, so every
	// attempt of the commit writes the same manifest. Zero in inputs from workflows started
	// before it existed (the activity then uses its own clock).
	CreatedAt time.Time `json:"createdAt,omitzero"`
}
