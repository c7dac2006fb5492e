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
// The files without a build tag hold what the wire contract is (GUIDs, vtable slots, the C
// layouts of VDConfig and VDC_Command, command codes, feature bits, HRESULTs, Win32 completion
// codes) and are tested on every platform; the _windows files make the calls and are built
// for windows/amd64 only (the one platform SQL Server's sqlvdi.dll ships for, and the one
// whose calling convention passes a 64-bit DWORDLONG in a single register).
//
// Every constant names its sources next to it. A value confirmed by fewer than two
// independent sources says "assumption".
//
// Nothing in the product calls this package yet: the agent's data-path seam
// (internal/agent/datapath) decides how a VDI path uses it.
package winvdi
