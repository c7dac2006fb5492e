// Package control holds the control role's Temporal activities, on the control task queue
// next to the workflows: the vault catalog (items, policies, recovery points), the commit
// confirmation that makes a recovery point exist, restore planning, retention, and the
// Temporal Schedules of protected items. It never talks to SQL Server and never touches
// backup bytes; it links nothing of the agent role.
package control
