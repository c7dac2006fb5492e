package blockcrypt

import (
	"fmt"
	"io/fs"

	"github.com/sqlvault/sqlvault/internal/fileacl"
)

// checkKeyFilePrivate refuses a key file whose ACL lets anyone but its owner, SYSTEM,
// Administrators and service accounts read or change it (Windows has no mode bits).
func checkKeyFilePrivate(path string, _ fs.FileInfo) error {
	if err := fileacl.Check(path); err != nil {
		return fmt.Errorf("%w: %w (icacls \"%s\" /inheritance:r /grant:r *S-1-5-32-544:F *S-1-5-18:F \"NT SERVICE\\sqlvault-agent:R\")", ErrKeyFileTooOpen, err, path)
	}
	return nil
}
