// Package winvdi is the Windows client of SQL Server's Virtual Device Interface (VDI): the COM
// component in sqlvdi.dll (CLSID_MSSQL_ClientVirtualDeviceSet, IID_IClientVirtualDeviceSet2),
// called from Go without cgo through its vtables.
//
// The protocol, in the order a client drives it (Microsoft's "Virtual device interface (VDI)
// reference", MicrosoftDocs/sql-docs docs/relational-databases/backup-restore/vdi-reference/):
//
//	set, _ := NewDeviceSet()                 // CoCreateInstance
//	set.CreateEx(instance, name, &Config{DeviceCount: n})
//	// another connection runs BACKUP … TO VIRTUAL_DEVICE = N'name' [, VIRTUAL_DEVICE = N'name2' …]
//	cfg, _ := set.GetConfiguration(timeout)  // waits for SQL Server to open the set
//	dev, _ := set.OpenDevice(name)           // the first device has the set's name
//	for { cmd, err := dev.GetCommand(timeout); …; dev.CompleteCommand(cmd, code, n, 0) }
//	// GetCommand returns ErrClose when SQL Server is done with the device
//	set.Close()
//
// The files without a build tag hold the wire contract (GUIDs, vtable slots, the C layouts of
// VDConfig and VDC_Command, command codes, feature bits, HRESULTs, Win32 completion codes) and
// DeviceSet/Device's own logic (validation, error mapping, the order of calls, Close against
// calls in flight) over a small interface per COM object; they are tested on every platform
// against a fake of that interface. The _windows files are that interface's real
// implementation — calls through the COM vtables — built for windows/amd64 only (the platform
// sqlvdi.dll ships for, and one whose calling convention passes a 64-bit DWORDLONG in a single
// register). Elsewhere NewDeviceSet returns ErrPlatform. FIRST_RUN.md lists what only a real
// server can confirm.
//
// Every constant names its sources next to it. A value confirmed by fewer than two
// independent sources says "assumption".
//
// Device.VDI() is the device internal/agent/vdi's command loop (Pump) runs, and Open's
// Platform is the transport the VDI data path (internal/agent/datapath/vdipath) runs on:
// the worker opens it on Windows for instances configured with dataPath: vdi.
package winvdi
