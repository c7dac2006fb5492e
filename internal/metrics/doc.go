// Package metrics is sqlvault's Prometheus instrumentation: the registry a process serves at
// /metrics, the catalogue of every series the product exports, the adapter that turns the
// Temporal SDK's metrics into Prometheus series, and the instruments both roles share (the
// vault store's operations).
//
// # One registry per process
//
// The worker makes one *prometheus.Registry (NewRegistry) and passes it down: to the Temporal
// client (NewTemporalHandler), to the vault store (InstrumentStore), to the agent (NewAgent)
// and to the control side's catalog collector. Nothing registers on client_golang's global
// default registry, so tests build their own registry and see only what they made.
//
// # The catalogue
//
// Every product series is declared once, in Catalogue (series.go): name, type, help, labels,
// and the role whose /metrics serves it. Instruments are built from those declarations
// (Def.Counter, Def.Gauge, Def.Histogram, Def.Desc), so a series cannot be exported under a
// name the catalogue does not list, and the deploy/ rules and dashboard are checked against
// the catalogue (deploy_test.go). The workflows record a few series through the Temporal
// SDK's workflow metrics handler (replay-safe); their names live in internal/protocol
// (workflows may import nothing else of ours) and the catalogue lists them with the names
// the SDK adapter gives them (_total, _seconds).
//
// # Adding series later (RPO watchdog, restore drills)
//
// A later part adds its series the same way:
//
//  1. declare each one in Catalogue with its role and bounded labels (per item at most the
//     item's own labels — item, sql_instance, database — and a small enum such as kind or
//     outcome; never a point ID, run ID or error text);
//  2. build its instrument from the declaration (Catalogue lookup with MustDef) on the
//     registry the worker passes down, or record it from workflow code through
//     workflow.GetMetricsHandler with the name in internal/protocol;
//  3. only then may deploy/ use it: deploy_test.go fails on a name the catalogue lacks.
//
// Series nothing sets are not declared: an alert on a series that never appears would never
// fire, and would look like coverage.
package metrics
