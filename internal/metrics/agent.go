package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Agent is the agent role's instruments. A nil *Agent records nothing, so the activities'
// unit tests and the benchmarks need none.
type Agent struct {
	streams     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	throughput  *prometheus.HistogramVec
	inProgress  *prometheus.GaugeVec
	backupRead  prometheus.Counter
	stored      prometheus.Counter
	restoreRead prometheus.Counter
	// BlocksInFlight counts blocks being sealed and staged now; the stripe writers add and
	// subtract (vault.StripeWriterOptions.InFlight) and a scrape reads it.
	BlocksInFlight atomic.Int64
}

// AgentSources are the agent's state read at each scrape: the endpoint's open sessions and
// the memory limit in force. Either may be nil (the series is then 0).
type AgentSources struct {
	EndpointSessions func() (backup, restore int)
	MemoryLimit      func() int64
}

// NewAgent registers the agent's series on reg.
func NewAgent(reg prometheus.Registerer, src AgentSources) *Agent {
	a := &Agent{
		streams:     MustDef(AgentStreams).CounterVec(reg),
		duration:    MustDef(AgentStreamDuration).HistogramVec(reg),
		throughput:  MustDef(AgentStreamThroughput).HistogramVec(reg),
		inProgress:  MustDef(AgentStreamsInProgress).GaugeVec(reg),
		backupRead:  MustDef(AgentBackupReadBytes).CounterVec(reg).WithLabelValues(),
		stored:      MustDef(AgentBackupStoredBytes).CounterVec(reg).WithLabelValues(),
		restoreRead: MustDef(AgentRestoreReadBytes).CounterVec(reg).WithLabelValues(),
	}
	MustDef(AgentBlocksInFlight).GaugeFunc(reg, func() float64 { return float64(a.BlocksInFlight.Load()) })
	MustDef(AgentMemoryLimit).GaugeFunc(reg, func() float64 {
		if src.MemoryLimit == nil {
			return 0
		}
		return float64(src.MemoryLimit())
	})
	reg.MustRegister(&sessionsCollector{desc: MustDef(AgentEndpointSessions).Desc(), count: src.EndpointSessions})
	// Both directions are present from the start, so "nothing running" is a 0, not a gap.
	for _, d := range []string{DirectionBackup, DirectionRestore} {
		a.inProgress.WithLabelValues(d)
	}
	return a
}

// Stream directions (label direction).
const (
	DirectionBackup  = "backup"
	DirectionRestore = "restore"
)

// Stream is one BACKUP or RESTORE stream being measured.
type Stream struct {
	a         *Agent
	direction string
	typ       string
	start     time.Time
	bytes     atomic.Int64
}

// StartStream begins measuring a stream of direction and type (a backup type, or the
// restored point's type).
func (a *Agent) StartStream(direction, typ string) *Stream {
	if a == nil {
		return nil
	}
	a.inProgress.WithLabelValues(direction).Inc()
	return &Stream{a: a, direction: direction, typ: typ, start: time.Now()}
}

// Read counts n bytes moved through the stream: received from SQL Server (backup) or
// handed to it (restore).
func (s *Stream) Read(n int) {
	if s == nil || n <= 0 {
		return
	}
	s.bytes.Add(int64(n))
	if s.direction == DirectionBackup {
		s.a.backupRead.Add(float64(n))
	} else {
		s.a.restoreRead.Add(float64(n))
	}
}

// Stored counts n bytes of a stripe committed to the vault.
func (s *Stream) Stored(n int64) {
	if s == nil || n <= 0 {
		return
	}
	s.a.stored.Add(float64(n))
}

// End records the stream's outcome and duration (and, on success, its throughput). Call it
// once.
func (s *Stream) End(outcome string) {
	if s == nil {
		return
	}
	d := time.Since(s.start)
	s.a.inProgress.WithLabelValues(s.direction).Dec()
	s.a.streams.WithLabelValues(s.direction, s.typ, outcome).Inc()
	s.a.duration.WithLabelValues(s.direction, s.typ, outcome).Observe(d.Seconds())
	if b := s.bytes.Load(); outcome == protocol.OutcomeSuccess && b > 0 && d > 0 {
		s.a.throughput.WithLabelValues(s.direction).Observe(float64(b) / d.Seconds())
	}
}

// InFlight is the counter stripe writers keep (nil for a nil Agent: none kept).
func (a *Agent) InFlight() *atomic.Int64 {
	if a == nil {
		return nil
	}
	return &a.BlocksInFlight
}

type sessionsCollector struct {
	desc  *prometheus.Desc
	count func() (backup, restore int)
}

func (c *sessionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sessionsCollector) Collect(ch chan<- prometheus.Metric) {
	var b, r int
	if c.count != nil {
		b, r = c.count()
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(b), "backup")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(r), "restore")
}
