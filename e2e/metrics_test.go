package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// scrapeMetrics reads the daemon's /metrics on its socket and parses it
// with Prometheus' own text parser.
func (d *daemon) scrapeMetrics() map[string]*dto.MetricFamily {
	d.t.Helper()
	var b bytes.Buffer
	if err := api.NewClient(d.sock).Metrics(context.Background(), &b); err != nil {
		d.t.Fatal(err)
	}
	return parseScrape(d.t, &b)
}

func parseScrape(t *testing.T, r interface{ Read([]byte) (int, error) }) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// series returns the values of the series of name whose labels include
// want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) []float64 {
	var out []float64
	for _, m := range fams[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		if m.Counter != nil {
			out = append(out, m.GetCounter().GetValue())
		} else {
			out = append(out, m.GetGauge().GetValue())
		}
	}
	return out
}

// one is the value of the one series of name with labels want.
func one(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v := series(fams, name, want)
	if len(v) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(v))
	}
	return v[0]
}

func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestMetrics scrapes a daemon running a pod busy at its CPU limit and one
// that was OOM-killed: cAdvisor's names and labels, CPU time rising
// between scrapes, the OOM kill counted, the limits as the manifests set
// them; the same on --metrics-addr; and `berth top pods` against the
// cgroup files.
func TestMetrics(t *testing.T) {
	addr := freeTCPAddr(t)
	d := startDaemon(t, func(d *daemon) { d.daemonArgs = append(d.daemonArgs, "--metrics-addr", addr) })
	d.apply("spin.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: spin
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: spinner
    image: berth.test/demo:latest
    command: ["/bin/demo", "spin"]
    resources:
      limits: {cpu: 200m, memory: 64Mi}
`)
	p := filepath.Join(d.dir, "oom.yaml")
	os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: oom
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: berth.test/demo:latest
    command: ["/bin/demo", "alloc", "256"]
    resources:
      limits: {memory: 32Mi}
`), 0o644)
	d.mustBerth("apply", "-f", p, "--wait=false")
	testutil.WaitFor(t, 30*time.Second, "the hog to be OOM-killed", func() bool {
		cs := d.pod("oom").Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Terminated != nil
	})

	spin := map[string]string{"namespace": "default", "pod": "spin", "container": "spinner",
		"image": "berth.test/demo:latest", "id": "/" + d.cgroupParent + "/default_spin/spinner"}
	hog := map[string]string{"namespace": "default", "pod": "oom", "container": "hog", "id": "/" + d.cgroupParent + "/default_oom/hog"}
	first := d.scrapeMetrics()
	cpu0 := one(t, first, "container_cpu_usage_seconds_total", spin)
	var last map[string]*dto.MetricFamily
	testutil.WaitFor(t, 10*time.Second, "the spinner's CPU time to rise", func() bool {
		last = d.scrapeMetrics()
		return one(t, last, "container_cpu_usage_seconds_total", spin) > cpu0
	})
	if got := one(t, last, "container_oom_events_total", hog); got < 1 {
		t.Errorf("container_oom_events_total of the hog = %v, want >= 1", got)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"container_spec_memory_limit_bytes", hog, 32 << 20},
		{"container_spec_memory_limit_bytes", spin, 64 << 20},
		{"container_spec_cpu_quota", spin, 20000},
		{"container_spec_cpu_period", spin, 100000},
		{"container_processes", spin, 1},
		{"kube_pod_container_status_restarts_total", map[string]string{"pod": "spin", "container": "spinner"}, 0},
	} {
		if got := one(t, last, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"container_memory_working_set_bytes", spin},
		{"container_memory_usage_bytes", spin},
		{"container_memory_rss", spin},
		{"container_cpu_cfs_throttled_periods_total", spin},
		{"container_fs_usage_bytes", spin},
		{"container_start_time_seconds", spin},
		{"container_cpu_usage_seconds_total", map[string]string{"pod": "spin", "container": "", "image": "", "id": "/" + d.cgroupParent + "/default_spin"}},
		{"container_network_receive_bytes_total", map[string]string{"pod": "spin", "container": "", "interface": "eth0"}},
		{"container_network_transmit_bytes_total", map[string]string{"pod": "spin", "container": "", "interface": "eth0"}},
		{"machine_cpu_cores", nil},
		{"machine_memory_bytes", nil},
		{"go_goroutines", nil},
		{"process_resident_memory_bytes", nil},
	} {
		if len(series(last, c.name, c.labels)) == 0 {
			t.Errorf("no %s%v in the scrape", c.name, c.labels)
		}
	}
	if ws := one(t, last, "container_memory_working_set_bytes", spin); ws <= 0 || ws > 64<<20 {
		t.Errorf("working set of the spinner = %v, want within its 64Mi limit", ws)
	}
	if start := one(t, last, "container_start_time_seconds", spin); time.Since(time.Unix(int64(start), 0)) > 5*time.Minute {
		t.Errorf("container_start_time_seconds = %v, want the spinner's recent start", start)
	}
	for name, want := range map[string]uint64{"berth_pod_start_duration_seconds": 2, "berth_reconcile_duration_seconds": 1} {
		if fams := last[name].GetMetric(); len(fams) != 1 || fams[0].GetHistogram().GetSampleCount() < want {
			t.Errorf("%s: %v, want a histogram of at least %d observations", name, fams, want)
		}
	}
	if got := one(t, last, "berth_pods", map[string]string{"phase": "Running"}); got != 1 {
		t.Errorf("berth_pods{phase=Running} = %v, want 1", got)
	}
	if got := one(t, last, "berth_pods", map[string]string{"phase": "Failed"}); got != 1 {
		t.Errorf("berth_pods{phase=Failed} = %v, want 1", got)
	}
	if got := one(t, last, "berth_containers", map[string]string{"container_state": "terminated"}); got != 1 {
		t.Errorf("berth_containers{container_state=terminated} = %v, want 1", got)
	}

	t.Run("tcp", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		fams := parseScrape(t, resp.Body)
		if len(series(fams, "container_cpu_usage_seconds_total", spin)) != 1 {
			t.Errorf("no CPU series of the spinner on %s", addr)
		}
		other, err := http.Get("http://" + addr + "/v1/pods")
		if err != nil {
			t.Fatal(err)
		}
		other.Body.Close()
		if other.StatusCode != http.StatusNotFound {
			t.Errorf("GET /v1/pods on the metrics address: %s, want 404 (only /metrics is served)", other.Status)
		}
	})

	t.Run("top", func(t *testing.T) { checkTop(t, d) })
}

