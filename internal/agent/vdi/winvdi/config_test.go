package winvdi

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{DeviceCount: 1}, true},
		{Config{DeviceCount: 64, ServerTimeOut: 60000}, true},
		{Config{DeviceCount: 0}, false},
		{Config{DeviceCount: 65}, false},
	} {
		err := c.cfg.Validate()
		if c.ok != (err == nil) {
			t.Errorf("%+v: Validate = %v", c.cfg, err)
		}
		if err != nil && !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v is not ErrBadConfig", c.cfg, err)
		}
	}
}

// What CreateEx reads and GetConfiguration writes map field for field.
func TestConfigRaw(t *testing.T) {
	cfg := Config{
		DeviceCount: 3, Features: uint32(FeatRequestComplete), PrefixZoneSize: 5, Alignment: 4096,
		SoftFileMarkBlockSize: 7, EOMWarningSize: 8, ServerTimeOut: 60000,
		BlockSize: 65536, MaxIODepth: 4, MaxTransferSize: 4 << 20, BufferAreaSize: 11,
	}
	raw := cfg.raw()
	want := vdConfig{3, uint32(FeatRequestComplete), 5, 4096, 7, 8, 60000, 65536, 4, 4 << 20, 11}
	if raw != want {
		t.Fatalf("raw = %+v, want %+v", raw, want)
	}
	if back := configFromRaw(&raw); back != cfg {
		t.Fatalf("round trip = %+v, want %+v", back, cfg)
	}
}

func TestConfigDirection(t *testing.T) {
	backup := Config{Features: uint32(FeatWriteMedia | FeatCompleteEnabled)}
	restore := Config{Features: uint32(FeatReadMedia)}
	if !backup.WritesMedia() || backup.ReadsMedia() || !backup.CompleteEnabled() {
		t.Errorf("backup config read as %v", Features(backup.Features))
	}
	if restore.WritesMedia() || !restore.ReadsMedia() || restore.CompleteEnabled() {
		t.Errorf("restore config read as %v", Features(restore.Features))
	}
}

func TestMillis(t *testing.T) {
	for d, want := range map[time.Duration]uint32{
		Infinite:                0xFFFFFFFF,
		-time.Hour:              0xFFFFFFFF,
		0:                       0, // poll
		time.Nanosecond:         1, // a wait never becomes a poll
		time.Millisecond:        1,
		1001 * time.Microsecond: 2,
		3 * time.Minute:         180000,
		maxTimeout:              0xFFFFFFFE,
		100 * 24 * time.Hour:    0xFFFFFFFE, // never INFINITE by accident
	} {
		if got := millis(d); got != want {
			t.Errorf("millis(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"sqlvault-3f2a-0":           true,
		"{D0E6EB07-7A62-11D2-8573}": true,
		"":                          false,
		`a\b`:                       false,
		"a\x00b":                    false,
	} {
		err := ValidateName(name)
		if ok != (err == nil) {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("ValidateName(%q): %v is not ErrBadName", name, err)
		}
	}
}

func TestInstanceArg(t *testing.T) {
	for _, c := range []struct {
		in        string
		name      string
		isDefault bool
		ok        bool
	}{
		{"", "", true, true},
		{"MSSQLSERVER", "", true, true},
		{"mssqlserver", "", true, true},
		{"SQL2022", "SQL2022", false, true},
		{`HOST\SQL2022`, "", false, false},
		{"a\x00", "", false, false},
	} {
		name, isDefault, err := instanceArg(c.in)
		if name != c.name || isDefault != c.isDefault || c.ok != (err == nil) {
			t.Errorf("instanceArg(%q) = %q, %v, %v", c.in, name, isDefault, err)
		}
	}
}
