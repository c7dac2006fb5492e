// Package vdisim holds the tests that run the product's Linux VDI client
// (internal/agent/vdi/linuxvdi), loading the stand-in libsqlvdi.so through its real dlopen
// path, against the SQL Server simulator's BACKUP … TO VIRTUAL_DEVICE and RESTORE … FROM
// VIRTUAL_DEVICE. They live here because the simulator's own tests may not import product
// packages (internal/testworld/archrules). Its tests are the package.
package vdisim
