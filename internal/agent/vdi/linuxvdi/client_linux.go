//go:build linux && cgo

package linuxvdi

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// The library's structs (vdi.h, #pragma pack(8)): VDConfig is eleven uint32_t; VDC_Command is
// int32 code, int32 size, int64 position, uint8_t* buffer (24 bytes on LP64).
typedef struct { uint32_t f[11]; } sv_config;
typedef struct { int32_t commandCode; int32_t size; int64_t position; uint8_t *buffer; } sv_command;

// Non-virtual C++ member functions under the Itanium ABI are plain functions whose first
// argument is the object (this). Parameter types as vdi.h declares them: time_t timeouts,
// char* names, unsigned long bytesTransferred, int64_t position.
typedef void (*sv_ctor_fn)(void *self);
typedef int (*sv_create_fn)(void *self, char *name, sv_config *cfg);
typedef int (*sv_getconfig_fn)(void *self, time_t timeout, sv_config *cfg);
typedef int (*sv_open_fn)(void *self, char *name, void **device);
typedef int (*sv_void_fn)(void *self);
typedef int (*sv_getcommand_fn)(void *self, time_t timeout, sv_command **cmd);
typedef int (*sv_complete_fn)(void *self, sv_command *cmd, int code, unsigned long bytes, int64_t position);

typedef struct {
	void *handle;
	sv_ctor_fn ctor, dtor; // dtor may be NULL: then the object is not freed
	sv_create_fn create;
	sv_getconfig_fn getconfig;
	sv_open_fn opendevice;
	sv_void_fn close, abort;
	sv_getcommand_fn getcommand;
	sv_complete_fn complete;
} sv_lib;

// The Itanium-mangled names of the members declared in vdi.h (C1/D1: the complete-object
// constructor and destructor).
#define SV_CTOR "_ZN22ClientVirtualDeviceSetC1Ev"
#define SV_DTOR "_ZN22ClientVirtualDeviceSetD1Ev"
#define SV_CREATE "_ZN22ClientVirtualDeviceSet6CreateEPcP8VDConfig"
#define SV_GETCONFIG "_ZN22ClientVirtualDeviceSet16GetConfigurationElP8VDConfig"
#define SV_OPENDEVICE "_ZN22ClientVirtualDeviceSet10OpenDeviceEPcPP19ClientVirtualDevice"
#define SV_CLOSE "_ZN22ClientVirtualDeviceSet5CloseEv"
#define SV_ABORT "_ZN22ClientVirtualDeviceSet11SignalAbortEv"
#define SV_GETCOMMAND "_ZN19ClientVirtualDevice10GetCommandElPP11VDC_Command"
#define SV_COMPLETE "_ZN19ClientVirtualDevice15CompleteCommandEP11VDC_Commandiml"

// sv_load opens path and resolves every member; it returns NULL or what failed (in err).
static sv_lib *sv_load(const char *path, char *err, size_t errlen) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		strncpy(err, e ? e : "dlopen failed", errlen - 1);
		return NULL;
	}
	sv_lib *l = calloc(1, sizeof(sv_lib));
	if (!l) {
		strncpy(err, "out of memory", errlen - 1);
		return NULL;
	}
	l->handle = h;
	const char *names[] = {SV_CTOR, SV_CREATE, SV_GETCONFIG, SV_OPENDEVICE, SV_CLOSE, SV_ABORT, SV_GETCOMMAND, SV_COMPLETE};
	void **slots[] = {(void **)&l->ctor, (void **)&l->create, (void **)&l->getconfig, (void **)&l->opendevice,
		(void **)&l->close, (void **)&l->abort, (void **)&l->getcommand, (void **)&l->complete};
	for (int i = 0; i < 8; i++) {
		*slots[i] = dlsym(h, names[i]);
		if (!*slots[i]) {
			strncpy(err, names[i], errlen - 1);
			free(l); // the handle stays: dlclose of a C++ library is not worth its risks
			return NULL;
		}
	}
	l->dtor = (sv_ctor_fn)dlsym(h, SV_DTOR);
	return l;
}

