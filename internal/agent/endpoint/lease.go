package endpoint

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Lease states as Azure reports them in x-ms-lease-state.
const (
	leaseAvailable = "available"
	leaseLeased    = "leased"
	leaseExpired   = "expired"
	leaseBreaking  = "breaking"
	leaseBroken    = "broken"
)

// lease is one blob's lease, with Azure's rules. SQL Server relies on them: a backup holds
// an infinite lease so that no second writer can interleave blocks, and a failed backup's
// leftover lease is what makes a retry fail (412) until it is broken. Expiry and breaking
// are evaluated lazily against the clock, so no timers are needed.
type lease struct {
	id       string
	state    string        // leaseLeased or leaseBreaking as last set; "" is available
	infinite bool          // acquired with duration -1
	duration time.Duration // of a finite lease: what renew restarts
	expires  time.Time     // of a finite lease
	breakAt  time.Time     // of a breaking lease
}

func (l *lease) stateAt(now time.Time) string {
	switch l.state {
	case leaseLeased:
		if !l.infinite && !now.Before(l.expires) {
			return leaseExpired
		}
	case leaseBreaking:
		if !now.Before(l.breakAt) {
			return leaseBroken
		}
	case "":
		return leaseAvailable
	}
	return l.state
}

// checkWrite applies the rules for an operation that modifies or deletes the blob: an
// active (or breaking) lease demands its id, and a lease id on an unleased blob is an
// error too.
func (l *lease) checkWrite(now time.Time, leaseID string) *apiError {
	switch l.stateAt(now) {
	case leaseLeased, leaseBreaking:
		if leaseID == "" {
			return errLeaseIDMissing
		}
		if !strings.EqualFold(leaseID, l.id) {
			return errLeaseIDMismatchBlob
		}
	case leaseExpired, leaseBroken:
		if leaseID != "" {
			return errLeaseLost
		}
	default:
		if leaseID != "" {
			return errLeaseNotPresentBlob
		}
	}
	return nil
}

// checkRead: reads need no lease, but a lease id that is given must be the active one.
func (l *lease) checkRead(now time.Time, leaseID string) *apiError {
	if leaseID == "" {
		return nil
	}
	switch l.stateAt(now) {
	case leaseLeased, leaseBreaking:
		if !strings.EqualFold(leaseID, l.id) {
			return errLeaseIDMismatchBlob
		}
		return nil
	case leaseExpired, leaseBroken:
		return errLeaseLost
	}
	return errLeaseNotPresentBlob
}

// setHeaders reports the lease as Get Blob Properties does.
func (l *lease) setHeaders(h http.Header, now time.Time) {
	state := l.stateAt(now)
	h.Set("x-ms-lease-state", state)
	if state == leaseLeased || state == leaseBreaking {
		h.Set("x-ms-lease-status", "locked")
	} else {
		h.Set("x-ms-lease-status", "unlocked")
	}
	if state == leaseLeased {
		if l.infinite {
			h.Set("x-ms-lease-duration", "infinite")
		} else {
			h.Set("x-ms-lease-duration", "fixed")
		}
	}
}

// leaseDuration reads an acquire's x-ms-lease-duration: -1 (infinite) or 15 to 60 seconds.
// Azure requires the header on acquire (service versions from 2012-02-12 on); the endpoint
// does not: without it the lease is infinite, the lease SQL Server takes for backup and
// restore alike (Microsoft, "Delete backup blob files with active leases"), as WAL-G's
// proxy, which real SQL Server works with, does not require it either. A lease SQL Server
// did not ask to be finite must not expire under it mid-backup.
func leaseDuration(h http.Header) (int, *apiError) {
	v := strings.TrimSpace(h.Get("x-ms-lease-duration"))
	if v == "" {
		return -1, nil
	}
	d, err := strconv.Atoi(v)
	if err != nil || (d != -1 && (d < 15 || d > 60)) {
		return 0, errInvalidHeader("x-ms-lease-duration")
	}
	return d, nil
}

