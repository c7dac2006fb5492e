package query

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// SQL Server's datetime and datetime2 have no time zone. The simulator's values are
// time.Time in whatever zone the instance clock uses, so everything here works on the
// wall-clock fields (wall) and never on instants: '2026-11-26T10:15:30' equals a stored
// value showing 10:15:30 whatever its Location.

var sqlEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// wall returns t's wall-clock reading as a UTC time, so that comparisons and arithmetic
// ignore zones.
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// rewall puts a wall-clock result back into the zone of the value it came from.
func rewall(w time.Time, loc *time.Location) time.Time {
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
}

// roundDatetime rounds to datetime's precision, 1/300 of a second (.000, .003, .007).
func roundDatetime(t time.Time) time.Time {
	ns := int64(t.Nanosecond())
	ticks := (ns*300 + 500_000_000) / 1_000_000_000
	return t.Add(time.Duration(ticks*1_000_000_000/300 - ns))
}

// datetimeDays is a datetime as SQL Server's float: days since 1900-01-01.
func datetimeDays(t time.Time) float64 {
	return float64(wall(t).Sub(sqlEpoch)) / float64(24*time.Hour)
}

func daysDatetime(days float64) time.Time {
	whole := int(days)
	if float64(whole) > days {
		whole-- // floor for negative values
	}
	frac := days - float64(whole)
	return sqlEpoch.AddDate(0, 0, whole).Add(time.Duration(frac * float64(24*time.Hour)))
}

// parseDateTime reads the character forms SQL Server accepts for datetime under us_english:
// ISO 8601 (2026-11-26T10:15:30[.1234567][Z]), ODBC-like 2026-11-26 10:15:30[.123],
// unseparated 20261126 [10:15:30], m/d/y, a time alone (date 1900-01-01), ” (1900-01-01).
func parseDateTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return sqlEpoch, true
	}
	s = strings.TrimSuffix(s, "Z")
	datePart, timePart := s, ""
	if i := strings.IndexAny(s, "T "); i >= 0 {
		datePart, timePart = s[:i], strings.TrimSpace(s[i+1:])
	}
	y, m, d := 1900, 1, 1
	if strings.Contains(datePart, ":") {
		timePart = s
	} else {
		var ok bool
		if y, m, d, ok = parseDate(datePart); !ok {
			return time.Time{}, false
		}
	}
	h, mi, sec, ns, ok := parseTime(timePart)
	if !ok {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, h, mi, sec, ns, time.UTC)
	if t.Day() != d || int(t.Month()) != m {
		return time.Time{}, false // 2026-02-30: time.Date would have normalised it
	}
	return t, true
}