var topRow = regexp.MustCompile(`^(\S+)\s+(\d+)m\s+(\d+)Mi$`)

// checkTop checks `berth top pods`' shape and its values against the
// spinner's cgroup files: CPU near the quota it runs into, memory as the
// working set computed from memory.stat.
func checkTop(t *testing.T, d *daemon) {
	out := d.mustBerth("top", "pods")
	t.Logf("berth top pods:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME CPU(cores) MEMORY(bytes)" {
		t.Fatalf("berth top pods: want kubectl's header and a row per pod, got\n%s", out)
	}
	var milli, mi int
	for _, l := range lines[1:] {
		m := topRow.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("row %q: want NAME <n>m <n>Mi", l)
			continue
		}
		if m[1] == "spin" {
			milli, _ = strconv.Atoi(m[2])
			mi, _ = strconv.Atoi(m[3])
		}
	}
	v2 := false
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		v2 = true
	}
	var quota, period float64
	if v2 {
		f := strings.Fields(readTrim(t, d.containerCgroupFile("spin", "spinner", "cpu", "cpu.max")))
		quota, _ = strconv.ParseFloat(f[0], 64)
		period, _ = strconv.ParseFloat(f[1], 64)
	} else {
		quota, _ = strconv.ParseFloat(readTrim(t, d.containerCgroupFile("spin", "spinner", "cpu", "cpu.cfs_quota_us")), 64)
		period, _ = strconv.ParseFloat(readTrim(t, d.containerCgroupFile("spin", "spinner", "cpu", "cpu.cfs_period_us")), 64)
	}
	// The window is timed by the CLI around two scrapes: loose bounds, as
	// the VM in CI runs under emulation.
	limit := quota / period * 1000
	if float64(milli) < limit*0.4 || float64(milli) > limit*1.5 {
		t.Errorf("berth top: spin uses %dm, want near its quota of %.0fm (read from the cgroup)", milli, limit)
	}
	usageFile, inactiveKey := "memory.usage_in_bytes", "total_inactive_file"
	if v2 {
		usageFile, inactiveKey = "memory.current", "inactive_file"
	}
	usage, _ := strconv.ParseFloat(readTrim(t, d.containerCgroupFile("spin", "spinner", "memory", usageFile)), 64)
	var inactive float64
	for _, l := range strings.Split(readTrim(t, d.containerCgroupFile("spin", "spinner", "memory", "memory.stat")), "\n") {
		if k, v, _ := strings.Cut(l, " "); k == inactiveKey {
			inactive, _ = strconv.ParseFloat(v, 64)
		}
	}
	if want := int((usage - inactive) / (1 << 20)); mi < want-1 || mi > want+1 {
		t.Errorf("berth top: spin uses %dMi, want %dMi (±1) from the cgroup's usage less inactive_file", mi, want)
	}

	out = d.mustBerth("top", "pods", "-A", "--containers", "--sort-by", "cpu")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "NAMESPACE POD NAME CPU(cores) MEMORY(bytes)" {
		t.Errorf("berth top pods -A --containers header: %q", lines[0])
	}
	if len(lines) < 2 || strings.Join(strings.Fields(lines[1])[:3], " ") != "default spin spinner" {
		t.Errorf("berth top pods -A --containers --sort-by cpu: want the spinner first, got\n%s", out)
	}
	if out, err := d.berth("top", "pods", "--sort-by", "disk"); err == nil {
		t.Errorf("berth top pods --sort-by disk succeeded:\n%s", out)
	}
}