// apply runs one Lease Blob action and returns the success status and the headers to send
// with it. The action is matched in any letter case: SQL Server sends Acquire, Renew,
// Change, Release and Break capitalised (the form WAL-G's proxy matches), Azure's reference
// spells them in lower case, and Azure takes both.
func (l *lease) apply(now time.Time, h http.Header, newID func() string) (int, http.Header, *apiError) {
	id := h.Get("x-ms-lease-id")
	proposed := h.Get("x-ms-proposed-lease-id")
	state := l.stateAt(now)
	out := http.Header{}
	switch strings.ToLower(strings.TrimSpace(h.Get("x-ms-lease-action"))) {
	case "acquire":
		d, e := leaseDuration(h)
		if e != nil {
			return 0, nil, e
		}
		if proposed == "" {
			proposed = newID()
		} else if !isGUID(proposed) {
			return 0, nil, errInvalidHeader("x-ms-proposed-lease-id")
		}
		switch state {
		case leaseLeased:
			// Acquiring again with the same id is allowed and restarts the duration: a
			// restore that died and is retried takes its own fixed-id lease over.
			if !strings.EqualFold(proposed, l.id) {
				return 0, nil, errLeaseAlreadyPresent
			}
		case leaseBreaking:
			return 0, nil, errLeaseIsBreaking
		}
		dur := time.Duration(d) * time.Second
		*l = lease{id: proposed, state: leaseLeased, infinite: d == -1, duration: dur, expires: now.Add(dur)}
		out.Set("x-ms-lease-id", l.id)
		return http.StatusCreated, out, nil
	case "renew":
		if id == "" {
			return 0, nil, errInvalidHeader("x-ms-lease-id")
		}
		if state == leaseAvailable {
			return 0, nil, errLeaseNotPresentLease
		}
		if !strings.EqualFold(id, l.id) {
			return 0, nil, errLeaseIDMismatchLease
		}
		if state == leaseBreaking || state == leaseBroken {
			return 0, nil, errLeaseIsBroken
		}
		l.state = leaseLeased
		l.expires = now.Add(l.duration)
		out.Set("x-ms-lease-id", l.id)
		return http.StatusOK, out, nil
	case "change":
		if id == "" || !isGUID(proposed) {
			return 0, nil, errInvalidHeader("x-ms-proposed-lease-id")
		}
		if state != leaseLeased {
			return 0, nil, errLeaseNotPresentLease
		}
		// Changing to the id already held is a no-op that succeeds (Azure's idempotence).
		if !strings.EqualFold(id, l.id) && !strings.EqualFold(proposed, l.id) {
			return 0, nil, errLeaseIDMismatchLease
		}
		l.id = proposed
		out.Set("x-ms-lease-id", l.id)
		return http.StatusOK, out, nil
	case "release":
		if id == "" {
			return 0, nil, errInvalidHeader("x-ms-lease-id")
		}
		if state == leaseAvailable {
			return 0, nil, errLeaseNotPresentLease
		}
		if !strings.EqualFold(id, l.id) {
			return 0, nil, errLeaseIDMismatchLease
		}
		*l = lease{}
		return http.StatusOK, out, nil
	case "break":
		if state == leaseAvailable {
			return 0, nil, errLeaseNotPresentLease
		}
		period := 0
		if v := h.Get("x-ms-lease-break-period"); v != "" {
			p, err := strconv.Atoi(v)
			if err != nil || p < 0 || p > 60 {
				return 0, nil, errInvalidHeader("x-ms-lease-break-period")
			}
			period = p
		} else if !l.infinite && state == leaseLeased {
			// Without a period a finite lease breaks when it would have expired.
			period = int(l.expires.Sub(now).Seconds())
		}
		switch state {
		case leaseLeased:
			l.state, l.breakAt = leaseBreaking, now.Add(time.Duration(period)*time.Second)
		case leaseExpired:
			l.state, l.breakAt = leaseBreaking, now
		case leaseBreaking:
			// A shorter period may bring the break forward, never push it back.
			if at := now.Add(time.Duration(period) * time.Second); at.Before(l.breakAt) {
				l.breakAt = at
			}
		}
		out.Set("x-ms-lease-time", strconv.Itoa(int(l.breakAt.Sub(now).Seconds())))
		return http.StatusAccepted, out, nil
	}
	return 0, nil, errInvalidHeader("x-ms-lease-action")
}

// isGUID accepts the forms Azure accepts for lease ids: 32 hex digits, optionally with
// dashes and braces (SQL Server's restore lease id BAC2… has none).
func isGUID(s string) bool {
	s = strings.Trim(s, "{}")
	if len(s) == 36 {
		for _, i := range []int{8, 13, 18, 23} {
			if s[i] != '-' {
				return false
			}
		}
		s = strings.ReplaceAll(s, "-", "")
	}
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
