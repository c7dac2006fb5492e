package blobfake

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Lease states as Azure reports them in x-ms-lease-state.
const (
	LeaseAvailable = "available"
	LeaseLeased    = "leased"
	LeaseExpired   = "expired"
	LeaseBreaking  = "breaking"
	LeaseBroken    = "broken"
)

// lease is a blob's lease. Expiry and breaking are evaluated lazily against the server
// clock, so no timers are needed.
type lease struct {
	id       string
	state    string        // as last set; state(now) derives expired/broken
	infinite bool          // duration -1
	duration time.Duration // for a finite lease: what renew restarts
	expires  time.Time     // for a finite lease
	breakAt  time.Time     // for a breaking lease
}

func (l *lease) stateAt(now time.Time) string {
	switch l.state {
	case LeaseLeased:
		if !l.infinite && !now.Before(l.expires) {
			return LeaseExpired
		}
	case LeaseBreaking:
		if !now.Before(l.breakAt) {
			return LeaseBroken
		}
	case "":
		return LeaseAvailable
	}
	return l.state
}

// Lease ids are GUIDs, and Azure compares them case-insensitively: every comparison below
// uses strings.EqualFold.

// checkWrite applies Azure's lease rules for an operation that modifies or deletes the
// blob: an active (or breaking) lease demands its id; a lease id on an unleased blob is an
// error too.
func (l *lease) checkWrite(now time.Time, leaseID string) *apiError {
	switch l.stateAt(now) {
	case LeaseLeased, LeaseBreaking:
		if leaseID == "" {
			return errLeaseIDMissing
		}
		if !strings.EqualFold(leaseID, l.id) {
			return errLeaseIDMismatchBlob
		}
	case LeaseExpired, LeaseBroken:
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
	case LeaseLeased, LeaseBreaking:
		if !strings.EqualFold(leaseID, l.id) {
			return errLeaseIDMismatchBlob
		}
		return nil
	case LeaseExpired, LeaseBroken:
		return errLeaseLost
	}
	return errLeaseNotPresentBlob
}

// apply runs one Lease Blob action and returns the status and the headers to send.
func (l *lease) apply(now time.Time, h http.Header, newID func() string) (int, http.Header, *apiError) {
	// Azure takes the action in any letter case: SQL Server sends it capitalised (Acquire,
	// Renew, Change, Release, Break), the REST reference spells it in lower case.
	action := strings.ToLower(strings.TrimSpace(h.Get("x-ms-lease-action")))
	id := h.Get("x-ms-lease-id")
	proposed := h.Get("x-ms-proposed-lease-id")
	state := l.stateAt(now)
	out := http.Header{}
	switch action {
	case "acquire":
		// Required on acquire from service version 2012-02-12 on (Azure's Lease Blob
		// reference), which every SAS this fake accepts is newer than.
		v := strings.TrimSpace(h.Get("x-ms-lease-duration"))
		if v == "" {
			return 0, nil, errMissingHeader("x-ms-lease-duration")
		}
		d, err := strconv.Atoi(v)
		if err != nil || (d != -1 && (d < 15 || d > 60)) {
			return 0, nil, errInvalidHeader("x-ms-lease-duration")
		}
		if proposed == "" {
			proposed = newID()
		} else if !isGUID(proposed) {
			return 0, nil, errInvalidHeader("x-ms-proposed-lease-id")
		}
		switch state {
		case LeaseLeased:
			// Acquiring again with the same id is allowed and restarts the duration.
			if !strings.EqualFold(proposed, l.id) {
				return 0, nil, errLeaseAlreadyPresent
			}
		case LeaseBreaking:
			return 0, nil, errLeaseIsBreaking
		}
		dur := time.Duration(d) * time.Second
		*l = lease{id: proposed, state: LeaseLeased, infinite: d == -1, duration: dur, expires: now.Add(dur)}
		out.Set("x-ms-lease-id", l.id)
		return http.StatusCreated, out, nil
	case "renew":
		if id == "" {
			return 0, nil, errInvalidHeader("x-ms-lease-id")
		}
		if state == LeaseAvailable {
			return 0, nil, errLeaseNotPresentLease
		}
		if !strings.EqualFold(id, l.id) {
			return 0, nil, errLeaseIDMismatchLease
		}
		if state == LeaseBreaking || state == LeaseBroken {
			return 0, nil, errLeaseIsBroken
		}
		l.state = LeaseLeased
		l.expires = now.Add(l.duration) // renew keeps the duration of the acquire
		out.Set("x-ms-lease-id", l.id)
		return http.StatusOK, out, nil
	case "change":
		if id == "" || !isGUID(proposed) {
			return 0, nil, errInvalidHeader("x-ms-proposed-lease-id")
		}
		if state != LeaseLeased {
			return 0, nil, errLeaseNotPresentLease
		}
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
		if state == LeaseAvailable {
			return 0, nil, errLeaseNotPresentLease
		}
		if !strings.EqualFold(id, l.id) {
			return 0, nil, errLeaseIDMismatchLease
		}
		*l = lease{state: LeaseAvailable}
		return http.StatusOK, out, nil
	case "break":
		if state == LeaseAvailable {
			return 0, nil, errLeaseNotPresentLease
		}
		period := 0
		if v := h.Get("x-ms-lease-break-period"); v != "" {
			p, err := strconv.Atoi(v)
			if err != nil || p < 0 || p > 60 {
				return 0, nil, errInvalidHeader("x-ms-lease-break-period")
			}
			period = p
		} else if !l.infinite && state == LeaseLeased {
			// Without a period a finite lease breaks when it would have expired.
			period = int(l.expires.Sub(now).Seconds())
		}
		switch state {
		case LeaseLeased:
			l.state, l.breakAt = LeaseBreaking, now.Add(time.Duration(period)*time.Second)
		case LeaseExpired:
			l.state, l.breakAt = LeaseBreaking, now
		case LeaseBreaking:
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

// isGUID accepts the forms Azure accepts for lease ids: 32 hex digits, optionally with the
// usual dashes and braces (SQL Server's restore lease id BAC2… has none).
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
