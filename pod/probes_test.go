package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
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
	pr := &prober{m: m, pod: p, socket: "/s", ctx: t.Context(), ctrs: map[string]*probed{}}
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
	// The call returned; until its goroutine ends, a repeat for the same
	// run is taken for the call still under way and not made.
	testutil.WaitFor(t, 10*time.Second, "the first call's end", func() bool {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		return !pc.telling
	})
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
		pr := &prober{m: m, pod: p, socket: "/s", ctx: t.Context()}
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

// liveSet is a Processes whose Alive answers from a set of processes (the
// other methods are not used by exec probes).
type liveSet struct {
	Processes
	mu    sync.Mutex
	alive map[int]uint64 // PID -> start time
}

func (l *liveSet) Alive(pid int, start uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.alive[pid]
	return ok && s == start
}

func (l *liveSet) set(pid int, start uint64, alive bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if alive {
		l.alive[pid] = start
	} else {
		delete(l.alive, pid)
	}
}

// TestExecProbeKeepsTargetPerRun: an exec probe looks its container up
// once per run of it: again when the process it found is gone (a new
// run) or after a failed look-up, never while the pod is terminating or
// gone.
func TestExecProbeKeepsTargetPerRun(t *testing.T) {
	procs := &liveSet{alive: map[int]uint64{}}
	var ran []int
	m := NewManager(Config{Processes: procs, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ExecProbe: func(_ context.Context, t ExecTarget, _ []string) (int, []byte, error) {
			ran = append(ran, t.PID)
			return 0, nil, nil
		}})
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	m.pods[podid.ID("default", "web")] = &entry{}
	next := ExecTarget{PID: 100, StartTime: 1}
	var finds int
	var findErr error
	e := newExecProbe(m, p, "app")
	e.find = func(context.Context) (ExecTarget, error) {
		finds++
		return next, findErr
	}
	exec := func() error {
		_, _, err := e.Exec(context.Background(), []string{"true"})
		return err
	}

	procs.set(100, 1, true)
	for range 3 {
		if err := exec(); err != nil {
			t.Fatal(err)
		}
	}
	if finds != 1 {
		t.Errorf("3 probes of one run looked the container up %d times, want 1", finds)
	}
	// A new run: the process found is gone; PID 100 reused by another
	// process (another start time) is not the container.
	procs.set(100, 1, false)
	procs.set(100, 9, true)
	next = ExecTarget{PID: 200, StartTime: 2}
	procs.set(200, 2, true)
	if err := exec(); err != nil {
		t.Fatal(err)
	}
	if finds != 2 || ran[len(ran)-1] != 200 {
		t.Errorf("after a new run: %d look-ups, ran in %v", finds, ran)
	}
	// A failed look-up is not kept.
	procs.set(200, 2, false)
	findErr = fmt.Errorf("container app: %w", ErrNotRunning)
	if err := exec(); err == nil {
		t.Fatal("want the look-up's error")
	}
	findErr = nil
	next = ExecTarget{PID: 300, StartTime: 3}
	procs.set(300, 3, true)
	if err := exec(); err != nil || finds != 4 || ran[len(ran)-1] != 300 {
		t.Errorf("after a failed look-up: %v, %d look-ups, ran in %v", err, finds, ran)
	}
	// A terminating pod's container is looked up again (and refused there).
	m.pods[podid.ID("default", "web")].terminating = true
	exec()
	if finds != 5 {
		t.Errorf("terminating pod: %d look-ups, want 5", finds)
	}
}

// TestProberCountsRuns: every probe run reaches Config.ProbeRun with its
// own result, before thresholds; a report that is no run does not.
func TestProberCountsRuns(t *testing.T) {
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	var runs []ProbeRun
	m := NewManager(Config{ProbeRun: func(r ProbeRun) { runs = append(runs, r) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	pr := &prober{m: m, pod: p, uid: "u1", socket: "/s", ctx: t.Context()}
	pc := &probed{status: probeStatus{run: time.Now()}}
	pr.report(pc, probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Success, Ran: true, RunResult: probe.Failure})
	pr.report(pc, probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Failure, Changed: true})
	want := []ProbeRun{{Namespace: "default", Name: "web", UID: "u1", Container: "app", Type: probe.Readiness, Result: probe.Failure}}
	if len(runs) != 1 || runs[0] != want[0] {
		t.Errorf("probe runs %+v, want %+v", runs, want)
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
// sidecar's passed startup probe, the statuses that say so make one call
// in flight for the run, not one more per status; a call that failed is
// made again.
func TestProberTellsStartedOnceAtATime(t *testing.T) {
	b := &blockedTeller{release: make(chan struct{})}
	m := NewManager(Config{Infra: b, Event: func(Event) {}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	pr := &prober{m: m, pod: p, socket: "/s", ctx: t.Context(), ctrs: map[string]*probed{}}
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
