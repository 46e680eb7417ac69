package metrics

import "testing"

// TestPipelineCounters: what the daemon counts shows in the scrape, and
// a removed pod's probe series go.
func TestPipelineCounters(t *testing.T) {
	m := newMetrics(fakeSource{}, Node{}, nil, t.TempDir())
	m.ObserveProbe("Liveness", ProbeSuccessful, "app", "default", "web", "u1")
	m.ObserveProbe("Liveness", ProbeSuccessful, "app", "default", "web", "u1")
	m.ObserveProbe("Readiness", ProbeFailed, "app", "default", "web", "u1")
	m.ObserveProbe("Readiness", ProbeFailed, "app", "default", "db", "u2")
	m.ObservePull(true, 1000)
	m.ObservePull(false, 0)
	m.ObservePull(true, 24)
	m.ObserveEvent("Normal", "Created")
	m.ObserveEvent("Warning", "Failed")
	m.ObserveEvent("Normal", "Created")

	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"prober_probe_total", map[string]string{"probe_type": "Liveness", "result": "successful", "container": "app", "pod": "web", "namespace": "default", "pod_uid": "u1"}, 2},
		{"prober_probe_total", map[string]string{"probe_type": "Readiness", "result": "failed", "pod": "web"}, 1},
		{"berth_image_pulls_total", map[string]string{"result": "success"}, 2},
		{"berth_image_pulls_total", map[string]string{"result": "failure"}, 1},
		{"berth_image_pull_bytes_total", nil, 1024},
		{"berth_events_total", map[string]string{"type": "Normal", "reason": "Created"}, 2},
		{"berth_events_total", map[string]string{"type": "Warning", "reason": "Failed"}, 1},
	} {
		if got := find(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	m.ForgetPod("default", "web")
	fams = scrape(t, m)
	if n := len(fams["prober_probe_total"].GetMetric()); n != 1 || find(t, fams, "prober_probe_total", map[string]string{"pod": "db"}) != 1 {
		t.Errorf("after the pod web went: %d probe series, want db's only", n)
	}
}
