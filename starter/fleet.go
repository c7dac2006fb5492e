package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// fleetStatus is `status --fleet`: every protected item's RPO against its target, worst
// first, from the RPO watchdog's latest report in the vault, or computed here when there is
// no report as recent as staleAfter (the watchdog is off or not running) or direct is set.
type fleetStatus struct {
	Source   string         `json:"source"` // watchdog or direct
	Sweep    string         `json:"sweep,omitempty"`
	At       time.Time      `json:"at"`
	Findings []fleetFinding `json:"findings"`
}

// fleetFinding is an item's RPO finding with its RTO evidence: the restore time its last
// restore drill measured (nil: never drilled, or no drill got as far as restoring it).
type fleetFinding struct {
	rpowatch.Finding
	LastRTO *fleetRTO `json:"lastRto,omitempty"`
}

// fleetRTO is the restore time a drill measured, and which drill measured it.
type fleetRTO struct {
	Seconds   float64   `json:"seconds"`
	Outcome   string    `json:"outcome"` // the drill's: passed, or failed (CHECKDB found damage)
	DrilledAt time.Time `json:"drilledAt"`
}

// rtoReaders bounds the drill listings read at once for a fleet: 2,000 items are 2,000
// listings, which one after another take a minute against Azure.
const rtoReaders = 8

// withLastRTO joins each finding with its item's last measured restore time: the last
// drill's, or, when that one failed before restoring, the last passed drill's (as the
// sqlvault_drill_restore_seconds series). One listing and at most two reads per item.
func withLastRTO(ctx context.Context, repo *vault.Repository, fs []rpowatch.Finding) ([]fleetFinding, error) {
	out := make([]fleetFinding, len(fs))
	errs := make([]error, len(fs))
	sem := make(chan struct{}, rtoReaders)
	var wg sync.WaitGroup
	for i, f := range fs {
		out[i].Finding = f
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			last, passed, err := repo.LastDrills(ctx, f.ItemID)
			if err != nil {
				errs[i] = fmt.Errorf("the last drill of %s: %w", itemName(f), err)
				return
			}
			for _, d := range []*protocol.DrillRecord{last, passed} {
				if d != nil && d.RestoreSeconds > 0 {
					out[i].LastRTO = &fleetRTO{Seconds: d.RestoreSeconds, Outcome: d.Outcome, DrilledAt: d.StartedAt}
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// fleetStatusOf reads the latest report, or judges the fleet at now (schedules nil: the
// schedules' reasons are not known).
func fleetStatusOf(ctx context.Context, repo *vault.Repository, now time.Time, staleAfter time.Duration, direct bool,
	schedules rpowatch.Schedules, warn io.Writer) (*fleetStatus, error) {
	if !direct {
		doc, err := repo.RPOReport(ctx)
		if err != nil {
			fmt.Fprintf(warn, "warning: the watchdog's report cannot be read (%v); judging the fleet here\n", err)
		}
		if doc != nil {
			var r rpowatch.Report
			switch {
			case json.Unmarshal(doc, &r) != nil:
				fmt.Fprintln(warn, "warning: the watchdog's report is not readable; judging the fleet here")
			case now.Sub(r.At) > staleAfter:
				fmt.Fprintf(warn, "note: the watchdog's last report is from %s (%s ago): is it running? (temporal workflow describe --workflow-id %s); judging the fleet here\n",
					r.At.Format(time.RFC3339), now.Sub(r.At).Round(time.Second), protocol.RPOWatchdogID)
			default:
				fs, err := withLastRTO(ctx, repo, r.Findings)
				if err != nil {
					return nil, err
				}
				return &fleetStatus{Source: "watchdog", Sweep: r.Sweep, At: r.At, Findings: fs}, nil
			}
		}
	}
	judged, err := rpowatch.JudgeAll(ctx, repo, now, schedules)
	if err != nil {
		return nil, err
	}
	fs, err := withLastRTO(ctx, repo, judged)
	if err != nil {
		return nil, err
	}
	return &fleetStatus{Source: "direct", At: now, Findings: fs}, nil
}

func printFleet(w io.Writer, st *fleetStatus) error {
	src := "judged now"
	if st.Source == "watchdog" {
		src = "the RPO watchdog's sweep"
	}
	fmt.Fprintf(w, "as of %s (%s)\n", st.At.UTC().Format(time.RFC3339), src)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tKIND\tLAST GOOD\tRPO NOW\tTARGET\tSTATE\tREASON\tLAST RTO")
	for _, f := range st.Findings {
		last := "-"
		if !f.LastGood.IsZero() {
			last = f.LastGood.UTC().Format("2006-01-02 15:04:05")
		}
		target := "-"
		if f.Target > 0 {
			target = f.Target.String()
		}
		reason := f.Reason
		if reason == "" {
			reason = "-"
		}
		rto := "-" // never measured: no drill restored the item yet
		if f.LastRTO != nil {
			rto = rtoText(f.LastRTO.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", itemName(f.Finding), f.Kind, last, f.RPO.Round(time.Second), target, f.State, reason, rto)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range st.Findings {
		if f.State != protocol.RPOStateOK && f.Detail != "" {
			fmt.Fprintf(w, "%s: %s\n", itemName(f.Finding), f.Detail)
		}
	}
	return nil
}

// rtoText is a measured restore time to the second, or to the millisecond under one (a
// small database restores in less, and "0s" would claim no time at all).
func rtoText(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func itemName(f rpowatch.Finding) string {
	if f.Instance == "" {
		return f.ItemID
	}
	return f.Instance + "/" + f.Database
}

// runFleetStatus is status --fleet.
func runFleetStatus(cmd *cobra.Command, g *globals, repo *vault.Repository, cfg *config.Config, now time.Time, direct bool) error {
	ctx := cmd.Context()
	var schedules rpowatch.Schedules
	if tc, err := dialTemporal(ctx, g, cfg); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: schedules not described (paused or missing ones are not named): %v\n", err)
	} else {
		defer tc.Close()
		schedules = rpowatch.TemporalSchedules(tc.ScheduleClient())
	}
	interval := cfg.Watchdog.Interval
	if interval <= 0 {
		interval = protocol.DefaultRPOWatchdogInterval
	}
	st, err := fleetStatusOf(ctx, repo, now, 3*interval, direct, schedules, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if g.jsonOut {
		return g.printJSON(cmd.OutOrStdout(), st)
	}
	return printFleet(cmd.OutOrStdout(), st)
}
