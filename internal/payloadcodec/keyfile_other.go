//go:build !windows

package payloadcodec

import (
	"fmt"
	"io/fs"
)

// checkPrivate refuses a codec key file that group or others may read or write, as
// blockcrypt does with the vault key file.
func checkPrivate(path string, st fs.FileInfo) error {
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrKeyFileTooOpen, path, st.Mode().Perm(), path)
	}
	return nil
}
