package metrics

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// NewTemporalHandler is the Temporal SDK's metrics handler (client.Options.MetricsHandler)
// exporting on reg: the SDK's own series (task latencies, activity failures, pollers,
// requests …) and those the workflows record (protocol.MetricBackups …).
//
// Why not the SDK's tally integration: go.temporal.io/sdk/contrib/tally is not served by
// the module proxy this project builds from, and the OpenTelemetry path would bring a
// dozen modules and its own renaming of the names. The SDK documents client.MetricsHandler
// as the interface such integrations implement (contrib/tally is one small adapter of it);
// this is another, onto client_golang directly, with Prometheus' naming conventions:
//
//   - a counter named c is exported as c_total;
//   - a timer named t is a histogram t_seconds (buckets from the catalogue for our own
//     series, sdkLatencyBuckets for the SDK's);
//   - a gauge keeps its name.
//
// Tags become labels. The SDK may use different tag sets for one metric name; since
// Prometheus needs one label set per family, missing labels are exported empty, which
// Prometheus reads as absent.
func NewTemporalHandler(reg prometheus.Registerer) client.MetricsHandler {
	c := &sdkCollector{series: map[string]*sdkSeries{}}
	reg.MustRegister(c)
	return &sdkHandler{c: c}
}

type sdkHandler struct {
	c    *sdkCollector
	tags map[string]string
}

func (h *sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	maps.Copy(merged, h.tags)
	maps.Copy(merged, tags)
	return &sdkHandler{c: h.c, tags: merged}
}

func (h *sdkHandler) Counter(name string) client.MetricsCounter {
	s := h.c.get(sanitize(name)+"_total", CounterType, h.tags)
	return counterFunc(func(d int64) { s.add(float64(d)) })
}

func (h *sdkHandler) Gauge(name string) client.MetricsGauge {
	s := h.c.get(sanitize(name), GaugeType, h.tags)
	return gaugeFunc(s.set)
}

func (h *sdkHandler) Timer(name string) client.MetricsTimer {
	s := h.c.get(sanitize(name)+"_seconds", HistogramType, h.tags)
	return timerFunc(func(d time.Duration) { s.observe(d.Seconds()) })
}

type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }

// sdkCollector holds every SDK series by name and label set, and exports them as constant
// metrics at each scrape.
type sdkCollector struct {
	mu     sync.Mutex
	series map[string]*sdkSeries // by name + "\xff" + sorted labels
}

type sdkSeries struct {
	name   string
	typ    Type
	labels map[string]string

	mu      sync.Mutex
	value   float64   // counter or gauge
	buckets []float64 // histogram upper bounds
	counts  []uint64  // per bucket (not cumulative)
	count   uint64
	sum     float64
}

func (c *sdkCollector) get(name string, typ Type, tags map[string]string) *sdkSeries {
	keys := slices.Sorted(maps.Keys(tags))
	var b strings.Builder
	b.WriteString(name)
	for _, k := range keys {
		b.WriteString("\xff" + k + "=" + tags[k])
	}
	key := b.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.series[key]; ok {
		return s
	}
	s := &sdkSeries{name: name, typ: typ, labels: make(map[string]string, len(tags))}
	for k, v := range tags {
		s.labels[sanitize(k)] = v
	}
	if typ == HistogramType {
		s.buckets = sdkLatencyBuckets
		if d, ok := Exported()[name]; ok && len(d.Buckets) > 0 {
			s.buckets = d.Buckets
		}
		s.counts = make([]uint64, len(s.buckets))
	}
	c.series[key] = s
	return s
}

func (s *sdkSeries) add(v float64) {
	s.mu.Lock()
	s.value += v
	s.mu.Unlock()
}

func (s *sdkSeries) set(v float64) {
	s.mu.Lock()
	s.value = v
	s.mu.Unlock()
}

func (s *sdkSeries) observe(v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	s.sum += v
	if i := sort.SearchFloat64s(s.buckets, v); i < len(s.buckets) {
		s.counts[i]++
	}
}

// Describe sends nothing: the SDK's series appear as it emits them (an unchecked collector).
func (c *sdkCollector) Describe(chan<- *prometheus.Desc) {}

func (c *sdkCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	all := slices.Collect(maps.Values(c.series))
	c.mu.Unlock()
	// One label set per family: the union of the label names its series use.
	names := map[string]map[string]bool{}
	for _, s := range all {
		if names[s.name] == nil {
			names[s.name] = map[string]bool{}
		}
		for k := range s.labels {
			names[s.name][k] = true
		}
	}
	descs := map[string]*prometheus.Desc{}
	labelNames := map[string][]string{}
	for name, set := range names {
		ln := slices.Sorted(maps.Keys(set))
		labelNames[name] = ln
		help := "Temporal SDK metric " + name + "."
		if d, ok := Exported()[name]; ok {
			help = d.Help
		}
		descs[name] = prometheus.NewDesc(name, help, ln, nil)
	}
	for _, s := range all {
		values := make([]string, len(labelNames[s.name]))
		for i, k := range labelNames[s.name] {
			values[i] = s.labels[k]
		}
		s.mu.Lock()
		var m prometheus.Metric
		var err error
		switch s.typ {
		case CounterType:
			m, err = prometheus.NewConstMetric(descs[s.name], prometheus.CounterValue, s.value, values...)
		case GaugeType:
			m, err = prometheus.NewConstMetric(descs[s.name], prometheus.GaugeValue, s.value, values...)
		case HistogramType:
			cum := make(map[float64]uint64, len(s.buckets))
			var run uint64
			for i, ub := range s.buckets {
				run += s.counts[i]
				cum[ub] = run
			}
			m, err = prometheus.NewConstHistogram(descs[s.name], s.count, s.sum, cum, values...)
		}
		s.mu.Unlock()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descs[s.name], err)
			continue
		}
		ch <- m
	}
}

// sanitize makes a metric or label name valid in Prometheus: the SDK's names are already
// ([a-z_]), but a tag from elsewhere might hold a dot or a dash.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, name)
}
