package metrics

import "github.com/prometheus/client_golang/prometheus"

// pipeline holds the counters the daemon feeds as things happen: probe
// runs, image pulls and events. Unlike the collector's series they cannot
// be read back from the host at scrape time.
type pipeline struct {
	probes      *prometheus.CounterVec
	pulls       *prometheus.CounterVec
	pulledBytes prometheus.Counter
	events      *prometheus.CounterVec
}

// The kubelet's prober_probe_total results.
const (
	ProbeSuccessful = "successful"
	ProbeFailed     = "failed"
	ProbeUnknown    = "unknown"
)

func newPipeline() pipeline {
	return pipeline{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prober_probe_total",
			Help: "Cumulative number of a liveness, readiness or startup probe for a container by result.",
		}, []string{"probe_type", "result", "container", "pod", "namespace", "pod_uid"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_image_pulls_total",
			Help: "Number of image pulls from registries that ended, by result (success, failure); pods sharing a download count once.",
		}, []string{"result"}),
		pulledBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_image_pull_bytes_total",
			Help: "Bytes downloaded by image pulls; blobs the store already had are not downloaded.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_events_total",
			Help: "Number of events the daemon recorded, by type and reason (container events the infras keep are not counted).",
		}, []string{"type", "reason"}),
	}
}

func (p pipeline) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.probes, p.pulls, p.pulledBytes, p.events}
}

// ObserveProbe counts one probe run: probeType as the kubelet's label has
// it (Liveness, Readiness, Startup), result one of Probe*.
func (m *Metrics) ObserveProbe(probeType, result, container, namespace, pod, uid string) {
	m.pipeline.probes.WithLabelValues(probeType, result, container, pod, namespace, uid).Inc()
}

// ForgetPod drops the probe series of a pod that was removed, so that
// their number follows the pods that exist, as the kubelet's does.
func (m *Metrics) ForgetPod(namespace, pod string) {
	m.pipeline.probes.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "pod": pod})
}

// ObservePull counts one ended image pull and the bytes it downloaded.
func (m *Metrics) ObservePull(ok bool, downloaded int64) {
	result := "success"
	if !ok {
		result = "failure"
	}
	m.pipeline.pulls.WithLabelValues(result).Inc()
	m.pipeline.pulledBytes.Add(float64(downloaded))
}

// ObserveEvent counts one event the daemon recorded.
func (m *Metrics) ObserveEvent(typ, reason string) {
	m.pipeline.events.WithLabelValues(typ, reason).Inc()
}
