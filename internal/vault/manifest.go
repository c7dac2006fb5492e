package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sqlvault/sqlvault/internal/domain"
)

// ManifestSchema is the manifest format this build writes. v2 adds the recovery forks to
// BackupInfo; this build reads v1 manifests too (their forks are unknown).
const ManifestSchema = "sqlvault.manifest/v2"

// ManifestSchemaV1 is the format written before recovery forks were recorded.
const ManifestSchemaV1 = "sqlvault.manifest/v1"

// AlgorithmAES256GCM is the only encryption algorithm of manifest v1.
const AlgorithmAES256GCM = "AES-256-GCM"

// ErrUnknownSchema: a manifest of a schema this build cannot read (written by a newer one).
var ErrUnknownSchema = errors.New("vault: unknown manifest schema (this build reads " + ManifestSchemaV1 + " and " + ManifestSchema + "; upgrade sqlvault to read newer ones)")

// ErrInvalidManifest: a manifest that breaks the v1 rules.
var ErrInvalidManifest = errors.New("vault: invalid manifest")

// Manifest is one recovery point, as stored at ManifestBlob. Its existence is the point's
// existence (see the commit protocol); with the key, it is all a restore needs.
type Manifest struct {
	Schema     string         `json:"schema"`
	PointID    string         `json:"pointId"`
	ItemID     string         `json:"itemId"`
	CreatedAt  time.Time      `json:"createdAt"`
	Server     ServerInfo     `json:"server"`
	Database   DatabaseInfo   `json:"database"`
	Backup     BackupInfo     `json:"backup"`
	Stripes    []StripeInfo   `json:"stripes"`
	Encryption EncryptionInfo `json:"encryption"`
	Workflow   WorkflowRef    `json:"workflow"`
	// Reason says why this point was taken when it was not simply scheduled, e.g. "log
	// chain broken: automatic full".
	Reason string `json:"reason,omitempty"`
	// RetainUntil is set on an on-demand backup taken with its own retention: retention keeps
	// it until then, whatever the item's policy says.
	RetainUntil *time.Time `json:"retainUntil,omitempty"`
	// DataPath is how SQL Server's backup reached the agent when it was not BACKUP … TO URL:
	// DataPathVDI (issue 14). Absent means URL — every point before the field, and every URL
	// point since. URL is recorded as the absence on purpose: a reader decodes manifests
	// strictly (DisallowUnknownFields), so a manifest with the field set cannot be read by a
	// build older than the field; points taken the only way those builds know stay readable
	// by them (a control upgraded before its agents writes manifests old agents restore).
	DataPath string `json:"dataPath,omitempty"`
}

// DataPathVDI is Manifest.DataPath of a point SQL Server wrote through a virtual device.
const DataPathVDI = "vdi"

// ServerInfo is where the backup was taken.
type ServerInfo struct {
	VM             string `json:"vm"`
	Instance       string `json:"instance"`   // MACHINE\INSTANCE or MACHINE
	ServerName     string `json:"serverName"` // @@SERVERNAME
	ProductVersion string `json:"productVersion"`
	Edition        string `json:"edition"`
}

// DatabaseInfo identifies the database (GUIDs from sys.database_recovery_status).
type DatabaseInfo struct {
	Name          string `json:"name"`
	GUID          string `json:"guid"`
	FamilyGUID    string `json:"familyGuid"`
	RecoveryModel string `json:"recoveryModel"`
}

// LSN is a log sequence number as a decimal string (domain.LSN, which has the rules).
type LSN = domain.LSN

