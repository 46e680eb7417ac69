package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berth-project/berth/cgroups"
)

type fakeSource struct {
	pods []Pod
	err  error
}

func (f fakeSource) Pods(context.Context) ([]Pod, error) { return f.pods, f.err }

// scrape serves the registry once and parses the answer with
// Prometheus' own text parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// find returns the value of the one series of name whose labels include
// want, failing unless there is exactly one.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	var vals []float64
	for _, m := range fams[name].GetMetric() {
		if hasLabels(m, want) {
			vals = append(vals, value(m))
		}
	}
	if len(vals) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(vals))
	}
	return vals[0]
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	return 0
}

func fixtureDirs(mode cgroups.Mode, dir, path string) cgroups.StatsDirs {
	d := filepath.Join("..", "cgroups", "testdata", "stats", dir)
	return cgroups.StatsDirs{Mode: mode, Path: path, CPU: d, Memory: d, Pids: d}
}

func TestCollectorFixtures(t *testing.T) {
	layer := t.TempDir()
	if err := os.WriteFile(filepath.Join(layer, "f"), make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	started := time.Unix(1700000000, 500000000)
	src := fakeSource{pods: []Pod{
		{Namespace: "ns", Name: "v1pod", UID: "u1", Phase: "Running", Cgroup: fixtureDirs(cgroups.V1, "v1", "/berth/ns_v1pod"),
			NetPID: 4242, NetInterface: "eth0",
			Containers: []Container{{Name: "app", Image: "demo:1", State: StateRunning, Restarts: 3, StartedAt: started,
				Cgroup: fixtureDirs(cgroups.V1, "v1", "/berth/ns_v1pod/app"), Layer: layer}}},
		{Namespace: "ns", Name: "v2pod", UID: "u2", Phase: "Pending",
			Cgroup: fixtureDirs(cgroups.V2, "v2", "/berth/ns_v2pod"),
			Containers: []Container{
				{Name: "app", Image: "demo:2", State: StateWaiting, Cgroup: fixtureDirs(cgroups.V2, "v2", "/berth/ns_v2pod/app")},
				{Name: "gone", Image: "demo:2", State: StateTerminated, Cgroup: fixtureDirs(cgroups.V2, "missing", "/berth/ns_v2pod/gone")},
			}},
	}}
	fams := scrape(t, newMetrics(src, Node{CPUs: 4, MemoryBytes: 8 << 30}, nil, filepath.Join("testdata", "proc")))

	app1 := map[string]string{"namespace": "ns", "pod": "v1pod", "container": "app", "image": "demo:1", "id": "/berth/ns_v1pod/app"}
	app2 := map[string]string{"namespace": "ns", "pod": "v2pod", "container": "app", "image": "demo:2", "id": "/berth/ns_v2pod/app"}
	pod1 := map[string]string{"namespace": "ns", "pod": "v1pod", "container": "", "image": "", "id": "/berth/ns_v1pod"}
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"container_cpu_usage_seconds_total", with(app1, "cpu", "total"), 7.312345678},
		{"container_cpu_usage_seconds_total", with(app2, "cpu", "total"), 7.312345},
		{"container_cpu_usage_seconds_total", with(pod1, "cpu", "total"), 7.312345678},
		{"container_memory_working_set_bytes", app1, 20 << 20},
		{"container_memory_working_set_bytes", app2, 20 << 20},
		{"container_memory_usage_bytes", app2, 24 << 20},
		{"container_memory_rss", app1, 20 << 20},
		{"container_spec_memory_limit_bytes", app1, 32 << 20},
		{"container_spec_memory_limit_bytes", app2, 32 << 20},
		{"container_spec_cpu_quota", app1, 50000},
		{"container_spec_cpu_period", app2, 100000},
		{"container_cpu_cfs_throttled_periods_total", app1, 37},
		{"container_cpu_cfs_periods_total", app2, 120},
		{"container_oom_events_total", app1, 2},
		{"container_oom_events_total", app2, 2},
		{"container_processes", app2, 2},
		{"container_start_time_seconds", app1, 1700000000.5},
		{"machine_cpu_cores", nil, 4},
		{"machine_memory_bytes", nil, 8 << 30},
		{"berth_pods", map[string]string{"phase": "Running"}, 1},
		{"berth_pods", map[string]string{"phase": "Pending"}, 1},
		{"berth_pods", map[string]string{"phase": "Failed"}, 0},
		{"berth_containers", map[string]string{"container_state": "running"}, 1},
		{"berth_containers", map[string]string{"container_state": "waiting"}, 1},
		{"berth_containers", map[string]string{"container_state": "terminated"}, 1},
		{"kube_pod_container_status_restarts_total", map[string]string{"namespace": "ns", "pod": "v1pod", "uid": "u1", "container": "app"}, 3},
		{"berth_scrape_error", nil, 0},
	} {
		if got := find(t, fams, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if fs := find(t, fams, "container_fs_usage_bytes", app1); fs < 8192 || fs > 1<<20 {
		t.Errorf("container_fs_usage_bytes = %v, want the 8 KiB file's blocks", fs)
	}
	for _, m := range fams["container_processes"].GetMetric() {
		if hasLabels(m, map[string]string{"container": ""}) {
			t.Errorf("a pod cgroup has a container_processes series: %v", m)
		}
	}
	for _, m := range fams["container_cpu_usage_seconds_total"].GetMetric() {
		if hasLabels(m, map[string]string{"container": "gone"}) {
			t.Errorf("a container without a cgroup has CPU series: %v", m)
		}
	}
	if got := find(t, fams, "container_network_receive_bytes_total", with(pod1, "interface", "eth0")); got != 1234567 {
		t.Errorf("receive bytes of eth0 = %v, want 1234567", got)
	}
	if got := find(t, fams, "container_network_transmit_bytes_total", with(pod1, "interface", "eth0")); got != 7654 {
		t.Errorf("transmit bytes of eth0 = %v, want 7654", got)
	}
	if n := len(fams["container_network_transmit_bytes_total"].GetMetric()); n != 1 {
		t.Errorf("%d transmit series, want one: eth0 (lo is left out)", n)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "berth_reconcile_duration_seconds"} {
		if fams[name] == nil {
			t.Errorf("no %s in the scrape", name)
		}
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

func TestCollectorSourceError(t *testing.T) {
	m := New(fakeSource{err: errors.New("daemon stopping")}, Node{CPUs: 1}, nil)
	m.ObserveReconcile(3 * time.Millisecond)
	m.ObservePodStart(20 * time.Millisecond)
	m.ObservePodStart(30 * time.Millisecond)
	fams := scrape(t, m)
	if got := find(t, fams, "berth_scrape_error", nil); got != 1 {
		t.Errorf("berth_scrape_error = %v, want 1", got)
	}
	if fams["container_cpu_usage_seconds_total"] != nil {
		t.Error("container series without a pod list")
	}
	if got := fams["berth_reconcile_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("reconcile histogram count = %d, want 1", got)
	}
	if h := fams["berth_pod_start_duration_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleCount() != 2 || h.GetSampleSum() != 0.05 {
		t.Errorf("pod start histogram count %d sum %v, want 2 and 0.05", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestLayerUsage(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "big"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	layer := t.TempDir()
	if err := os.MkdirAll(filepath.Join(layer, "d", "e"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layer, "d", "e", "f"), make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(layer, "d", "e", "f"), filepath.Join(layer, "hardlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(layer, "out")); err != nil {
		t.Fatal(err)
	}
	n, dev, err := layerUsage(layer)
	if err != nil {
		t.Fatal(err)
	}
	// 64 KiB of data counted once, plus four directories and a symlink:
	// far below the 1 MiB the symlink points at.
	if n < 64<<10 || n >= 1<<20 {
		t.Errorf("layerUsage = %d bytes, want the 64 KiB file once and nothing behind the symlink", n)
	}
	if !strings.Contains(dev, ":") {
		t.Errorf("device %q, want major:minor", dev)
	}
}

func TestLayerUsageBound(t *testing.T) {
	wide := t.TempDir()
	for i := range maxLayerEntries + 1 {
		if err := os.WriteFile(filepath.Join(wide, "f"+strconv.Itoa(i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := layerUsage(wide); !errors.Is(err, errTooLarge) {
		t.Errorf("layerUsage of %d entries = %v, want errTooLarge", maxLayerEntries+1, err)
	}
	deep := t.TempDir()
	if err := os.MkdirAll(filepath.Join(deep, strings.Repeat("d/", maxLayerDepth+1)), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := layerUsage(deep); !errors.Is(err, errTooLarge) {
		t.Errorf("layerUsage of a tree %d deep = %v, want errTooLarge", maxLayerDepth+1, err)
	}
}
