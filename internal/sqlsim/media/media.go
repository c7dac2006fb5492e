// Package media is the simulator's backup media format: what BACKUP writes to its devices
// and RESTORE reads back, standing in for SQL Server's MTF format.
//
// A backup set is written to 1–64 stripes (media families). Every stripe is:
//
//	head     magic "SQLVBAK\x00", format version, family number, family count, header
//	         length, CRC32C; then the Header as JSON (identical bytes in every stripe)
//	chunks   32-byte chunk header (marker, flags, global sequence number, raw and stored
//	         lengths, payload CRC32C, header CRC32C), then the payload: whole items,
//	         optionally zstd-compressed. Chunk n goes to stripe n mod N.
//	trailer  JSON: the Trailer, family, chunk counts, where the chunks end, media set and
//	         the stream digest (SHA-256 over the SHA-256 of every raw chunk payload, in
//	         sequence order)
//	footer   trailer length, CRC32C of the trailer, magic "SQLVEND\x00"
//
// Items are pages ('P': id, version, optional CRC32C, the 8 KiB page) and log records ('L':
// LSN, time, kind, page id, the payload). Page and payload bytes are generated from the
// content package's deterministic functions, so a reader verifies every byte it reads.
// A stripe without its footer was not finished (or was cut): ErrTruncated. Any other damage
// fails a CRC or the stream digest: ErrCorrupt.
package media

