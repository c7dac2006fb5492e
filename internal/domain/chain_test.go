package domain

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const (
	dbA = "AAAAAAAA-0000-0000-0000-000000000001"
	dbB = "BBBBBBBB-0000-0000-0000-000000000002"
)

func full(id string, first, last, ckpt LSN, h int) Point {
	return Point{ID: id, Type: Full, FirstLSN: first, LastLSN: last, CheckpointLSN: ckpt, DatabaseGUID: dbA,
		BackupSetGUID: "set-" + id, Start: t0.Add(time.Duration(h) * time.Hour)}
}

func diff(id string, first, last, ckpt, base LSN, h int) Point {
	p := full(id, first, last, ckpt, h)
	p.Type, p.DifferentialBaseLSN = Differential, base
	return p
}

func logp(id string, first, last LSN, h int) Point {
	return Point{ID: id, Type: Log, FirstLSN: first, LastLSN: last, DatabaseGUID: dbA,
		BackupSetGUID: "set-" + id, Start: t0.Add(time.Duration(h) * time.Hour)}
}

func with(p Point, f func(*Point)) Point { f(&p); return p }

func TestLSN(t *testing.T) {
	for _, c := range []struct {
		l     LSN
		valid bool
	}{{"0", true}, {"1", true}, {"9999999999999999999999999", true}, {"", false}, {"01", false}, {"-1", false},
		{"1.0", false}, {"10000000000000000000000000", false}, {"12a", false}} {
		if got := c.l.Valid(); got != c.valid {
			t.Errorf("LSN(%q).Valid() = %v, want %v", c.l, got, c.valid)
		}
	}
	for _, c := range []struct {
		a, b LSN
		want int
	}{{"9", "10", -1}, {"10", "9", 1}, {"42", "42", 0}, {"100", "099", 1}, {"123000000000100000001", "123000000000099000001", 1}} {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestUnusable(t *testing.T) {
	f := full("f", "100", "200", "150", 0)
	l := logp("l", "200", "300", 1)
	for _, c := range []struct {
		name   string
		p      Point
		usable bool
	}{
		{"full", f, true},
		{"log", l, true},
		{"differential", diff("d", "250", "260", "255", "150", 2), true},
		{"unknown type", with(f, func(p *Point) { p.Type = "file" }), false},
		{"no start", with(f, func(p *Point) { p.Start = time.Time{} }), false},
		{"bad first LSN", with(f, func(p *Point) { p.FirstLSN = "0100" }), false},
		{"full without checkpoint", with(f, func(p *Point) { p.CheckpointLSN = "" }), false},
		{"differential without base", diff("d", "250", "260", "255", "", 2), false},
		{"empty log", with(l, func(p *Point) { p.LastLSN = "200" }), false},
		{"first after last", with(f, func(p *Point) { p.FirstLSN = "201" }), false},
		{"log spanning a fork at its point", with(l, func(p *Point) { p.FirstFork, p.Fork, p.ForkPoint = "F1", "F2", "250" }), true},
		{"log spanning a fork without a point", with(l, func(p *Point) { p.FirstFork, p.Fork = "F1", "F2" }), false},
		{"log spanning a fork outside it", with(l, func(p *Point) { p.FirstFork, p.Fork, p.ForkPoint = "F1", "F2", "301" }), false},
		{"full spanning a fork", with(f, func(p *Point) { p.FirstFork, p.Fork, p.ForkPoint = "F1", "F2", "150" }), false},
	} {
		if got := c.p.Unusable(); (got == "") != c.usable {
			t.Errorf("%s: Unusable() = %q, want usable %v", c.name, got, c.usable)
		}
	}
}

// TestFollows pins when a log restores right after a base or another log.
func TestFollows(t *testing.T) {
	f := full("f", "100", "200", "150", 0)
	l1 := logp("l1", "120", "300", 1) // starts before the full's end: the first log after it
	l2 := logp("l2", "300", "400", 2)
	forked := with(l2, func(p *Point) { p.FirstFork, p.Fork, p.ForkPoint = "F1", "F2", "350" })
	for _, c := range []struct {
		name string
		l, p Point
		want bool
	}{
		{"first log spans the base's end", l1, f, true},
		{"log after log", l2, l1, true},
		{"gap", logp("l3", "301", "400", 2), l1, false},
		{"log ends at the base's end (too early)", logp("l0", "100", "200", 1), f, false},
		{"log starts after the base's end (too late)", logp("l4", "201", "300", 1), f, false},
		{"another database incarnation", with(l2, func(p *Point) { p.DatabaseGUID = dbB }), l1, false},
		{"a base is not a log", f, l1, false},
		{"forks unknown match", l2, with(l1, func(p *Point) { p.Fork = "F1" }), true},
		{"on the base's fork", with(l2, func(p *Point) { p.FirstFork, p.Fork = "f1", "f1" }), with(l1, func(p *Point) { p.Fork = "F1" }), true},
		{"on another fork", with(l2, func(p *Point) { p.FirstFork, p.Fork = "F2", "F2" }), with(l1, func(p *Point) { p.Fork = "F1" }), false},
		{"spanning log starts on the base's fork", forked, with(l1, func(p *Point) { p.Fork = "F1" }), true},
		{"spanning log starts on another fork", forked, with(l1, func(p *Point) { p.Fork = "F2" }), false},
	} {
		if got := c.l.Follows(&c.p); got != c.want {
			t.Errorf("%s: Follows = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestForkAt pins which fork a log that spans a fork point holds an LSN on.
func TestForkAt(t *testing.T) {
	l := with(logp("l", "300", "400", 2), func(p *Point) { p.FirstFork, p.Fork, p.ForkPoint = "F1", "F2", "350" })
	for _, c := range []struct {
		at   LSN
		want string
	}{{"300", "F1"}, {"350", "F1"}, {"351", "F2"}, {"399", "F2"}} {
		if got := l.ForkAt(c.at); got != c.want {
			t.Errorf("ForkAt(%s) = %s, want %s", c.at, got, c.want)
		}
	}
	if !l.Continues("360", "F2") || l.Continues("360", "F1") || !l.Continues("320", "F1") {
		t.Error("Continues does not follow ForkAt")
	}
	unknownStart := with(l, func(p *Point) { p.FirstFork, p.ForkPoint = "", "" })
	if unknownStart.SpansFork() || unknownStart.ForkAt("310") != "F2" {
		t.Error("a log with only its last fork known should be on that fork throughout")
	}
	ft := t0.Add(90 * time.Minute)
	l.ForkTime = &ft
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{time.Hour, false}, {90 * time.Minute, true}, {100 * time.Minute, true}, {2 * time.Hour, false}} {
		if got := l.HoldsInstant(t0.Add(c.at)); got != c.want {
			t.Errorf("HoldsInstant(+%v) = %v, want %v", c.at, got, c.want)
		}
	}
	l.ForkTime = nil
	if l.HoldsInstant(t0.Add(100 * time.Minute)) {
		t.Error("a log spanning a fork of unknown time holds no instant before its start")
	}
}

// TestDifferentialOf pins which full a differential belongs to.
func TestDifferentialOf(t *testing.T) {
	f := full("f", "100", "200", "150", 0)
	d := diff("d", "250", "260", "255", "150", 2)
	for _, c := range []struct {
		name string
		d, f Point
		want bool
	}{
		{"its base", d, f, true},
		{"another checkpoint", with(d, func(p *Point) { p.DifferentialBaseLSN = "151" }), f, false},
		{"a copy-only full is no base", d, with(f, func(p *Point) { p.CopyOnly = true }), false},
		{"another database incarnation, same LSNs", d, with(f, func(p *Point) { p.DatabaseGUID = dbB }), false},
		{"older than its base", with(d, func(p *Point) { p.Start = t0.Add(-time.Hour) }), f, false},
		{"a log is no differential", logp("l", "150", "200", 2), f, false},
	} {
		if got := DifferentialOf(&c.d, &c.f); got != c.want {
			t.Errorf("%s: DifferentialOf = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestChainState pins what the agent is told of the vault's chain.
func TestChainState(t *testing.T) {
	old := with(full("old", "10", "20", "15", -48), func(p *Point) { p.DatabaseGUID = dbB })
	f := full("f", "100", "200", "150", 0)
	cp := with(full("cp", "500", "600", "550", 10), func(p *Point) { p.CopyOnly = true })
	d := diff("d", "250", "260", "255", "150", 2)
	l1, l2, l3 := logp("l1", "120", "240", 1), logp("l2", "240", "300", 3), logp("l3", "300", "400", 4)
	oldLog := with(logp("ol", "20", "9000", -47), func(p *Point) { p.DatabaseGUID = dbB })
	s := ChainStateOf([]Point{l3, old, cp, l1, d, f, l2, oldLog})
	if s.DatabaseGUID != dbA || s.NewestFullID != "f" || !s.NewestFullStart.Equal(f.Start) {
		t.Fatalf("state %+v: want the newest scheduled full f of %s", s, dbA)
	}
	if s.NewestLogLastLSN != "400" || s.BaseEndLSN != "600" {
		t.Errorf("newest log %s, base end %s; want 400 (the other incarnation's log is no part) and 600 (copy-only full)", s.NewestLogLastLSN, s.BaseEndLSN)
	}
	for guid, want := range map[string]bool{"set-f": true, "set-d": true, "set-cp": true, "set-l1": false, "set-l2": false,
		"set-l3": false, "set-old": false, "set-ol": false} {
		if s.Ours(guid) != want {
			t.Errorf("Ours(%s) = %v, want %v", guid, !want, want)
		}
	}
	l0 := logp("l0", "90", "180", -1) // ends before the full's end
	s2 := ChainStateOf([]Point{f, l0, l1, l2})
	if !s2.Ours("set-l2") || !s2.Ours("set-l1") || s2.Ours("set-l0") {
		t.Error("logs past the last base's end are ours, those before are not listed")
	}
	for _, c := range []struct {
		next LSN
		want bool
	}{{"300", true}, {"150", true}, {"200", true}, {"240", false}, {"250", false}, {"301", false}} {
		if got := s2.LogContinues(c.next); got != c.want {
			t.Errorf("LogContinues(%s) = %v, want %v", c.next, got, c.want)
		}
	}
	if !s.SameDatabase(dbA) || !s.SameDatabase("aaaaaaaa-0000-0000-0000-000000000001") || s.SameDatabase(dbB) || !s.SameDatabase("") {
		t.Error("SameDatabase: the live database must be the newest full's incarnation")
	}
	// Differential bases: the scheduled fulls of the incarnation only — never the copy-only
	// full (a database restored from it has its checkpoint as its base, and no restore pairs
	// a differential with a copy-only full) nor another incarnation's full.
	f2 := full("f2", "700", "800", "750", 20)
	s3 := ChainStateOf([]Point{f2, old, cp, f, d})
	if !slices.Equal(s3.BaseCheckpoints, []LSN{"150", "750"}) {
		t.Errorf("base checkpoints %v, want [150 750]", s3.BaseCheckpoints)
	}
	for _, c := range []struct {
		base      LSN
		ok, known bool
	}{{"150", true, true}, {"750", true, true}, {"550", false, true}, {"15", false, true}, {"", true, false}} {
		if ok, known := s3.DifferentialBaseInVault(c.base); ok != c.ok || known != c.known {
			t.Errorf("DifferentialBaseInVault(%q) = %v, %v; want %v, %v", c.base, ok, known, c.ok, c.known)
		}
	}
	if ok, known := (&ChainState{NewestFullID: "f"}).DifferentialBaseInVault("550"); !ok || known {
		t.Error("a state without base checkpoints (an older control side) does not judge the base")
	}
	if e := ChainStateOf([]Point{cp, l1}); e.HasFull() || e.DatabaseGUID != "" || e.LogContinues("120") {
		t.Errorf("no scheduled full: %+v", e)
	}
}
