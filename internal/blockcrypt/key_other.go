//go:build !windows

package blockcrypt

import (
	"fmt"
	"io/fs"
)

// checkKeyFilePrivate refuses a key file that group or others may read or write.
func checkKeyFilePrivate(path string, st fs.FileInfo) error {
	if st.Mode().Perm()&keyFileForbidden != 0 {
		return fmt.Errorf("%w: %s has mode %04o, want 0600 (chmod 600 %s)", ErrKeyFileTooOpen, path, st.Mode().Perm(), path)
	}
	return nil
}
