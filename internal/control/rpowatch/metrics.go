package rpowatch

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sqlvault/sqlvault/internal/metrics"
)

// Metrics exports the last report: one breach series per breached item (at most one per
// item: bounded by the fleet) and the watchdog's own health. Set replaces them all, so an
// item that recovers loses its series.
type Metrics struct {
	breached, sweep, items, breaches *prometheus.Desc

	mu   sync.Mutex
	last *Report
}

// NewMetrics makes the collector and registers it on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		breached: metrics.MustDef(metrics.ItemRPOBreached).Desc(),
		sweep:    metrics.MustDef(metrics.RPOWatchdogSweep).Desc(),
		items:    metrics.MustDef(metrics.RPOWatchdogItems).Desc(),
		breaches: metrics.MustDef(metrics.RPOWatchdogBreaches).Desc(),
	}
	reg.MustRegister(m)
	return m
}

// Set makes r the report the series show.
func (m *Metrics) Set(r *Report) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = r
}

func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.breached, m.sweep, m.items, m.breaches} {
		ch <- d
	}
}

func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	r := m.last
	m.mu.Unlock()
	if r == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	b := r.Breached()
	for _, f := range b {
		gauge(m.breached, 1, f.ItemID, f.Instance, f.Database, f.Kind, f.Reason)
	}
	gauge(m.sweep, float64(r.At.UnixNano())/1e9)
	gauge(m.items, float64(len(r.Findings)))
	gauge(m.breaches, float64(len(b)))
}
