// Package agent holds the agent role's Temporal activities: the work that runs on each SQL
// Server VM, next to the instance, on the task queue sqlvault-agent-<vm>: discovery, the
// backup and restore streams through the agent's blob endpoint, restore as files,
// verification, scratch clean-up. It is the only side that talks to SQL Server or touches
// backup bytes. It links nothing of the control role: what it must know of the vault's
// catalog comes in its inputs. New builds one from its Options; the worker, the e2e harness
// and the benchmarks all use it.
package agent