func atoiAll(s string) (int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func parseDate(s string) (y, m, d int, ok bool) {
	if len(s) == 8 {
		if n, ok := atoiAll(s); ok {
			return n / 10000, n / 100 % 100, n % 100, true
		}
	}
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '/' || r == '.' })
	if len(f) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i := range f {
		if n[i], ok = atoiAll(f[i]); !ok {
			return 0, 0, 0, false
		}
	}
	if len(f[0]) == 4 {
		y, m, d = n[0], n[1], n[2]
	} else {
		m, d, y = n[0], n[1], n[2] // us_english: mdy
		if len(f[2]) == 2 {
			y += 1900
			if y < 1950 { // two-digit year cutoff 2049
				y += 100
			}
		}
	}
	if m < 1 || m > 12 || d < 1 || d > 31 || y < 1 || y > 9999 {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

func parseTime(s string) (h, m, sec, ns int, ok bool) {
	if s == "" {
		return 0, 0, 0, 0, true
	}
	upper := strings.ToUpper(s)
	pm := strings.HasSuffix(upper, "PM")
	am := strings.HasSuffix(upper, "AM")
	if am || pm {
		s = strings.TrimSpace(s[:len(s)-2])
	}
	main, frac, hasFrac := strings.Cut(s, ".")
	f := strings.Split(main, ":")
	if len(f) < 2 || len(f) > 3 {
		return 0, 0, 0, 0, false
	}
	var n [3]int
	for i := range f {
		if n[i], ok = atoiAll(f[i]); !ok {
			return 0, 0, 0, 0, false
		}
	}
	h, m, sec = n[0], n[1], n[2]
	if hasFrac {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		v, ok := atoiAll(frac)
		if !ok {
			return 0, 0, 0, 0, false
		}
		for i := len(frac); i < 9; i++ {
			v *= 10
		}
		ns = v
	}
	if am || pm {
		if h < 1 || h > 12 {
			return 0, 0, 0, 0, false
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	if h > 23 || m > 59 || sec > 59 {
		return 0, 0, 0, 0, false
	}
	return h, m, sec, ns, true
}

// formatDate renders a date for CAST/CONVERT to a character type.
func formatDate(t time.Time, typ sqltypes.Type, style int) (string, error) {
	if typ == sqltypes.DateTime {
		t = roundDatetime(t)
	}
	t = wall(t)
	ms := (t.Nanosecond() + 500_000) / 1_000_000
	frac := fmt.Sprintf(".%03d", ms)
	if typ == sqltypes.DateTime2 {
		frac = fmt.Sprintf(".%07d", t.Nanosecond()/100)
	}
	date := t.Format("2006-01-02")
	clock := t.Format("15:04:05")
	switch style {
	case 0, 100:
		if typ == sqltypes.DateTime2 {
			return date + " " + clock + frac, nil
		}
		h := t.Hour() % 12
		if h == 0 {
			h = 12
		}
		return fmt.Sprintf("%s %2d %d %2d:%02d%s", t.Format("Jan"), t.Day(), t.Year(), h, t.Minute(), t.Format("PM")), nil
	case 20, 120:
		return date + " " + clock, nil
	case 21, 25, 121:
		return date + " " + clock + frac, nil
	case 126, 127:
		if t.Nanosecond() == 0 || (typ == sqltypes.DateTime && ms == 0) {
			return date + "T" + clock, nil
		}
		return date + "T" + clock + frac, nil
	case 23:
		return date, nil
	case 112:
		return t.Format("20060102"), nil
	case 102:
		return t.Format("2006.01.02"), nil
	case 111:
		return t.Format("2006/01/02"), nil
	case 101:
		return t.Format("01/02/2006"), nil
	case 103:
		return t.Format("02/01/2006"), nil
	case 104:
		return t.Format("02.01.2006"), nil
	case 110:
		return t.Format("01-02-2006"), nil
	case 8, 24, 108:
		return clock, nil
	case 114:
		return clock + fmt.Sprintf(":%03d", ms), nil
	}
	return "", errf(281, "%d is not a valid style number when converting from %s to a character string.", style, typeName(typ))
}

// datePartNames maps every spelling DATEADD/DATEDIFF/DATEPART accept to one canonical name.
var datePartNames = map[string]string{
	"year": "year", "yy": "year", "yyyy": "year",
	"quarter": "quarter", "qq": "quarter", "q": "quarter",
	"month": "month", "mm": "month", "m": "month",
	"dayofyear": "dayofyear", "dy": "dayofyear", "y": "dayofyear",
	"day": "day", "dd": "day", "d": "day",
	"week": "week", "wk": "week", "ww": "week",
	"weekday": "weekday", "dw": "weekday", "w": "weekday",
	"hour": "hour", "hh": "hour",
	"minute": "minute", "mi": "minute", "n": "minute",
	"second": "second", "ss": "second", "s": "second",
	"millisecond": "millisecond", "ms": "millisecond",
	"microsecond": "microsecond", "mcs": "microsecond",
	"nanosecond": "nanosecond", "ns": "nanosecond",
}

// unitOf is the fixed length of the sub-day parts.
var unitOf = map[string]time.Duration{
	"hour": time.Hour, "minute": time.Minute, "second": time.Second,
	"millisecond": time.Millisecond, "microsecond": time.Microsecond, "nanosecond": time.Nanosecond,
}

func addMonths(t time.Time, n int64) time.Time {
	total := int64(t.Year())*12 + int64(t.Month()-1) + n
	y, m := total/12, time.Month(total%12+1)
	if total < 0 {
		return time.Time{} // far out of range; the caller's year check rejects it
	}
	// SQL Server clamps to the month's last day: DATEADD(month, 1, '2026-01-31') is Feb 28.
	last := time.Date(int(y), m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(int(y), m, min(t.Day(), last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// dateAdd is DATEADD on wall-clock time.
func dateAdd(part string, n int64, t time.Time) time.Time {
	w := wall(t)
	switch part {
	case "year":
		w = addMonths(w, 12*n)
	case "quarter":
		w = addMonths(w, 3*n)
	case "month":
		w = addMonths(w, n)
	case "dayofyear", "day", "weekday":
		w = w.AddDate(0, 0, int(n))
	case "week":
		w = w.AddDate(0, 0, int(7*n))
	default:
		unit := unitOf[part]
		perDay := int64(24 * time.Hour / unit)
		w = w.AddDate(0, 0, int(n/perDay)).Add(time.Duration(n%perDay) * unit)
	}
	return rewall(w, t.Location())
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// dayNumber counts days since 1970-01-01 for the wall-clock date.
func dayNumber(w time.Time) int64 {
	return floorDiv(time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// dateDiff is DATEDIFF: the number of part boundaries crossed from a to b (not elapsed
// whole units: DATEDIFF(year, '2025-12-31', '2026-01-01') is 1). ok is false when the
// nanosecond count does not fit in 64 bits.
func dateDiff(part string, a, b time.Time) (n int64, ok bool) {
	a, b = wall(a), wall(b)
	switch part {
	case "year":
		return int64(b.Year() - a.Year()), true
	case "quarter":
		return int64(b.Year()*4+(int(b.Month())-1)/3) - int64(a.Year()*4+(int(a.Month())-1)/3), true
	case "month":
		return int64(b.Year()*12+int(b.Month())) - int64(a.Year()*12+int(a.Month())), true
	case "dayofyear", "day", "weekday":
		return dayNumber(b) - dayNumber(a), true
	case "week":
		// Weeks start on Sunday (DATEFIRST 7); 1970-01-01 was a Thursday, so day+4 is a
		// multiple of 7 on Sundays.
		return floorDiv(dayNumber(b)+4, 7) - floorDiv(dayNumber(a)+4, 7), true
	}
	unit := int64(unitOf[part])
	// Boundaries of unit crossed = floor(b/unit) - floor(a/unit), computed on seconds and
	// nanoseconds separately so years 2262+ do not overflow.
	perSec := int64(time.Second) / unit
	if perSec == 0 { // hour, minute
		secs := int64(unit / int64(time.Second))
		return floorDiv(b.Unix(), secs) - floorDiv(a.Unix(), secs), true
	}
	ds := b.Unix() - a.Unix()
	if ds > (1<<63-1)/perSec || ds < -(1<<63-1)/perSec {
		return 0, false
	}
	return ds*perSec + int64(b.Nanosecond())/unit - int64(a.Nanosecond())/unit, true
}

// datePart is DATEPART with us_english settings (DATEFIRST 7: Sunday is weekday 1).
func datePart(part string, t time.Time) int64 {
	w := wall(t)
	switch part {
	case "year":
		return int64(w.Year())
	case "quarter":
		return int64(w.Month()-1)/3 + 1
	case "month":
		return int64(w.Month())
	case "dayofyear":
		return int64(w.YearDay())
	case "day":
		return int64(w.Day())
	case "week":
		jan1 := time.Date(w.Year(), 1, 1, 0, 0, 0, 0, time.UTC).Weekday()
		return int64(w.YearDay()-1+int(jan1))/7 + 1
	case "weekday":
		return int64(w.Weekday()) + 1
	case "hour":
		return int64(w.Hour())
	case "minute":
		return int64(w.Minute())
	case "second":
		return int64(w.Second())
	case "millisecond":
		return int64(w.Nanosecond() / 1e6)
	case "microsecond":
		return int64(w.Nanosecond() / 1e3)
	}
	return int64(w.Nanosecond())
}
