package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// NewRegistry is a process's registry: the Go runtime's and the process's own series
// (go_*, process_*: memory, goroutines, CPU, open files) and sqlvault_build_info, to which
// the roles add theirs.
func NewRegistry(version string, role string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	MustDef(BuildInfo).GaugeVec(reg).WithLabelValues(version, role).Set(1)
	return reg
}

// Handler serves reg in Prometheus' text (or OpenMetrics) format.
func Handler(reg *prometheus.Registry, log *zap.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: zapErrorLog{log}, Registry: reg})
}

type zapErrorLog struct{ log *zap.Logger }

func (l zapErrorLog) Println(v ...any) {
	if l.log != nil {
		l.log.Warn("metrics: gathering failed", zap.Any("error", v))
	}
}

// Server is the /metrics listener.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen binds listen and serves reg at /metrics (and nothing else) until Close.
func Listen(listen string, reg *prometheus.Registry, log *zap.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(reg, log))
	s := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && log != nil {
			log.Error("metrics listener stopped", zap.Error(err))
		}
	}()
	return s, nil
}

// Addr is the address bound (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving, letting a scrape in progress finish for a few seconds.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
