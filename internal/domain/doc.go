// Package domain is what sqlvault means by a backup, independent of where it is read from
// or stored: the LSN, the backup kinds, the recovery-point record, and the chain rules that
// say which backups restore after which (a log after a base or another log, a differential
// on its full, recovery forks, database incarnations).
//
// The rules live here once. The control side's restore planner and retention, and the
// agent's check before a log or differential backup, all decide with them, so they cannot
// disagree about what continues a chain. The package imports only the standard library:
// the vault, the wire types and the SQL Server client convert their own records to Point
// (one function each) and leave the rules to this package.
package domain
