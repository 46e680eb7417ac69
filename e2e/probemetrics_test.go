package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// TestProbeAndEventMetrics: each readiness probe run is counted in the
// kubelet's prober_probe_total, by result, with its labels; events are
// counted by reason; the pod's probe series go with the pod.
func TestProbeAndEventMetrics(t *testing.T) {
	d := startDaemon(t)
	d.apply("probed.yaml", probePodYAML("probed", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "serve", "--port", "8080", "--unhealthy-file", "/tmp/unready"]
    readinessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
`))
	d.waitReady("probed", "app", true)
	uid := d.pod("probed").Metadata.UID
	labels := func(result string) map[string]string {
		return map[string]string{"probe_type": "Readiness", "result": result, "container": "app",
			"pod": "probed", "namespace": "default", "pod_uid": uid}
	}
	if ok := one(t, d.scrapeMetrics(), "prober_probe_total", labels("successful")); ok < 1 {
		t.Errorf("successful readiness runs counted: %v, want at least 1", ok)
	}
	d.mustBerth("exec", "probed", "-c", "app", "--", "/bin/demo", "write", "/tmp/unready", "x")
	d.waitReady("probed", "app", false)
	fams := d.scrapeMetrics()
	if failed := one(t, fams, "prober_probe_total", labels("failed")); failed < 1 {
		t.Errorf("failed readiness runs counted: %v, want at least 1", failed)
	}
	if n := one(t, fams, "berth_events_total", map[string]string{"type": "Warning", "reason": "Unhealthy"}); n < 1 {
		t.Errorf("Unhealthy events counted: %v", n)
	}
	if n := one(t, fams, "berth_events_total", map[string]string{"type": "Normal", "reason": "Created"}); n != 1 {
		t.Errorf("Created events counted: %v, want 1", n)
	}

	if err := os.Remove(filepath.Join(d.manifests, "probed.yaml")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "the pod and its probe series to go", func() bool {
		return d.podCount() == 0 && len(series(d.scrapeMetrics(), "prober_probe_total", nil)) == 0
	})
}
