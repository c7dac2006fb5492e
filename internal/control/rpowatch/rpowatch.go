// Package rpowatch judges each protected item's RPO against its policy's target and names
// why a breached item is behind, in terms an operator (or the product) can act on. The RPO
// watchdog's activities, `sqlvault status --fleet` (directly when no watchdog report is
// fresh) and the breach series share it, so all three say the same thing.
//
// Reasons, first match wins: policy-missing; schedule-paused (a failover pauses an item's
// schedules, as may a person: named with the command that resumes it — never resumed here,
// since a failover paused it on purpose); schedule-missing (Reconcile recreates it: named
// with the command); schedule-stuck (the schedule has skipped runs and a backup it started is
// still running); no-full (nothing restorable: the next scheduled full or `sqlvault backup --type
// full` fixes it); chain-broken (points newer than the newest restorable instant: the next
// scheduled log backup takes a full itself, AutoFull — named so, with the command to take
// one now); backups-late (none of these: look at the failed Backup workflows).
package rpowatch

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Finding is one item's RPO as judged at a sweep: one row of the fleet table.
type Finding struct {
	ItemID   string        `json:"itemId"`
	Instance string        `json:"instance"`
	Database string        `json:"database"`
	Kind     string        `json:"kind"`               // the kind the target follows: log, or full
	LastGood time.Time     `json:"lastGood,omitempty"` // the newest restorable instant
	RPO      time.Duration `json:"rpo"`
	Target   time.Duration `json:"target"`
	State    string        `json:"state"`            // protocol.RPOState*
	Reason   string        `json:"reason,omitempty"` // protocol.RPOReason*, when breached
	Detail   string        `json:"detail,omitempty"` // what to do, in words
}

// Schedule is what Temporal says of one of the item's schedules.
type Schedule struct {
	Exists         bool
	Paused         bool
	Note           string // the pause note (who paused it)
	SkippedOverlap int
	// Running is how many of its workflows are running now.
	Running int
}

// Schedules describes a schedule by ID (the activity asks Temporal; the CLI too, or
// nothing when Temporal cannot be reached).
type Schedules func(ctx context.Context, id string) (Schedule, error)

// Judge judges one protected item at now from its point summaries and policy (nil: missing),
// asking schedules (nil: not known) only when it is breached, so a healthy fleet costs no
// schedule descriptions.
func Judge(ctx context.Context, it *vault.ProtectedItem, sums []vault.PointSummary, p *policy.Policy, now time.Time, schedules Schedules) (Finding, error) {
	f := Finding{ItemID: it.ItemID, Instance: it.Instance, Database: it.Database, Kind: policy.KindFull}
	if p == nil {
		f.State, f.Reason = protocol.RPOStateUnknown, protocol.RPOReasonPolicyMissing
		f.Detail = fmt.Sprintf("policy %q cannot be read: put it again (sqlvault policy put)", it.Policy)
		return f, nil
	}
	takesLog := it.AllowsKind(policy.KindLog) && p.Log != nil
	if takesLog {
		f.Kind = policy.KindLog
	}
	f.Target = p.RPOTarget(it.AllowsKind(policy.KindLog))
	points := make([]planner.Point, 0, len(sums))
	// newest is the newest point's start: a log restores up to its start (the planner's
	// restorable instants end there), so a point starting after the last restorable
	// instant is one the chain does not reach.
	var newest time.Time
	for _, s := range sums {
		points = append(points, s.Point())
		if s.StartTime.After(newest) {
			newest = s.StartTime
		}
	}
	if ranges := planner.Restorable(points); len(ranges) > 0 {
		last := ranges[len(ranges)-1]
		f.LastGood = last.To
		if last.To.Before(last.From) {
			f.LastGood = last.From
		}
		f.RPO = now.Sub(f.LastGood)
	} else {
		f.RPO = now.Sub(it.CreatedAt)
	}
	if f.RPO <= f.Target {
		f.State = protocol.RPOStateOK
		return f, nil
	}
	f.State = protocol.RPOStateBreached
	if schedules != nil {
		for _, kind := range []string{policy.KindFull, policy.KindDifferential, policy.KindLog} {
			if _, scheduled := p.Schedules()[kind]; !scheduled || !it.AllowsKind(kind) {
				continue
			}
			id := protocol.ItemScheduleID(it.ItemID, kind)
			s, err := schedules(ctx, id)
			if err != nil {
				return f, fmt.Errorf("describe schedule %s: %w", id, err)
			}
			switch {
			case !s.Exists:
				f.Reason = protocol.RPOReasonScheduleMissing
				f.Detail = fmt.Sprintf("schedule %s does not exist: recreate it with `sqlvault reconcile`", id)
			case s.Paused:
				f.Reason = protocol.RPOReasonSchedulePaused
				f.Detail = fmt.Sprintf("schedule %s is paused (%s): resume it with `temporal schedule toggle --schedule-id %s --unpause --reason \"...\"` once the database should be backed up from here",
					id, orDash(s.Note), id)
			case s.SkippedOverlap > 0 && s.Running > 0:
				f.Reason = protocol.RPOReasonScheduleStuck
				f.Detail = fmt.Sprintf("schedule %s skipped %d runs because a backup is still running: look at the running sqlvault.Backup of %s and cancel it if it is stalled (`temporal workflow list --query 'SqlvaultDatabase=\"%s\" AND ExecutionStatus=\"Running\"'`)",
					id, s.SkippedOverlap, it.Database, it.Database)
			default:
				continue
			}
			return f, nil
		}
	}
	backup := fmt.Sprintf("`sqlvault backup --instance %s --database %s --type full`", it.Instance, it.Database)
	switch {
	case f.LastGood.IsZero():
		f.Reason = protocol.RPOReasonNoFull
		f.Detail = "nothing is restorable yet: the next scheduled full makes it so; take one now with " + backup
	case newest.After(f.LastGood):
		f.Reason = protocol.RPOReasonChainBroken
		f.Detail = "backups newer than the last restorable instant do not chain (the log chain broke): the next scheduled log backup takes a full itself; take one now with " + backup
	default:
		f.Reason = protocol.RPOReasonBackupsLate
		f.Detail = "schedules run but no new restorable point: look at the failed sqlvault.Backup workflows of this database"
	}
	return f, nil
}