import (
	"fmt"
	"time"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// Backup types, as RESTORE HEADERONLY reports them.
const (
	TypeFull         = 1
	TypeLog          = 2
	TypeDifferential = 5
)

// Device types, as RESTORE HEADERONLY's DeviceType and msdb backupmediafamily.device_type
// report them (Microsoft's RESTORE HEADERONLY and backupmediafamily pages: 2 disk, 5 tape,
// 7 virtual device, 9 URL; the HEADERONLY page adds 102/105/107/109 for "physical" devices).
const (
	DeviceDisk    = 2
	DeviceTape    = 5
	DeviceVirtual = 7
	DeviceURL     = 9
)

// MaxStripes is SQL Server's limit of devices (URLs) per backup.
const MaxStripes = 64

// FileInfo is a database file as RESTORE FILELISTONLY reports it.
type FileInfo struct {
	LogicalName, PhysicalName string
	Type                      byte // 'D' data or 'L' log
	FileGroupName             string
	SizeBytes                 int64
	FileID                    int32
	BackupSizeBytes           int64
}

// Header describes a backup set: everything RESTORE HEADERONLY and FILELISTONLY report,
// plus what RESTORE needs (Seed and DataPages identify the content).
// It is stored as JSON: times come back as the same instants with the same UTC offset
// (compare them with Equal), and log records read back are in BackupStartDate's location.
type Header struct {
	BackupType                                                                int // TypeFull, TypeLog, TypeDifferential
	BackupName, BackupDescription                                             string
	DatabaseName, ServerName, MachineName, UserName, Collation, RecoveryModel string
	DatabaseGUID, FamilyGUID, BackupSetGUID, MediaSetGUID                     sqltypes.UUID
	LSNOffset                                                                 string // decimal; external LSN = offset + internal
	FirstLSN, LastLSN, CheckpointLSN, DatabaseBackupLSN, DifferentialBaseLSN  content.LSN
	DifferentialBaseGUID                                                      sqltypes.UUID
	BackupStartDate                                                           time.Time
	// TimeZone is the IANA zone of the server that wrote the backup ("" for UTC): its
	// dates and its log records' times are that server's local time.
	TimeZone                                                         string `json:",omitempty"`
	IsCopyOnly, HasBackupChecksums, Compressed, IsDamaged            bool
	SoftwareVersionMajor, SoftwareVersionMinor, SoftwareVersionBuild int
	CompatibilityLevel                                               int
	Seed                                                             uint64
	DataPages                                                        int64
	Files                                                            []FileInfo
	StripeCount                                                      int // families in the media set
	// DeviceType is the device the backup was written to, as RESTORE HEADERONLY reports it
	// (DeviceDisk, DeviceURL); 0 in media written before it was recorded (read as URL).
	DeviceType int
	// Identity details RESTORE HEADERONLY reports and a restore carries over.
	DatabaseCreationDate                    time.Time
	RecoveryForkGUID, FirstRecoveryForkGUID sqltypes.UUID
	// ForkPointLSN is set (non-zero) when FirstRecoveryForkGUID differs from RecoveryForkGUID:
	// a log backup that spans the point where a restore recovered and started a new fork.
	ForkPointLSN content.LSN
	IsReadOnly   bool
	// TableOps are the changes to the database's user tables the backup carries: a full or
	// differential carries every change before LastLSN, a log backup those in
	// [FirstLSN, LastLSN). The simulator's tables hold small test workloads, so their rows
	// travel in the header rather than in pages.
	TableOps []TableOp `json:",omitempty"`
	// CorruptPage is a damaged data page a full or differential carries (Database.Corrupt):
	// its checksum is valid, so BACKUP WITH CHECKSUM copies it, and only DBCC CHECKDB on a
	// restored copy finds it.
	CorruptPage *int64 `json:",omitempty"`
}

// TableOp is one change to a user table, made by the log record LSN: a CREATE TABLE
// (Create set) or an INSERT (Rows, each value encoded as text, nil for NULL).
type TableOp struct {
	LSN    content.LSN
	Schema string
	Table  string
	Create []TableColumn `json:",omitempty"`
	Rows   [][]*string   `json:",omitempty"`
}

// TableColumn is a column of CREATE TABLE.
type TableColumn struct {
	Name       string
	Type       string // lower-case type name as written: int, nvarchar, datetime2, …
	Args       []int  `json:",omitempty"`
	Max        bool   `json:",omitempty"`
	NotNull    bool   `json:",omitempty"`
	PrimaryKey bool   `json:",omitempty"`
}

// Trailer is what is known only when the backup ends.
type Trailer struct {
	BackupFinishDate                 time.Time
	BackupSize, CompressedBackupSize int64 // logical item bytes; stored (compressed) item bytes
	PageCount, LogRecordCount        int64
}

// Kind classifies media errors; the engine maps each to a SQL Server message. A Kind is
// itself an error, so errors.Is(err, media.ErrCorrupt) works on any *MediaError.
type Kind int

const (
	// ErrCorrupt: a CRC, checksum, page content or stream digest mismatch
	// (Msg 3183 for a page, 3189 otherwise).
	ErrCorrupt Kind = iota + 1
	// ErrTruncated: the stripe ends early or has no trailer (Msg 3203, "38(Reached the end
	// of the file.)").
	ErrTruncated
	// ErrNotABackup: not this format at all (Msg 3241).
	ErrNotABackup
	// ErrMissingFamily: fewer families than the media set has (Msg 3132).
	ErrMissingFamily
	// ErrDuplicateFamily: the same family provided twice.
	ErrDuplicateFamily
	// ErrMixedMediaSets: stripes of different media sets.
	ErrMixedMediaSets
	// ErrRead: the device failed to read (the cause is wrapped).
	ErrRead
)

func (k Kind) Error() string {
	switch k {
	case ErrCorrupt:
		return "media: backup set is damaged"
	case ErrTruncated:
		return "media: unexpected end of the media family"
	case ErrNotABackup:
		return "media: not a backup media family"
	case ErrMissingFamily:
		return "media: media family missing"
	case ErrDuplicateFamily:
		return "media: media family provided twice"
	case ErrMixedMediaSets:
		return "media: families of different media sets"
	case ErrRead:
		return "media: read failed"
	}
	return fmt.Sprintf("media: error kind %d", int(k))
}

// MediaError is every error the reader reports about the media.
type MediaError struct {
	Kind   Kind
	Device string // the stripe's Name
	Family int    // 1-based family number, 0 when unknown
	Page   int64  // the damaged page for a page error (Msg 3183), else -1
	Msg    string // SQL Server style text
	Err    error  // cause (ErrRead), may be nil
}

func (e *MediaError) Error() string { return e.Msg }

// Unwrap exposes the Kind (for errors.Is) and the cause.
func (e *MediaError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func mediaErr(k Kind, device string, family int, format string, args ...any) *MediaError {
	return &MediaError{Kind: k, Device: device, Family: family, Page: -1, Msg: fmt.Sprintf(format, args...)}
}

func errNotABackup(device, why string) error {
	return mediaErr(ErrNotABackup, device, 0,
		"The media family on device '%s' is incorrectly formed. SQL Server cannot process this media family. (%s)", device, why)
}

func errTruncated(device string, family int, why string) error {
	return mediaErr(ErrTruncated, device, family,
		"Read on \"%s\" failed: 38(Reached the end of the file.) (%s)", device, why)
}

func errCorrupt(device string, family int, format string, args ...any) error {
	return mediaErr(ErrCorrupt, device, family,
		"Damage to the backup set on device '%s' was detected: %s.", device, fmt.Sprintf(format, args...))
}

func errPage(device string, family int, db string, id int64, why string) error {
	e := mediaErr(ErrCorrupt, device, family,
		"RESTORE detected an error on page (1:%d) in database \"%s\" as read from the backup set. (%s)", id, db, why)
	e.Page = id
	return e
}

// LogItemBytes is what one log record takes in a backup set: a log backup's BackupSize is
// its record count times this.
const LogItemBytes = 1 + 8 + 8 + 1 + 8 + content.LogPayloadSize
