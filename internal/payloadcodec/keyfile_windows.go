package payloadcodec

import (
	"fmt"
	"io/fs"

	"github.com/sqlvault/sqlvault/internal/fileacl"
)

// checkPrivate refuses a codec key file whose ACL lets others read or change it (Windows
// has no mode bits), as blockcrypt does with the vault key file.
func checkPrivate(path string, _ fs.FileInfo) error {
	if err := fileacl.Check(path); err != nil {
		return fmt.Errorf("%w: %w (icacls \"%s\" /inheritance:r /grant:r *S-1-5-32-544:F *S-1-5-18:F \"NT SERVICE\\sqlvault-agent:R\")", ErrKeyFileTooOpen, err, path)
	}
	return nil
}
