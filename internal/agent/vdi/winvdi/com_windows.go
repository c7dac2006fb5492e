//go:build windows && amd64

package winvdi

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	ole32                = windows.NewLazySystemDLL("ole32.dll")
	procCoInitializeEx   = ole32.NewProc("CoInitializeEx")
	procCoCreateInstance = ole32.NewProc("CoCreateInstance")
)

// mtaThread is one OS thread that entered COM's multithreaded apartment (MTA) and stays in it
// for the life of the process.
//
// Why: goroutines move between OS threads, and COM state is per thread. While any thread of
// the process is in the MTA, every thread that never initialized COM belongs to the MTA
// implicitly, so calls through an MTA object's vtable work from whichever thread a goroutine
// happens to run on. Microsoft's mthread sample relies on exactly this: the main thread calls
// CoInitializeEx(COINIT_MULTITHREADED) and creates the set, and threads that never initialize
// COM call OpenDevice, GetConfiguration and GetCommand on it. The object itself is created on
// this thread, which initialized COM explicitly.
//
// Assumption (one sample, plus COM's implicit-MTA rule): that sqlvdi.dll's class is registered
// free-threaded or "Both", so CoCreateInstance on an MTA thread hands back the object itself,
// not a proxy, and any thread may call it. A first run on a real server checks the class's
// ThreadingModel (HKCR\CLSID\{40700425-0080-11d2-851f-00c04fc21759}\InprocServer32).
type mtaThread struct {
	calls chan func()
}

var (
	mtaOnce sync.Once
	mta     *mtaThread
	errMTA  error
)

func startMTA() (*mtaThread, error) {
	mtaOnce.Do(func() {
		t := &mtaThread{calls: make(chan func())}
		ready := make(chan error)
		go t.run(ready)
		if errMTA = <-ready; errMTA == nil {
			mta = t
		}
	})
	return mta, errMTA
}

func (t *mtaThread) run(ready chan<- error) {
	// Never unlocked: the thread must stay in the MTA (and alive) for as long as the process
	// holds VDI objects. If initialization fails, returning with the thread locked ends it.
	runtime.LockOSThread()
	if err := procCoInitializeEx.Find(); err != nil {
		ready <- fmt.Errorf("ole32.dll: %w", err)
		return
	}
	hr, _, _ := procCoInitializeEx.Call(0, windows.COINIT_MULTITHREADED)
	if err := check("CoInitializeEx(COINIT_MULTITHREADED)", HRESULT(uint32(hr))); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for f := range t.calls {
		f()
	}
}

// do runs f on the MTA thread.
func (t *mtaThread) do(f func()) {
	done := make(chan struct{})
	t.calls <- func() {
		defer close(done)
		f()
	}
	<-done
}

// createDeviceSet is CoCreateInstance(CLSID_MSSQL_ClientVirtualDeviceSet, NULL,
// CLSCTX_INPROC_SERVER, IID_IClientVirtualDeviceSet2, &p), as every sample makes it (mthread,
// sqlpipe, bareos-fd): an in-process object from sqlvdi.dll.
func createDeviceSet() (unsafe.Pointer, error) {
	t, err := startMTA()
	if err != nil {
		return nil, err
	}
	if err := procCoCreateInstance.Find(); err != nil {
		return nil, fmt.Errorf("ole32.dll: %w", err)
	}
	var obj unsafe.Pointer
	var hr uintptr
	t.do(func() {
		hr, _, _ = procCoCreateInstance.Call(
			uintptr(unsafe.Pointer(&clsidClientVirtualDeviceSet)),
			0,
			windows.CLSCTX_INPROC_SERVER,
			uintptr(unsafe.Pointer(&iidClientVirtualDeviceSet2)),
			uintptr(unsafe.Pointer(&obj)))
	})
	if err := check("CoCreateInstance(CLSID_MSSQL_ClientVirtualDeviceSet)", HRESULT(uint32(hr))); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("CoCreateInstance(CLSID_MSSQL_ClientVirtualDeviceSet) returned no object: %w", ErrUnexpected)
	}
	return obj, nil
}

// comCall calls the method in vtable slot of the COM object obj, passing obj as "This" first
// (the x64 calling convention: every argument, DWORD or DWORDLONG or pointer, in one register
// or stack slot). The HRESULT is the low 32 bits of RAX; the upper half is not defined for a
// 32-bit return.
//
// uintptrescapes keeps what a pointer argument converted to uintptr points to alive and in
// place for the call, as x/sys/windows does for LazyProc.Call.
//
//go:uintptrescapes
func comCall(obj unsafe.Pointer, slot int, args ...uintptr) HRESULT {
	vtbl := *(*unsafe.Pointer)(obj)
	fn := *(*uintptr)(unsafe.Add(vtbl, uintptr(slot)*unsafe.Sizeof(uintptr(0))))
	r, _, _ := syscall.SyscallN(fn, append([]uintptr{uintptr(obj)}, args...)...)
	return HRESULT(uint32(r))
}

// release is IUnknown::Release; its result is the new reference count, not an HRESULT.
func release(obj unsafe.Pointer) {
	if obj != nil {
		comCall(obj, slotRelease)
	}
}
