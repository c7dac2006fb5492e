package winvdi

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is VDConfig. The first group is what the client asks for in CreateEx; the second
// is filled in by SQL Server and read back with GetConfiguration (spec "VDConfig Structure":
// client inputs deviceCount … serverTimeOut, server inputs blockSize … bufferAreaSize).
//
// Field names and types are those of internal/agent/vdi's Config (the platform-independent
// command loop, issue 14), so one converts to the other with a plain conversion.
type Config struct {
	DeviceCount           uint32 // 1..64: one per VIRTUAL_DEVICE clause (stripe)
	Features              uint32 // Features bits: FeatLikePipe, FeatRequestComplete, …
	PrefixZoneSize        uint32
	Alignment             uint32
	SoftFileMarkBlockSize uint32
	EOMWarningSize        uint32
	ServerTimeOut         uint32 // ms SQL Server waits for the client; 0 = for ever (spec only: assumption)

	BlockSize       uint32 // SQL Server's BLOCKSIZE for the devices
	MaxIODepth      uint32 // deprecated; SQL Server returns 4 (spec only)
	MaxTransferSize uint32 // the largest VDC_Read/VDC_Write Size
	BufferAreaSize  uint32
}

// MaxDevices is the most devices one set may have (spec "VDConfig Structure": deviceCount
// "from 1 to 64"; assumption: only the spec says 64, mthread caps itself at 32).
const MaxDevices = 64

// Infinite, as a timeout, waits for ever (INFINITE, 0xFFFFFFFF ms: ref GetCommand and
// GetConfiguration; x/sys INFINITE).
const Infinite time.Duration = -1

const infiniteMillis = 0xFFFFFFFF

// ErrBadConfig is a Config this package refuses before calling VDI.
var ErrBadConfig = errors.New("invalid VDI configuration")

// ErrBadName is a virtual device (set) name VDI cannot take.
var ErrBadName = errors.New("invalid virtual device name")

// Validate checks what the documentation states about the client's fields.
func (c *Config) Validate() error {
	if c.DeviceCount < 1 || c.DeviceCount > MaxDevices {
		return fmt.Errorf("%w: %d devices; a set has 1 to %d (one per stripe)", ErrBadConfig, c.DeviceCount, MaxDevices)
	}
	return nil
}

// WritesMedia says SQL Server will write the set: a BACKUP (mthread reads the direction this
// way after GetConfiguration).
func (c *Config) WritesMedia() bool { return Features(c.Features)&FeatWriteMedia != 0 }

// ReadsMedia says SQL Server will read the set: a RESTORE.
func (c *Config) ReadsMedia() bool { return Features(c.Features)&FeatReadMedia != 0 }

// CompleteEnabled says SQL Server will send VDC_Complete after the last VDC_Write, as asked
// with FeatRequestComplete (sql-server-samples' sqlvdi README, KB3188454; bareos-fd).
func (c *Config) CompleteEnabled() bool { return Features(c.Features)&FeatCompleteEnabled != 0 }

// maxTimeout is the longest finite timeout: one millisecond less than INFINITE.
const maxTimeout = time.Duration(infiniteMillis-1) * time.Millisecond

// millis is a timeout as VDI's DWORD dwTimeOut: Infinite (any negative) → INFINITE, 0 → 0 (poll),
// otherwise whole milliseconds rounded up so a short wait never becomes a poll, capped below
// INFINITE.
func millis(d time.Duration) uint32 {
	switch {
	case d < 0:
		return infiniteMillis
	case d == 0:
		return 0
	case d >= maxTimeout:
		return infiniteMillis - 1
	}
	return uint32((d + time.Millisecond - 1) / time.Millisecond)
}

// raw is the C struct CreateEx reads.
func (c *Config) raw() vdConfig {
	return vdConfig{
		deviceCount:           c.DeviceCount,
		features:              c.Features,
		prefixZoneSize:        c.PrefixZoneSize,
		alignment:             c.Alignment,
		softFileMarkBlockSize: c.SoftFileMarkBlockSize,
		eomWarningSize:        c.EOMWarningSize,
		serverTimeOut:         c.ServerTimeOut,
		blockSize:             c.BlockSize,
		maxIODepth:            c.MaxIODepth,
		maxTransferSize:       c.MaxTransferSize,
		bufferAreaSize:        c.BufferAreaSize,
	}
}

// configFromRaw is what GetConfiguration wrote.
func configFromRaw(r *vdConfig) Config {
	return Config{
		DeviceCount:           r.deviceCount,
		Features:              r.features,
		PrefixZoneSize:        r.prefixZoneSize,
		Alignment:             r.alignment,
		SoftFileMarkBlockSize: r.softFileMarkBlockSize,
		EOMWarningSize:        r.eomWarningSize,
		ServerTimeOut:         r.serverTimeOut,
		BlockSize:             r.blockSize,
		MaxIODepth:            r.maxIODepth,
		MaxTransferSize:       r.maxTransferSize,
		BufferAreaSize:        r.bufferAreaSize,
	}
}

// ValidateName checks a virtual device set or device name before it reaches VDI. ref
// CreateEx: "The rules for names used by CreateFileMapping() must be followed. Any character
// except backslash (\) may be used." A NUL would cut the wide string short.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case strings.ContainsRune(name, '\\'):
		return fmt.Errorf("%w: %q has a backslash, which VDI does not allow in a name", ErrBadName, name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: %q has a NUL character", ErrBadName, name)
	}
	return nil
}

// instanceArg is CreateEx's lpInstanceName: NULL for the default instance (ref CreateEx: "NULL
// identifies the default instance. No "machineName\" prefix is accepted."). The default
// instance's service name MSSQLSERVER also maps to NULL — assumption: the docs do not say
// whether VDI accepts that name, and NULL is the documented way to name that instance.
// A "machine\instance" name is refused here with what to give instead.
func instanceArg(instance string) (name string, isDefault bool, err error) {
	if instance == "" || strings.EqualFold(instance, "MSSQLSERVER") {
		return "", true, nil
	}
	if i := strings.LastIndexByte(instance, '\\'); i >= 0 {
		return "", false, fmt.Errorf("%w: instance %q has a machine name; VDI takes the instance name alone (%q), and only on the machine SQL Server runs on", ErrBadName, instance, instance[i+1:])
	}
	if strings.ContainsRune(instance, 0) {
		return "", false, fmt.Errorf("%w: instance %q has a NUL character", ErrBadName, instance)
	}
	return instance, false, nil
}
