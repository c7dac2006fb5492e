// Package linuxvdi is the Linux client of SQL Server's Virtual Device Interface: the C++
// classes ClientVirtualDeviceSet and ClientVirtualDevice of libsqlvdi.so ("SQL Server on
// Linux VDI client SDK specification"; the declarations in Microsoft's Linux sample, vdi.h).
// It implements vdi.Platform, so the data path runs on it as on Windows' COM client.
//
// The library is loaded at run time (dlopen, default DefaultPath), never linked: a small C
// shim in the cgo preamble resolves the classes' member functions by their Itanium C++ ABI
// names with dlsym and calls them as the plain functions they are (non-virtual members take
// the object as a hidden first argument), so the product binary starts on machines without
// SQL Server and reports ErrNoPlatform only when VDI is asked for. The real client is built
// for linux with cgo; elsewhere, or with CGO_ENABLED=0, Open returns vdi.ErrNoPlatform.
//
// Every return code is a vdi.Error (the library's HRESULT), so errors.Is(err, vdi.ErrClose)
// and the like hold. Buffers in the commands GetCommand returns are the library's memory,
// not copies: valid until that command's CompleteCommand, and never after the set's Close.
//
// Tests run this package against the project's stand-in library
// (internal/sqlsim/vdistandin), built with the machine's g++ and loaded through the same
// dlopen path, talking to the SQL Server simulator.
package linuxvdi

// DefaultPath is where SQL Server on Linux installs its VDI client library ([VDI-linux]).
const DefaultPath = "/opt/mssql/lib/libsqlvdi.so"