func orDash(s string) string {
	if s == "" {
		return "no note"
	}
	return s
}

// Worse orders findings worst first: breached before unknown before ok, then by how far
// past its target (RPO over target), then by item.
func Worse(a, b Finding) bool {
	ra, rb := rank(a.State), rank(b.State)
	if ra != rb {
		return ra < rb
	}
	oa, ob := over(a), over(b)
	if oa != ob {
		return oa > ob
	}
	return a.ItemID < b.ItemID
}

func rank(state string) int {
	switch state {
	case protocol.RPOStateBreached:
		return 0
	case protocol.RPOStateUnknown:
		return 1
	}
	return 2
}

func over(f Finding) float64 {
	if f.Target <= 0 {
		return 0
	}
	return float64(f.RPO) / float64(f.Target)
}

// Sort sorts findings worst first.
func Sort(fs []Finding) { sort.SliceStable(fs, func(i, j int) bool { return Worse(fs[i], fs[j]) }) }

// Report is a whole sweep, as stored in the vault (vault.RPOReportBlob).
type Report struct {
	Schema   string    `json:"schema"`
	Sweep    string    `json:"sweep"`
	At       time.Time `json:"at"`
	Findings []Finding `json:"findings"` // worst first
	// Changed says whether the breached items or their reasons differ from the report this
	// one replaced; kept so that a retried finish of the same sweep answers as the first did.
	Changed bool `json:"changed,omitempty"`
}

// ReportSchema is Report's schema tag.
const ReportSchema = "sqlvault.rpo-report/v1"

// Breached is the report's breached findings.
func (r *Report) Breached() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.State == protocol.RPOStateBreached {
			out = append(out, f)
		}
	}
	return out
}

// LoadPolicy reads and validates a policy (nil when missing or invalid).
func LoadPolicy(ctx context.Context, repo *vault.Repository, name string) *policy.Policy {
	doc, err := repo.Policy(ctx, name)
	if err != nil {
		return nil
	}
	var p policy.Policy
	if json.Unmarshal(doc, &p) != nil || p.Validate() != nil {
		return nil
	}
	return &p
}

// JudgeAll judges every protected item of the vault (the CLI's fallback without a fresh
// watchdog report), worst first.
func JudgeAll(ctx context.Context, repo *vault.Repository, now time.Time, schedules Schedules) ([]Finding, error) {
	items, err := repo.Items(ctx)
	if err != nil {
		return nil, err
	}
	policies := map[string]*policy.Policy{}
	var out []Finding
	for _, it := range items {
		if it.State != vault.ItemProtected {
			continue
		}
		p, seen := policies[it.Policy]
		if !seen {
			p = LoadPolicy(ctx, repo, it.Policy)
			policies[it.Policy] = p
		}
		sums, err := repo.ListPointSummaries(ctx, it.ItemID)
		if err != nil {
			return nil, fmt.Errorf("item %s: %w", it.ItemID, err)
		}
		f, err := Judge(ctx, it, sums, p, now, schedules)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	Sort(out)
	return out, nil
}
