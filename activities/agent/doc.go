// Package agent holds the agent role's Temporal activities: the work that runs on each SQL
// Server VM, next to the instance, on the task queue sqlvault-agent-<vm>: discovery, the
// backup and restore streams through the instance's data path (package datapath: today the
// agent's blob endpoint, BACKUP … TO URL; VDI is issue 14), restore as files,
// verification, scratch clean-up. It is the only side that talks to SQL Server or touches
// backup bytes. It links nothing of the control role: what it must know of the vault's
// catalog comes in its inputs. New builds one from its Options; the worker, the e2e harness
// and the benchmarks all use it.
package agent
