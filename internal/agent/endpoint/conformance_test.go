package endpoint

import (
	"testing"
	"time"

	"github.com/sqlvault/sqlvault/internal/testworld/blobconformance"
)

// TestBlobConformance runs the raw-request suite that the simulator's fake Azure runs too
// (internal/sqlsim/blobfake), so that the two cannot drift apart on what SQL Server sends.
func TestBlobConformance(t *testing.T) {
	e := newEnv(t, nil)
	blobconformance.Run(t, blobconformance.Target{
		Client: e.raw,
		NewWritable: func(t *testing.T) (string, string) {
			bs := e.openBackup(t, map[string]BackupSink{"db.bak": newSink()})
			return bs.URL("db.bak"), bs.SAS()
		},
		NewReadable: func(t *testing.T, content []byte) (string, string) {
			rs := e.openRestore(t, map[string]RestoreSource{"db.bak": newSource(content)})
			return rs.URL("db.bak"), rs.SAS()
		},
		Advance:              func(d time.Duration) { e.offset.Add(int64(d)) },
		LeaseWithoutDuration: true,
	})
}