// BackupInfo is what msdb.dbo.backupset says SQL Server produced.
type BackupInfo struct {
	Type                 string    `json:"type"` // BackupFull, BackupDifferential or BackupLog
	CopyOnly             bool      `json:"copyOnly"`
	FirstLSN             LSN       `json:"firstLsn"`
	LastLSN              LSN       `json:"lastLsn"`
	CheckpointLSN        LSN       `json:"checkpointLsn"`
	DatabaseBackupLSN    LSN       `json:"databaseBackupLsn,omitempty"`
	DifferentialBaseLSN  LSN       `json:"differentialBaseLsn,omitempty"`
	DifferentialBaseGUID string    `json:"differentialBaseGuid,omitempty"`
	BackupSetGUID        string    `json:"backupSetGuid"`
	StartTime            time.Time `json:"startTime"`
	FinishTime           time.Time `json:"finishTime"`
	SizeBytes            int64     `json:"sizeBytes"`
	HasChecksums         bool      `json:"hasChecksums"`
	// Recovery forks (v2). FirstForkGUID and ForkGUID are msdb's first_recovery_fork_guid
	// and last_recovery_fork_guid (equal for a data backup); a log backup that spans the
	// point where a restore recovered and began a new fork has them differ, and ForkPointLSN
	// is that point. ForkTime, on such a log only, is the instant from which the new fork
	// held changes (msdb's restore history): the log holds no instant before it, since
	// before it the database lived on the old fork. Empty in v1 manifests (fork unknown).
	FirstForkGUID string     `json:"firstRecoveryForkGuid,omitempty"`
	ForkGUID      string     `json:"recoveryForkGuid,omitempty"`
	ForkPointLSN  LSN        `json:"forkPointLsn,omitempty"`
	ForkTime      *time.Time `json:"forkTime,omitempty"`
	// ServerUTCOffsetMinutes is the SQL Server machine's local time minus UTC when the
	// backup ran (msdb backupset.time_zone). StartTime and FinishTime are UTC; STOPAT is
	// local time, so a point-in-time restore converts with this. nil in manifests written
	// before it was recorded (their times are the server's local time read as UTC).
	ServerUTCOffsetMinutes *int `json:"serverUtcOffsetMinutes,omitempty"`
}

// SpansFork reports whether the backup spans a recovery fork point.
func (b BackupInfo) SpansFork() bool {
	p := domain.Point{FirstFork: b.FirstForkGUID, Fork: b.ForkGUID} // the domain's rule
	return p.SpansFork()
}

// EncryptionInfo says how the stripes were sealed (key by id only, never the key).
type EncryptionInfo struct {
	Algorithm   string `json:"algorithm"`
	KeyID       string `json:"keyId"`
	Compression string `json:"compression"` // CompressionZstd or CompressionNone
}

// WorkflowRef is the Temporal workflow that made the point, for tracing it in the UI.
type WorkflowRef struct {
	ID    string `json:"id"`
	RunID string `json:"runId"`
}

// Validate checks the manifest against the v1 rules: the kinds of mistakes that would make a
// point unrestorable or make Sweep misjudge what it references.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s/%s: %s", ErrInvalidManifest, m.ItemID, m.PointID, fmt.Sprintf(format, args...))
	}
	if m.Schema != ManifestSchema && m.Schema != ManifestSchemaV1 {
		return fmt.Errorf("%w: got %q", ErrUnknownSchema, m.Schema)
	}
	if err := m.validateForks(); err != nil {
		return bad("%v", err)
	}
	if !ValidItemID(m.ItemID) {
		return bad("itemId is not an item id")
	}
	_, typ, err := ParsePointID(m.PointID)
	if err != nil {
		return bad("pointId is not a point id")
	}
	if typ != m.Backup.Type {
		return bad("pointId says %q, backup.type says %q", typ, m.Backup.Type)
	}
	if m.CreatedAt.IsZero() {
		return bad("createdAt missing")
	}
	if m.Database.Name == "" || m.Server.Instance == "" {
		return bad("database.name and server.instance are required")
	}
	for _, f := range []struct {
		name string
		lsn  LSN
	}{{"firstLsn", m.Backup.FirstLSN}, {"lastLsn", m.Backup.LastLSN},
		{"checkpointLsn", m.Backup.CheckpointLSN}} {
		if !f.lsn.Valid() {
			return bad("backup.%s %q is not a decimal LSN", f.name, f.lsn)
		}
	}
	// databaseBackupLsn is NULL in msdb for the first full of a database (no earlier base).
	if l := m.Backup.DatabaseBackupLSN; l != "" && !l.Valid() {
		return bad("backup.databaseBackupLsn %q is not a decimal LSN", l)
	}
	if l := m.Backup.DifferentialBaseLSN; l != "" && !l.Valid() {
		return bad("backup.differentialBaseLsn %q is not a decimal LSN", l)
	}
	if m.Backup.FirstLSN.Compare(m.Backup.LastLSN) > 0 {
		return bad("backup.firstLsn is after backup.lastLsn")
	}
	if m.Backup.Type == BackupDifferential && m.Backup.DifferentialBaseLSN == "" {
		return bad("a differential needs backup.differentialBaseLsn")
	}
	if m.Encryption.Algorithm != AlgorithmAES256GCM {
		return bad("encryption.algorithm %q, v1 knows %q", m.Encryption.Algorithm, AlgorithmAES256GCM)
	}
	if m.Encryption.KeyID == "" {
		return bad("encryption.keyId missing")
	}
	if c := m.Encryption.Compression; c != CompressionZstd && c != CompressionNone {
		return bad("encryption.compression %q", c)
	}
	if len(m.Stripes) == 0 {
		return bad("no stripes")
	}
	if m.DataPath != "" && m.DataPath != DataPathVDI {
		return bad("dataPath %q: only %q is recorded (a URL point has no dataPath)", m.DataPath, DataPathVDI)
	}
	seen := map[string]bool{}
	for i, s := range m.Stripes {
		// Stripes must live in this point's data folder: that is what lets Sweep reason
		// per point, and it stops a manifest from claiming another point's blobs.
		bn := parseBlobName(s.Blob)
		if bn.kind != "data" || bn.itemID != m.ItemID || bn.pointID != m.PointID {
			return bad("stripe %d blob %q is not a data blob of this point", i, s.Blob)
		}
		if s.Index != IndexBlob(s.Blob) {
			return bad("stripe %d index %q is not %q", i, s.Index, IndexBlob(s.Blob))
		}
		if seen[s.Blob] {
			return bad("stripe %d repeats %q", i, s.Blob)
		}
		seen[s.Blob] = true
		if len(s.IndexSHA256) != 64 || len(s.Digest) != 64 || s.Blocks < 0 || s.PlainBytes < 0 || s.StoredBytes < 0 {
			return bad("stripe %d has malformed hashes or sizes", i)
		}
	}
	return nil
}