// The object is the class's one private pointer (vdi.h); 64 bytes leave room to spare.
#define SV_OBJECT_SIZE 64

static void *sv_new(sv_lib *l) {
	void *o = calloc(1, SV_OBJECT_SIZE);
	if (o) l->ctor(o);
	return o;
}
static void sv_delete(sv_lib *l, void *o) {
	if (l->dtor) {
		l->dtor(o);
		free(o);
	}
}
static int sv_create(sv_lib *l, void *o, char *name, sv_config *c) { return l->create(o, name, c); }
static int sv_getconfig(sv_lib *l, void *o, long long ms, sv_config *c) { return l->getconfig(o, (time_t)ms, c); }
static int sv_opendevice(sv_lib *l, void *o, char *name, void **dev) { return l->opendevice(o, name, dev); }
static int sv_close(sv_lib *l, void *o) { return l->close(o); }
static int sv_abort(sv_lib *l, void *o) { return l->abort(o); }
static int sv_getcommand(sv_lib *l, void *dev, long long ms, sv_command **cmd) { return l->getcommand(dev, (time_t)ms, cmd); }
static int sv_complete(sv_lib *l, void *dev, sv_command *cmd, int code, unsigned long bytes, int64_t pos) {
	return l->complete(dev, cmd, code, bytes, pos);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

// Open loads the VDI client library at path ("" = DefaultPath) and resolves its interface.
// A library that is missing or lacks a member is vdi.ErrNoPlatform, with what to do.
func Open(path string) (vdi.Platform, error) {
	if path == "" {
		path = DefaultPath
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var errbuf [512]C.char
	lib := C.sv_load(cpath, &errbuf[0], C.size_t(len(errbuf)))
	if lib == nil {
		msg := C.GoString(&errbuf[0])
		if strings.HasPrefix(msg, "_Z") {
			return nil, fmt.Errorf("%w: %s has no %s: not SQL Server's VDI client library, or an incompatible version", vdi.ErrNoPlatform, path, msg)
		}
		return nil, fmt.Errorf("%w: cannot load %s (%s): install SQL Server on Linux (mssql-server ships it), or configure the library's path", vdi.ErrNoPlatform, path, msg)
	}
	return &Platform{path: path, lib: lib}, nil
}

// Platform is a loaded libsqlvdi.so.
type Platform struct {
	path string
	lib  *C.sv_lib
}

// Describe names the library and where it was loaded from.
func (p *Platform) Describe() string { return "libsqlvdi.so at " + p.path }

// NewSet constructs a ClientVirtualDeviceSet (the library's constructor, as `new
// ClientVirtualDeviceSet()` does).
func (p *Platform) NewSet() (vdi.DeviceSet, error) {
	obj := C.sv_new(p.lib)
	if obj == nil {
		return nil, fmt.Errorf("linuxvdi: allocate a ClientVirtualDeviceSet: %w", vdi.ErrMemory)
	}
	return &DeviceSet{lib: p.lib, obj: obj, cmds: map[*vdi.Command]*C.sv_command{}}, nil
}

// DeviceSet is one ClientVirtualDeviceSet. Its methods may be called from any goroutine;
// SignalAbort while others are blocked in GetConfiguration or GetCommand makes them return
// vdi.ErrAbort.
type DeviceSet struct {
	lib *C.sv_lib
	// mu guards obj and the devices: calls hold it shared, Close exclusively, so Close never
	// frees what a call is using.
	mu  sync.RWMutex
	obj unsafe.Pointer // nil once Close released it

	cmdMu sync.Mutex
	cmds  map[*vdi.Command]*C.sv_command // handed out, not completed
}

// Device is one ClientVirtualDevice; the library owns it and Close invalidates it.
type Device struct {
	set  *DeviceSet
	obj  unsafe.Pointer
	name string
}

func check(method string, hr C.int) error {
	if hr == 0 {
		return nil
	}
	return fmt.Errorf("libsqlvdi %s: %w", method, vdi.Error(uint32(int32(hr))))
}

// millis is a timeout as the library takes it: milliseconds, negative for no limit
// ([VDI-linux] GetConfiguration, GetCommand).
func millis(d time.Duration) C.longlong {
	switch {
	case d < 0:
		return -1
	case d > 0 && d < time.Millisecond:
		return 1
	}
	return C.longlong(d / time.Millisecond)
}

func (s *DeviceSet) enter() error {
	s.mu.RLock()
	if s.obj == nil {
		s.mu.RUnlock()
		return fmt.Errorf("linuxvdi: the device set was closed: %w", vdi.ErrProtocol)
	}
	return nil
}

// validName follows [VDI-linux] Create: any character but backslash (and, in a C string,
// NUL).
func validName(name string) error {
	if name == "" || strings.ContainsAny(name, "\\\x00") {
		return fmt.Errorf("linuxvdi: virtual device name %q: empty or has a backslash or NUL: %w", name, vdi.ErrInvalid)
	}
	return nil
}

// Create creates the set name. SQL Server on Linux has no named instances: instance must be
// "" or MSSQLSERVER (the default instance's name), else vdi.ErrInstanceName.
func (s *DeviceSet) Create(instance, name string, cfg vdi.Config) error {
	if instance != "" && !strings.EqualFold(instance, "MSSQLSERVER") {
		return fmt.Errorf("linuxvdi: SQL Server on Linux has no named instances (asked for %q): %w", instance, vdi.ErrInstanceName)
	}
	if err := validName(name); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	raw := toRaw(cfg)
	defer C.free(unsafe.Pointer(raw))
	return check("ClientVirtualDeviceSet::Create", C.sv_create(s.lib, s.obj, cname, raw))
}

// GetConfiguration waits up to timeout (negative: no limit) for SQL Server to open the set.
func (s *DeviceSet) GetConfiguration(timeout time.Duration) (vdi.Config, error) {
	if err := s.enter(); err != nil {
		return vdi.Config{}, err
	}
	defer s.mu.RUnlock()
	raw := (*C.sv_config)(C.calloc(1, C.size_t(unsafe.Sizeof(C.sv_config{}))))
	defer C.free(unsafe.Pointer(raw))
	if err := check("ClientVirtualDeviceSet::GetConfiguration", C.sv_getconfig(s.lib, s.obj, millis(timeout), raw)); err != nil {
		return vdi.Config{}, err
	}
	return fromRaw(raw), nil
}

// OpenDevice opens the device name of the set (vdi.ErrOpen: every device is open).
func (s *DeviceSet) OpenDevice(name string) (vdi.Device, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	dev := (*unsafe.Pointer)(C.calloc(1, C.size_t(unsafe.Sizeof(unsafe.Pointer(nil)))))
	defer C.free(unsafe.Pointer(dev))
	if err := check("ClientVirtualDeviceSet::OpenDevice", C.sv_opendevice(s.lib, s.obj, cname, dev)); err != nil {
		return nil, err
	}
	if *dev == nil {
		return nil, fmt.Errorf("libsqlvdi ClientVirtualDeviceSet::OpenDevice(%q) returned no device: %w", name, vdi.ErrUnexpected)
	}
	return &Device{set: s, obj: *dev, name: name}, nil
}

// SignalAbort aborts the set; blocked calls return vdi.ErrAbort.
func (s *DeviceSet) SignalAbort() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return check("ClientVirtualDeviceSet::SignalAbort", C.sv_abort(s.lib, s.obj))
}

// closeGrace is how long Close waits for calls in flight before it aborts the set so they
// return (in the normal sequence none is in flight).
const closeGrace = time.Second

// Close closes the set and frees it; later calls fail. Calls in flight are waited for, and
// after a second aborted so that they return. vdi.ErrOpen: devices were still open (the
// library aborted the set). A set never created closes without error.
func (s *DeviceSet) Close() error {
	deadline := time.Now().Add(closeGrace)
	aborted := false
	for !s.mu.TryLock() {
		if !aborted && time.Now().After(deadline) {
			_ = s.SignalAbort()
			aborted = true
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer s.mu.Unlock()
	if s.obj == nil {
		return nil
	}
	err := check("ClientVirtualDeviceSet::Close", C.sv_close(s.lib, s.obj))
	if errors.Is(err, vdi.ErrProtocol) {
		err = nil // VD_E_PROTOCOL: the set was never created; nothing to close
	}
	C.sv_delete(s.lib, s.obj)
	s.obj = nil
	s.cmdMu.Lock()
	clear(s.cmds)
	s.cmdMu.Unlock()
	return err
}

// GetCommand waits up to timeout (negative: no limit; 0: poll) for the next command. The
// command's Buffer is the library's memory: valid until CompleteCommand, never after Close.
func (d *Device) GetCommand(timeout time.Duration) (*vdi.Command, error) {
	s := d.set
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	slot := (**C.sv_command)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(slot))
	if err := check("ClientVirtualDevice::GetCommand", C.sv_getcommand(s.lib, d.obj, millis(timeout), slot)); err != nil {
		return nil, err
	}
	raw := *slot
	if raw == nil {
		return nil, fmt.Errorf("libsqlvdi ClientVirtualDevice::GetCommand returned no command: %w", vdi.ErrUnexpected)
	}
	cmd := &vdi.Command{Code: vdi.CommandCode(raw.commandCode), Position: int64(raw.position)}
	if raw.size > 0 && raw.buffer != nil {
		cmd.Buffer = unsafe.Slice((*byte)(unsafe.Pointer(raw.buffer)), int(raw.size))
	}
	s.cmdMu.Lock()
	s.cmds[cmd] = raw
	s.cmdMu.Unlock()
	return cmd, nil
}

// CompleteCommand hands cmd back with its outcome; its Buffer is the library's again.
func (d *Device) CompleteCommand(cmd *vdi.Command, completionCode uint32, bytesTransferred uint32, position int64) error {
	s := d.set
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	s.cmdMu.Lock()
	raw, ok := s.cmds[cmd]
	delete(s.cmds, cmd)
	s.cmdMu.Unlock()
	if !ok {
		return fmt.Errorf("linuxvdi: CompleteCommand of a command this set did not hand out, or completed twice: %w", vdi.ErrInvalid)
	}
	return check("ClientVirtualDevice::CompleteCommand",
		C.sv_complete(s.lib, d.obj, raw, C.int(int32(completionCode)), C.ulong(bytesTransferred), C.int64_t(position)))
}

// Name is the device's name as OpenDevice got it.
func (d *Device) Name() string { return d.name }

// toRaw copies cfg into C memory the caller frees.
func toRaw(cfg vdi.Config) *C.sv_config {
	raw := (*C.sv_config)(C.calloc(1, C.size_t(unsafe.Sizeof(C.sv_config{}))))
	f := [11]uint32{cfg.DeviceCount, cfg.Features, cfg.PrefixZoneSize, cfg.Alignment, cfg.SoftFileMarkBlockSize,
		cfg.EOMWarningSize, cfg.ServerTimeOut, cfg.BlockSize, cfg.MaxIODepth, cfg.MaxTransferSize, cfg.BufferAreaSize}
	for i, v := range f {
		raw.f[i] = C.uint32_t(v)
	}
	return raw
}

func fromRaw(raw *C.sv_config) vdi.Config {
	var f [11]uint32
	for i := range f {
		f[i] = uint32(raw.f[i])
	}
	return vdi.Config{DeviceCount: f[0], Features: f[1], PrefixZoneSize: f[2], Alignment: f[3], SoftFileMarkBlockSize: f[4],
		EOMWarningSize: f[5], ServerTimeOut: f[6], BlockSize: f[7], MaxIODepth: f[8], MaxTransferSize: f[9], BufferAreaSize: f[10]}
}

var (
	_ vdi.Platform  = (*Platform)(nil)
	_ vdi.DeviceSet = (*DeviceSet)(nil)
	_ vdi.Device    = (*Device)(nil)
)
