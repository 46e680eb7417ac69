package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/metrics"
	"github.com/berth-project/berth/netsetup"
	"github.com/berth-project/berth/pod"
	"github.com/berth-project/berth/probe"
	"github.com/berth-project/berth/reconciler"
)

// metricsSource lists the pods for a scrape: their status from the
// manager (every infra is asked, as for `berth get pods`) and where their
// cgroups and writable layers are.
type metricsSource struct {
	b        *backend
	cg       *cgroups.Manager
	stateDir string
}

var _ metrics.Source = metricsSource{}

func (s metricsSource) Pods(ctx context.Context) ([]metrics.Pod, error) {
	if err := s.b.waitRecovered(ctx); err != nil {
		return nil, err
	}
	var out []metrics.Pod
	for _, p := range s.b.mgr.Pods(ctx) {
		out = append(out, s.pod(p))
	}
	return out, nil
}

// pod maps one pod's view onto what the collectors read. A pod whose
// infra does not answer (Unknown) gets no network counters: its PID may
// no longer be its infra's.
func (s metricsSource) pod(v pod.View) metrics.Pod {
	m := v.Meta
	cgName := podid.KernelID(podid.ID(m.Namespace, m.Name))
	out := metrics.Pod{Namespace: m.Namespace, Name: m.Name, UID: m.UID, Phase: v.Phase}
	out.Cgroup, _ = s.cg.StatsDirs(cgName, "") // an invalid name has no cgroup: Path stays ""
	if !v.Spec.HostNetwork && v.Phase != kube.PodUnknown {
		out.NetPID, out.NetInterface = v.InfraPID, netsetup.PodInterface
	}
	l := pod.NewLayout(s.stateDir, "", "", m.Namespace, m.Name, m.UID)
	for _, cs := range append(append([]pod.ContainerView{}, v.InitContainers...), v.Containers...) {
		c := metrics.Container{Name: cs.Name, Image: cs.Image, Restarts: int(cs.RestartCount), State: metrics.StateWaiting,
			// the overlay's upper directory, as pod.makeDirs makes it
			Layer: filepath.Join(l.ContainerDir(cs.Name), "upper")}
		switch {
		case cs.State.Running != nil:
			c.State, c.StartedAt = metrics.StateRunning, cs.State.Running.StartedAt
		case cs.State.Terminated != nil:
			c.State = metrics.StateTerminated
		}
		c.Cgroup, _ = s.cg.StatsDirs(cgName, cs.Name)
		out.Containers = append(out.Containers, c)
	}
	return out
}

// probeResult is a probe run's result as prober_probe_total's label has
// it: a warning (a redirect not followed) is a success, as for the
// kubelet; an errored run (the probe could not run) is unknown.
func probeResult(r probe.Result) string {
	switch r {
	case probe.Success, probe.Warning:
		return metrics.ProbeSuccessful
	case probe.Failure:
		return metrics.ProbeFailed
	}
	return metrics.ProbeUnknown
}

// MetricsHandler implements api.MetricsBackend.
func (b *backend) MetricsHandler() http.Handler { return b.metrics.Handler() }

// timedSource notes when a reconcile pass begins (it reads the manifest
// directory first) so that OnPass can time the pass, and a pod's Created
// event its start. Passes run one at a time; OnPass and the creates (and
// their events) run inside the pass.
type timedSource struct {
	reconciler.Source
	began time.Time
}

// podStarted records the start duration of the pod a Created event is
// about: from the beginning of the pass that created it (which saw its
// manifest) to its containers' start, the "pod created" log line's total.
// The event is recorded at the end of the create, inside the pass.
func (t *timedSource) podStarted(e pod.Event, m *metrics.Metrics) {
	if e.Reason == kube.EventCreated && e.Container == "" && !t.began.IsZero() {
		m.ObservePodStart(time.Since(t.began))
	}
}

func (t *timedSource) Desired(ctx context.Context) ([]reconciler.Desired, map[string]bool, []error, error) {
	t.began = time.Now()
	return t.Source.Desired(ctx)
}

// serveMetricsTCP serves only GET /metrics on addr, without
// authentication (Prometheus scrapes it), until ctx ends.
func serveMetricsTCP(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (<-chan error, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve metrics on %s: %w", addr, err)
		}
	}()
	log.Warn("serving metrics over TCP without authentication", "addr", l.Addr().String())
	return errc, nil
}
