package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/probe"
)

// killRecorder is an Infra whose KillContainer records its calls (the
// other methods are not used by a prober's reports).
type killRecorder struct {
	Infra
	kills chan string
	err   error
}

func (k *killRecorder) KillContainer(_ context.Context, socket, ctr string, grace time.Duration, msg string) error {
	k.kills <- fmt.Sprintf("%s %s %s %s", socket, ctr, grace, msg)
	return k.err
}

func (k *killRecorder) SidecarStarted(_ context.Context, socket, ctr string, run time.Time) error {
	k.kills <- fmt.Sprintf("%s %s started %s", socket, ctr, run.Format(time.RFC3339Nano))
	return k.err
}

// TestProberSidecarStarted: a sidecar's passed startup probe reaches its
// infra, and again from the watch while the infra has not heard of it.
func TestProberSidecarStarted(t *testing.T) {
	k := &killRecorder{kills: make(chan string, 4)}
	m := NewManager(Config{Infra: k, Event: func(Event) {}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	pr := &prober{m: m, pod: p, socket: "/s", ctrs: map[string]*probed{}}
	run := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pc := &probed{hasStartup: true, gate: true, status: probeStatus{run: run}}
	pr.ctrs["proxy"] = pc
	want := "/s proxy started " + run.Format(time.RFC3339Nano)
	pr.report(pc, probe.Report{Container: "proxy", Type: probe.Startup, Result: probe.Failure})
	pr.report(pc, probe.Report{Container: "proxy", Type: probe.Startup, Result: probe.Success, Changed: true})
	if got := <-k.kills; got != want {
		t.Fatalf("call = %q, want %q", got, want)
	}
	pr.report(pc, probe.Report{Container: "proxy", Type: probe.Startup, Result: probe.Success})
	running := infra.ContainerStatus{Name: "proxy", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}}
	pr.observe([]infra.ContainerStatus{running})
	if got := <-k.kills; got != want {
		t.Fatalf("call from the watch = %q, want %q", got, want)
	}
}

// TestProberReports: reports set started and ready as the kubelet's
// probe results do, become events, and a liveness or startup failure asks
// the infra to kill the container with the probe's grace period or the
// pod's; an infra too old for that leaves the pod running.
func TestProberReports(t *testing.T) {
	grace := int64(7)
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	p.Spec.TerminationGracePeriodSeconds = &grace
	for _, old := range []bool{false, true} {
		k := &killRecorder{kills: make(chan string, 1)}
		if old {
			k.err = fmt.Errorf("kill: %w", infra.ErrUnsupported)
		}
		var events []Event
		m := NewManager(Config{Infra: k, Event: func(e Event) { events = append(events, e) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		pr := &prober{m: m, pod: p, socket: "/s"}
		run := time.Now()
		pc := &probed{hasStartup: true, hasReadiness: true, status: probeStatus{run: run}}

		steps := []struct {
			rep            probe.Report
			started, ready bool
		}{
			{probe.Report{Container: "app", Type: probe.Startup, Result: probe.Unknown, Event: &probe.Event{Reason: probe.ReasonUnhealthy, Message: "Startup probe failed: x"}}, false, false},
			{probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Success}, false, false},
			{probe.Report{Container: "app", Type: probe.Startup, Result: probe.Success, Changed: true}, true, false},
			{probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Success, Changed: true}, true, true},
			{probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Failure, Changed: true}, true, false},
		}
		for i, s := range steps {
			pr.report(pc, s.rep)
			if pc.status.started != s.started || pc.status.ready != s.ready {
				t.Errorf("step %d: started %v ready %v, want %v %v", i, pc.status.started, pc.status.ready, s.started, s.ready)
			}
		}
		if len(events) != 1 || events[0].Reason != probe.ReasonUnhealthy || events[0].Type != kube.EventWarning || events[0].Container != "app" {
			t.Errorf("events = %+v, want one Unhealthy warning for app", events)
		}

		pr.report(pc, probe.Report{Container: "app", Type: probe.Liveness, Result: probe.Failure, Changed: true})
		if got, want := <-k.kills, "/s app 7s Container app failed liveness probe, will be restarted"; got != want {
			t.Errorf("kill = %q, want %q", got, want)
		}
		probeGrace := int64(2)
		pr.report(pc, probe.Report{Container: "app", Type: probe.Startup, Result: probe.Failure, Changed: true, GracePeriodSeconds: &probeGrace})
		if got, want := <-k.kills, "/s app 2s Container app failed startup probe, will be restarted"; got != want {
			t.Errorf("kill = %q, want %q", got, want)
		}
	}
}

// blockedTeller is an Infra whose SidecarStarted counts its calls and
// waits for release.
type blockedTeller struct {
	Infra
	calls   atomic.Int32
	release chan struct{}
}

func (b *blockedTeller) SidecarStarted(context.Context, string, string, time.Time) error {
	b.calls.Add(1)
	<-b.release
	return errors.New("infra busy")
}

// TestProberTellsStartedOnceAtATime: while the infra has not heard of a
// sidecar's passed startup probe, the watch's ticks make one call in
// flight for the run, not one more per tick; a call that failed is made
// again.
func TestProberTellsStartedOnceAtATime(t *testing.T) {
	b := &blockedTeller{release: make(chan struct{})}
	m := NewManager(Config{Infra: b, Event: func(Event) {}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	pr := &prober{m: m, pod: p, socket: "/s", ctrs: map[string]*probed{}}
	run := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pc := &probed{hasStartup: true, gate: true, status: probeStatus{run: run, started: true}}
	pr.ctrs["proxy"] = pc
	running := infra.ContainerStatus{Name: "proxy", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}}
	// Each call runs in a goroutine of its own, made before observe
	// returns: their count is the calls begun.
	before := runtime.NumGoroutine()
	for range 5 {
		pr.observe([]infra.ContainerStatus{running})
	}
	if n := runtime.NumGoroutine() - before; n != 1 {
		t.Fatalf("%d calls begun for one run, want 1", n)
	}
	testutil.WaitFor(t, 10*time.Second, "the call to the infra", func() bool { return b.calls.Load() > 0 })
	close(b.release)
	testutil.WaitFor(t, 10*time.Second, "the failed call to be made again", func() bool {
		pr.observe([]infra.ContainerStatus{running})
		return b.calls.Load() > 1
	})
}
