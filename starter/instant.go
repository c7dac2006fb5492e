package starter

import (
	"errors"
	"fmt"
	"time"
)

// ErrAmbiguousInstant: a time given without Z or a UTC offset. SQL Server's clock is the
// VM's local time, which may not be UTC and repeats an hour at a daylight-saving change, so
// a bare local time does not name one instant; sqlvault takes instants only and converts
// them to the server's local time itself.
var ErrAmbiguousInstant = errors.New("AmbiguousInstant")

// parseInstant reads an --at value: RFC 3339 with Z or an offset (2026-11-26T10:15:30Z,
// 2026-11-26T11:15:30+01:00), nothing else.
func parseInstant(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04"} {
		if _, lerr := time.Parse(layout, s); lerr == nil {
			return time.Time{}, fmt.Errorf("%w: --at %q has no Z or UTC offset, so it does not name one instant "+
				"(SQL Server's clock is its VM's local time, which repeats an hour when daylight saving ends): "+
				"add Z for UTC (%sZ) or the offset you mean (%s+01:00)", ErrAmbiguousInstant, s, s, s)
		}
	}
	return time.Time{}, fmt.Errorf("%w: --at %q is not an RFC 3339 instant: give one such as 2026-11-26T10:15:30Z or 2026-11-26T11:15:30+01:00",
		ErrAmbiguousInstant, s)
}