// validateForks checks the v2 recovery-fork fields: a planner that trusted a malformed fork
// could join two timelines.
func (m *Manifest) validateForks() error {
	b := m.Backup
	if m.Schema == ManifestSchemaV1 {
		if b.FirstForkGUID != "" || b.ForkGUID != "" || b.ForkPointLSN != "" || b.ForkTime != nil {
			return errors.New("a v1 manifest has no recovery-fork fields")
		}
		return nil
	}
	if !b.SpansFork() {
		if b.ForkPointLSN != "" || b.ForkTime != nil {
			return errors.New("backup.forkPointLsn and backup.forkTime belong to a backup that spans a fork point (firstRecoveryForkGuid differs from recoveryForkGuid)")
		}
		return nil
	}
	if b.Type != BackupLog {
		return fmt.Errorf("a %s backup cannot span a recovery fork point (only a log backup can)", b.Type)
	}
	if !b.ForkPointLSN.Valid() || b.ForkPointLSN.Compare(b.FirstLSN) < 0 || b.ForkPointLSN.Compare(b.LastLSN) > 0 {
		return fmt.Errorf("backup.forkPointLsn %q is not a decimal LSN between firstLsn and lastLsn", b.ForkPointLSN)
	}
	return nil
}

// encodeManifest is the one canonical encoding: fixed field order (struct order) and every
// time in UTC, so the same manifest always encodes to the same bytes. CommitManifest relies
// on that to recognise an idempotent retry.
func encodeManifest(m *Manifest) ([]byte, error) {
	c := *m
	c.CreatedAt = c.CreatedAt.UTC()
	c.Backup.StartTime = c.Backup.StartTime.UTC()
	c.Backup.FinishTime = c.Backup.FinishTime.UTC()
	if c.Backup.ForkTime != nil {
		t := c.Backup.ForkTime.UTC()
		c.Backup.ForkTime = &t
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ") // manifests are small and read by people during incidents
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("vault: encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeManifest parses and validates a stored manifest. An unknown schema is reported
// before anything else, so a newer vault says so instead of failing on some field.
func DecodeManifest(data []byte) (*Manifest, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrInvalidManifest, err)
	}
	if head.Schema != ManifestSchema && head.Schema != ManifestSchemaV1 {
		return nil, fmt.Errorf("%w: got %q", ErrUnknownSchema, head.Schema)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a v1 manifest with fields we do not know is not v1
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}
