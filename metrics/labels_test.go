package metrics

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berth-project/berth/cgroups"
)

// podsSource is a Source whose pods a test changes between scrapes.
type podsSource struct {
	mu   sync.Mutex
	pods []Pod
}

func (s *podsSource) Pods(context.Context) ([]Pod, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pods), nil
}

func (s *podsSource) set(pods ...Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pods = pods
}

// seriesOf gathers reg once, encodes it in the text format, parses it with
// Prometheus' parser and returns each container_* series as its name and
// sorted label pairs.
func seriesOf(t *testing.T, reg prometheus.Gatherer) []string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(parsed)) {
		if !strings.HasPrefix(name, "container_") {
			continue
		}
		for _, m := range parsed[name].GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(pairs)
			out = append(out, name+"{"+strings.Join(pairs, ",")+"}")
		}
	}
	slices.Sort(out)
	return out
}

// TestCollectorRepeatedScrapes: scrapes of the same pods serve the same
// series with the same labels (the label pairs kept from one scrape to
// the next are those it would build), a container's new image is served
// at once, and what the collector keeps per pod goes with the pod.
func TestCollectorRepeatedScrapes(t *testing.T) {
	layer := t.TempDir()
	pod := func(name, image string) Pod {
		return Pod{Namespace: "ns", Name: name, UID: "u-" + name, Phase: "Running",
			Cgroup: fixtureDirs(cgroups.V1, "v1", "/berth/ns_"+name), NetPID: 4242, NetInterface: "eth0",
			Containers: []Container{{Name: "app", Image: image, State: StateRunning,
				Cgroup: fixtureDirs(cgroups.V1, "v1", "/berth/ns_"+name+"/app"), Layer: layer}}}
	}
	src := &podsSource{}
	src.set(pod("a", "demo:1"), pod("b", "demo:1"))
	c := &collector{src: src, node: Node{CPUs: 1}, log: slog.Default(), proc: filepath.Join("testdata", "proc")}
	reg := gatherer{reg: prometheus.NewRegistry(), c: c}

	first := seriesOf(t, reg)
	if len(first) == 0 {
		t.Fatal("no container series")
	}
	for range 3 {
		if again := seriesOf(t, reg); !slices.Equal(again, first) {
			t.Fatalf("a later scrape's series differ:\n%q\nfirst:\n%q", again, first)
		}
	}
	if n := c.labels.len(); n != 4 {
		t.Errorf("label sets of %d cgroups, want 4: two pods and their containers", n)
	}

	src.set(pod("a", "demo:2"), pod("b", "demo:1"))
	updated := seriesOf(t, reg)
	usage := "container_memory_usage_bytes{container=app,id=/berth/ns_a/app,image=%s,namespace=ns,pod=a}"
	if !slices.Contains(updated, fmt.Sprintf(usage, "demo:2")) || slices.Contains(updated, fmt.Sprintf(usage, "demo:1")) {
		t.Errorf("after pod a's image changed, want its series with the new image only:\n%q", updated)
	}

	src.set(pod("b", "demo:1"))
	left := seriesOf(t, reg)
	for _, s := range left {
		if strings.Contains(s, "pod=a") {
			t.Errorf("pod a's series after it went: %s", s)
		}
	}
	if n := c.labels.len(); n != 2 {
		t.Errorf("label sets of %d cgroups after a pod went, want 2", n)
	}
	src.set()
	seriesOf(t, reg)
	if n := c.labels.len(); n != 0 {
		t.Errorf("label sets of %d cgroups without pods, want 0", n)
	}
	c.layers.mu.Lock()
	defer c.layers.mu.Unlock()
	if n := len(c.layers.samples); n != 0 {
		t.Errorf("disk use of %d layers kept without pods, want 0", n)
	}
}

// TestGathererNameClash: a registry family of the same name as one of
// the collector's is an error, not two families of one name.
func TestGathererNameClash(t *testing.T) {
	g := gatherer{reg: prometheus.NewRegistry(), c: &collector{src: &podsSource{}, node: Node{CPUs: 1}, log: slog.Default()}}
	g.reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "machine_cpu_cores", Help: "clash"}))
	fams, err := g.Gather()
	if err == nil {
		t.Error("Gather with two machine_cpu_cores families: no error")
	}
	n := 0
	for _, f := range fams {
		if f.GetName() == "machine_cpu_cores" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d machine_cpu_cores families, want 1", n)
	}
}
