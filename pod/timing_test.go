package pod

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/kube"
)

func TestPhaseTimer(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	tm := newPhaseTimer(log, "default/web")
	created := tm.last
	tm.seen(created.Add(-3*time.Millisecond), created.Add(-time.Millisecond))
	tm.mark("images")
	tm.detail("net_ipam", 1500*time.Microsecond)
	tm.containers(infra.PodStatus{Containers: []infra.ContainerStatus{
		{Name: "fast", State: kube.ContainerState{Running: &kube.StateRunning{StartTimings: kube.StartTimings{Clone: time.Millisecond}}}},
		{Name: "slow", State: kube.ContainerState{Running: &kube.StateRunning{StartTimings: kube.StartTimings{Clone: time.Millisecond, Exec: 2 * time.Millisecond}}}},
		{Name: "done", State: kube.ContainerState{Terminated: &kube.StateTerminated{}}},
	}})
	tm.done()

	line := buf.String()
	for _, want := range []string{`msg="pod created"`, "pod=default/web", "parse=2ms", "queue=1ms", "net_ipam=1.5ms", "slowest=slow", "ctr_exec=2ms"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q:\n%s", want, line)
		}
	}
	if tm.total < 3*time.Millisecond {
		t.Errorf("total %v does not count from when the manifest was seen", tm.total)
	}
	sum := tm.summary()
	for _, want := range []string{"Started in ", ": parse 2ms, queue 1ms, images ", ", slowest slow, ctr_clone 1ms,"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q: %s", want, sum)
		}
	}
}

func TestPhaseTimerOutsideAPass(t *testing.T) {
	var buf bytes.Buffer
	tm := newPhaseTimer(slog.New(slog.NewTextHandler(&buf, nil)), "default/web")
	start := tm.start
	tm.seen(time.Time{}, time.Time{})
	tm.containers(infra.PodStatus{})
	tm.done()
	if tm.start != start || strings.Contains(buf.String(), "parse=") || strings.Contains(buf.String(), "slowest=") {
		t.Errorf("a create outside a pass or without started containers logged %s", buf.String())
	}
}
