// Package acceptance runs sqlvault's core scenarios against a SQL Server the way a user
// drives the product: the worker binary (control and agent roles) with a configuration
// file, the starter CLI, and plain T-SQL for the workload and its digest. Nothing in it is
// simulator-specific, so the same test runs against any SQL Server it is given:
//
//   - SQLVAULT_ACCEPTANCE_DSN unset (`make test`): it starts the SQL Server simulator
//     (internal/sqlsim) in-process and uses it like any server.
//   - SQLVAULT_ACCEPTANCE_DSN set (`make acceptance`, docker-compose's acceptance profile):
//     it uses that server, and the agent's endpoint settings in SQLVAULT_ACCEPTANCE_ENDPOINT_*.
//
// The workload is a table in a scratch database, written between backups; its digest
// (SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(*))) is recorded at each instant and
// compared after each restore with the digest recorded for the restored instant. The README
// section "Acceptance suite" lists every variable.
package acceptance
