// Package datapath is the seam between the agent's activities and the way backup bytes move
// between SQL Server and the vault. A data path opens a session for the stripes of one
// BACKUP or RESTORE statement, names the devices the statement uses (URL today, virtual
// devices with VDI, issue 14), and sets up and tears down what SQL Server needs for them
// (for URL, a SAS credential). Everything else — sealing, stripes, blocks in flight,
// commit, restore steps, resume after a crash — is the activities' and is shared by every
// path: a stripe is a device, whichever kind.
//
// Implementations: urlpath (BACKUP … TO URL into the agent's HTTPS endpoint) and vdipath
// (BACKUP … TO VIRTUAL_DEVICE through SQL Server's Virtual Device Interface, over a transport
// of package vdi).
package datapath

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
)

// Kind names a data path, as configured per instance (agent.instances[].dataPath) and
// recorded on each recovery point.
type Kind string

// The data paths.
const (
	URL Kind = "url" // BACKUP … TO URL into the agent's HTTPS endpoint
	VDI Kind = "vdi" // BACKUP … TO VIRTUAL_DEVICE through SQL Server's VDI (package vdipath)
)

// ErrNoVDI is returned for an instance configured with the VDI data path on an agent that
// has no VDI client library (package vdi's ErrNoPlatform says which).
var ErrNoVDI = errors.New("dataPath is vdi but this agent has no VDI client library: install SQL Server's VDI client (sqlvdi.dll on Windows; on Linux /opt/mssql/lib/libsqlvdi.so, or set agent.vdiLibrary to where it is), or set dataPath: url")

// ParseKind reads a configured data path that names one; empty reads as URL, the path that
// needs nothing of the machine. An instance without a dataPath gets the default rule of
// Library.Choose instead (VDI where the machine has the VDI client library).
func ParseKind(s string) (Kind, error) {
	switch Kind(strings.ToLower(strings.TrimSpace(s))) {
	case "", URL:
		return URL, nil
	case VDI:
		return VDI, nil
	}
	return "", fmt.Errorf("unknown data path %q: use url or vdi", s)
}

// StripeSink receives one backup stripe's bytes as blocks (the vault's stripe writer, through
// the activities' adapter). PutBlock may be called concurrently and again with an id it has
// seen (a retried transfer replaces the data); data is only valid during the call. Commit
// gets the ids in stripe order; each had a successful PutBlock. Its method set is
// endpoint.BackupSink's, so the URL path hands it to the endpoint as it is.
type StripeSink interface {
	PutBlock(ctx context.Context, blockID string, data []byte) error
	Commit(ctx context.Context, blockIDs []string) error
}

// StripeSource serves one restore stripe's plaintext for reads at any offset, possibly
// concurrent (the vault's stripe reader). Size does not change during the session.
type StripeSource interface {
	Size() int64
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
}

// BackupStripe is one stripe of a BACKUP: the device name the activities chose (unique per
// point, attempt and stripe) and where its bytes go.
type BackupStripe struct {
	Name string
	Sink StripeSink
}

// RestoreStripe is one stripe of a RESTORE: its device name and where its bytes come from.
type RestoreStripe struct {
	Name   string
	Source StripeSource
}

// Progress is what a session has moved so far, for heartbeats and the stall watch.
type Progress struct {
	Bytes  int64 // backup: bytes the sinks accepted; restore: bytes served
	Blocks int64 // backup: blocks the sinks accepted
}

// Session is one statement's devices. Close tears down what the path set up for SQL Server
// (it runs after the statement has ended, also when the activity was cancelled); after it,
// no sink or source call is in flight.
type Session interface {
	// DeviceType is the kind of device the statement names.
	DeviceType() sqlserver.DeviceType
	// Devices are what the statement names, one per stripe in stripe order (URLs for URL,
	// virtual device names for VDI). The first identifies the backup in msdb
	// (backupmediafamily.physical_device_name).
	Devices() []string
	Progress() Progress
	// Err is the first failure on the path's side (a sink or source: the vault), which SQL
	// Server only sees as a failed write or read; nil if none.
	Err() error
	Close()
}

// BackupSession is the session of one BACKUP.
type BackupSession interface {
	Session
	// Finish is called once the BACKUP statement succeeded, before the activity reads what
	// the stripes committed. It returns once the path has done all it does after SQL Server
	// stopped writing — URL: nothing (SQL Server's Put Block List committed each stripe
	// before the statement ended); VDI: every virtual device closed and its stripe committed
	// — or when ctx ends, and reports Err.
	Finish(ctx context.Context) error
}

// RestoreSession is the session of one RESTORE step.
type RestoreSession interface {
	Session
	// FileList reads the backup's files (RESTORE FILELISTONLY) from the session's devices.
	FileList(ctx context.Context) ([]sqlserver.BackupFile, error)
}

// Path is a data path. Open errors are protocol errors when the path itself failed (e.g.
// its endpoint), and SQL Server's errors (*sqlserver.Error) as they are when SQL Server
// refused a setup statement, for the activity to name them for the database.
type Path interface {
	Kind() Kind
	OpenBackup(ctx context.Context, conn *sqlserver.Conn, stripes []BackupStripe) (BackupSession, error)
	OpenRestore(ctx context.Context, conn *sqlserver.Conn, stripes []RestoreStripe) (RestoreSession, error)
}
