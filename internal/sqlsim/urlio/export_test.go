package urlio

import "time"

// SetRestoreLeaseRenewEvery shortens the restore lease renewal period for a test and
// returns the function that restores it.
func SetRestoreLeaseRenewEvery(d time.Duration) (restore func()) {
	old := restoreLeaseRenewEvery
	restoreLeaseRenewEvery = d
	return func() { restoreLeaseRenewEvery = old }
}
