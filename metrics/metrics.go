package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Metrics is the daemon's registry: the scrape-time collector, the Go
// runtime's and the process's own series, and the reconcile histogram the
// daemon feeds.
type Metrics struct {
	// reg is what a scrape serves: the registry's families and the
	// collector's.
	reg                 gatherer
	reconcile, podStart prometheus.Histogram
	pipeline            pipeline
	log                 *slog.Logger
}

// New returns the registry for src and node.
func New(src Source, node Node, log *slog.Logger) *Metrics {
	return newMetrics(src, node, log, "/proc")
}

func newMetrics(src Source, node Node, log *slog.Logger, proc string) *Metrics {
	if log == nil {
		log = slog.Default()
	}
	m := &Metrics{
		reg: gatherer{reg: prometheus.NewRegistry(), c: &collector{src: src, node: node, log: log, proc: proc}},
		reconcile: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "berth_reconcile_duration_seconds",
			Help: "Duration in seconds of a reconcile pass: reading the manifest directory, planning, and acting on the pods.",
			// 1 ms to 16 s
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		podStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "berth_pod_start_duration_seconds",
			Help: "Duration in seconds from the reconcile pass that saw a pod's manifest to its containers' start, as the kubelet's kubelet_pod_start_duration_seconds.",
			// 10 ms to 82 s
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		pipeline: newPipeline(),
		log:      log,
	}
	m.reg.reg.MustRegister(m.pipeline.collectors()...)
	m.reg.reg.MustRegister(
		m.reconcile,
		m.podStart,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// ObserveReconcile records one reconcile pass's duration.
func (m *Metrics) ObserveReconcile(d time.Duration) { m.reconcile.Observe(d.Seconds()) }

// ObservePodStart records one pod's start duration.
func (m *Metrics) ObservePodStart(d time.Duration) { m.podStart.Observe(d.Seconds()) }

// Handler serves the registry in the Prometheus exposition formats,
// compressed with gzipFast when the client accepts gzip.
func (m *Metrics) Handler() http.Handler {
	return gzipFast(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:           slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:      promhttp.ContinueOnError,
		DisableCompression: true,
	}))
}

// gatherer is the registry's families and the collector's, sorted by
// name as the registry sorts its own. The registry is gathered
// meanwhile the collector reads the pods.
type gatherer struct {
	reg *prometheus.Registry
	c   *collector
}

func (g gatherer) Gather() ([]*dto.MetricFamily, error) {
	var (
		fams []*dto.MetricFamily
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		fams, err = g.reg.Gather()
	}()
	own := g.c.gather()
	<-done
	names := make(map[string]bool, len(fams))
	for _, f := range fams {
		names[f.GetName()] = true
	}
	for _, f := range own {
		if names[f.GetName()] {
			err = errors.Join(err, fmt.Errorf("metric family %s is both the registry's and the collector's", f.GetName()))
			continue
		}
		fams = append(fams, f)
	}
	slices.SortFunc(fams, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return fams, err
}
