package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/probe"
)

func TestStopGrace(t *testing.T) {
	for _, tt := range []struct {
		grace, took, want time.Duration
	}{
		{30 * time.Second, 5 * time.Second, 25 * time.Second},
		{30 * time.Second, 0, 30 * time.Second},
		{30 * time.Second, 29 * time.Second, 2 * time.Second},
		{30 * time.Second, 30 * time.Second, 2 * time.Second},
		{time.Second, 0, 2 * time.Second},
	} {
		if got := stopGrace(tt.grace, tt.took); got != tt.want {
			t.Errorf("stopGrace(%s, %s) = %s, want %s", tt.grace, tt.took, got, tt.want)
		}
	}
}

func TestHookMessage(t *testing.T) {
	err := errors.New("boom")
	for _, tt := range []struct {
		hook *manifests.LifecycleHandler
		want string
	}{
		{&manifests.LifecycleHandler{Exec: &manifests.ExecAction{Command: []string{"sh", "-c", "exit 3"}}},
			`Exec lifecycle hook ([sh -c exit 3]) for Container "app" in Pod "web_default(u1)" failed - error: boom, message: "out\n"`},
		{&manifests.LifecycleHandler{HTTPGet: &manifests.HTTPGetAction{Path: "/stop"}},
			`HTTP lifecycle hook (/stop) for Container "app" in Pod "web_default(u1)" failed - error: boom`},
		{&manifests.LifecycleHandler{Sleep: &manifests.SleepAction{Seconds: 5}},
			`Sleep lifecycle hook (5) for Container "app" in Pod "web_default(u1)" failed - error: boom`},
	} {
		p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
		if got := hookMessage(tt.hook, "app", formatPod(p, "u1"), []byte("out\n"), err); got != tt.want {
			t.Errorf("hookMessage = %s\nwant %s", got, tt.want)
		}
	}
}

func TestApplyPostStart(t *testing.T) {
	run := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}
	for _, tt := range []struct {
		name   string
		hook   *hookRun
		reason string // "" running
	}{
		{"no hook", nil, ""},
		{"hook done for this run", &hookRun{run: run, done: true}, ""},
		{"hook running", &hookRun{run: run}, kube.ReasonContainerCreating},
		{"run not seen yet", &hookRun{run: run.Add(-time.Minute), done: true}, kube.ReasonContainerCreating},
		{"hook failed", &hookRun{run: run, failed: "Exec lifecycle hook failed"}, kube.ReasonPostStartHookError},
		{"an earlier run's hook failed", &hookRun{run: run.Add(-time.Minute), failed: "x"}, kube.ReasonContainerCreating},
	} {
		st := &infra.PodStatus{Containers: []infra.ContainerStatus{{Name: "app", State: running}, {Name: "side", State: running}}}
		runs := map[string]hookRun{}
		if tt.hook != nil {
			runs["app"] = *tt.hook
		}
		got := applyPostStart(st, runs)
		if st.Containers[0].State.Running == nil {
			t.Fatalf("%s: the infra's status was changed", tt.name)
		}
		if got.Containers[1].State.Running == nil {
			t.Errorf("%s: a container without a hook is not running: %+v", tt.name, got.Containers[1].State)
		}
		switch w := got.Containers[0].State.Waiting; {
		case tt.reason == "" && got.Containers[0].State.Running == nil:
			t.Errorf("%s: state %+v, want running", tt.name, got.Containers[0].State)
		case tt.reason != "" && (w == nil || w.Reason != tt.reason):
			t.Errorf("%s: state %+v, want waiting %s", tt.name, got.Containers[0].State, tt.reason)
		case tt.reason == kube.ReasonPostStartHookError && w.Message != tt.hook.failed:
			t.Errorf("%s: message %q, want the hook's", tt.name, w.Message)
		}
	}
}

// hookInfra is an Infra that shows a fixed status and records kills.
type hookInfra struct {
	Infra
	st    infra.PodStatus
	kills chan string
}

func (f *hookInfra) Status(context.Context, string) (infra.PodStatus, error) { return f.st, nil }

// WatchStatus answers as an infra of protocol 7 would: the hooker then
// asks for the status every probePoll.
func (f *hookInfra) WatchStatus(context.Context, string, func(infra.PodStatus)) error {
	return fmt.Errorf("watch: infra protocol 7: %w", infra.ErrUnsupported)
}

func (f *hookInfra) KillContainer(_ context.Context, _, ctr string, grace time.Duration, msg string) error {
	f.kills <- fmt.Sprintf("%s %s %s", ctr, msg, grace.Round(time.Second))
	return nil
}

// TestHookerPostStart: each new run gets its postStart hook once; a
// success is recorded on disk, so that a new hooker (a daemon restart)
// does not run it again for that run but does for a run it never saw; a
// failure is a FailedPostStartHook event with the kubelet's message, then
// the container's preStop hook and a kill with what remains of the grace
// period.
func TestHookerPostStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	grace := int64(7)
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	p.Spec.TerminationGracePeriodSeconds = &grace
	p.Spec.HostNetwork = true // the hooks dial from the host: no namespace to open
	p.Spec.Containers = []manifests.Container{
		{Name: "ok", Lifecycle: &manifests.Lifecycle{PostStart: &manifests.LifecycleHandler{Sleep: &manifests.SleepAction{}}}},
		{Name: "bad", Lifecycle: &manifests.Lifecycle{
			PostStart: &manifests.LifecycleHandler{HTTPGet: &manifests.HTTPGetAction{Path: "/started", Port: manifests.FromInt(int32(closed))}},
			PreStop:   &manifests.LifecycleHandler{Sleep: &manifests.SleepAction{}},
		}},
		{Name: "plain"},
	}
	run := time.Now().UTC().Truncate(time.Microsecond)
	running := kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}
	fi := &hookInfra{kills: make(chan string, 4), st: infra.PodStatus{Containers: []infra.ContainerStatus{
		{Name: "ok", State: running}, {Name: "bad", State: running}, {Name: "plain", State: running},
	}}}
	var events []Event
	m := NewManager(Config{Infra: fi, Event: func(e Event) { events = append(events, e) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	l := Layout{State: t.TempDir()}
	for _, c := range p.Spec.Containers {
		if err := os.MkdirAll(l.ContainerDir(c.Name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	newH := func() *hooker {
		// The test drives observe itself: the hooker's own watch sees no
		// container.
		st := fi.st
		fi.st = infra.PodStatus{}
		h, err := m.newHooker(&entry{rec: &record{UID: "u1", Pod: p}, layout: l})
		if err != nil {
			t.Fatal(err)
		}
		h.stop()
		fi.st = st
		h.target = probe.Target{Dialer: probe.HostDialer(), PodIP: "127.0.0.1"}
		return h
	}
	h := newH()
	if got := applyPostStart(&fi.st, h.postStartRuns()); got.Containers[0].State.Waiting == nil || got.Containers[1].State.Waiting == nil || got.Containers[2].State.Running == nil {
		t.Fatalf("before the hooks ran: %+v", got.Containers)
	}
	ctx := context.Background()
	h.observe(ctx, fi.st.Containers)
	h.wg.Wait()
	kill := <-fi.kills
	if !strings.HasPrefix(kill, "bad FailedPostStartHook ") || (kill != "bad FailedPostStartHook 7s" && kill != "bad FailedPostStartHook 6s") {
		t.Errorf("kill = %q, want bad's with the rest of 7s", kill)
	}
	if len(events) != 1 || events[0].Reason != kube.EventFailedPostStartHook || events[0].Container != "bad" ||
		!strings.HasPrefix(events[0].Message, `HTTP lifecycle hook (/started) for Container "bad" in Pod "web_default(u1)" failed - error: `) {
		t.Errorf("events = %+v", events)
	}
	got := applyPostStart(&fi.st, h.postStartRuns())
	if got.Containers[0].State.Running == nil {
		t.Errorf("ok after its hook: %+v", got.Containers[0].State)
	}
	if w := got.Containers[1].State.Waiting; w == nil || w.Reason != kube.ReasonPostStartHookError {
		t.Errorf("bad after its hook failed: %+v", got.Containers[1].State)
	}
	if b, err := os.ReadFile(filepath.Join(l.ContainerDir("ok"), postStartFile)); err != nil || strings.TrimSpace(string(b)) != run.Format(time.RFC3339Nano) {
		t.Errorf("ok's record: %q, %v", b, err)
	}
	// The same run again: nothing runs.
	h.observe(ctx, fi.st.Containers)
	h.wg.Wait()
	if len(events) != 1 || len(fi.kills) != 0 {
		t.Errorf("a run seen before ran its hook again: %+v", events)
	}

	// A daemon restart: ok's run had its hook; bad's never succeeded, so it
	// runs (and fails) again.
	h2 := newH()
	if got := applyPostStart(&fi.st, h2.postStartRuns()); got.Containers[0].State.Running == nil {
		t.Errorf("ok after a restart: %+v", got.Containers[0].State)
	}
	h2.observe(ctx, fi.st.Containers)
	h2.wg.Wait()
	if len(fi.kills) != 1 || len(events) != 2 {
		t.Errorf("after a restart: kills %d, events %+v; want bad's hook run again", len(fi.kills), events)
	}
}

// TestPreStopAll: the preStop hooks of the running containers run, and
// the stop gets what remains of the grace period, at least minStopGrace.
func TestPreStopAll(t *testing.T) {
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	p.Spec.Containers = []manifests.Container{
		{Name: "a", Lifecycle: &manifests.Lifecycle{PreStop: &manifests.LifecycleHandler{Sleep: &manifests.SleepAction{Seconds: 0}}}},
		{Name: "b", Lifecycle: &manifests.Lifecycle{PreStop: &manifests.LifecycleHandler{Sleep: &manifests.SleepAction{Seconds: 30}}}},
		{Name: "c"},
	}
	running := kube.ContainerState{Running: &kube.StateRunning{StartedAt: time.Now()}}
	exited := kube.ContainerState{Terminated: &kube.StateTerminated{}}
	fi := &hookInfra{st: infra.PodStatus{Containers: []infra.ContainerStatus{{Name: "a", State: running}, {Name: "b", State: exited}, {Name: "c", State: running}}}}
	m := NewManager(Config{Infra: fi, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := &hooker{m: m, pod: p, socket: "/s", runs: map[string]hookRun{}}
	// b does not run: its 30 s sleep is not waited for.
	if left := h.preStopAll(context.Background(), 10*time.Second); left > 10*time.Second || left < 9*time.Second {
		t.Errorf("left = %s, want about 10s", left)
	}
	if left := h.preStopAll(context.Background(), time.Second); left != minStopGrace {
		t.Errorf("left = %s, want %s", left, minStopGrace)
	}
}

// TestProbesWaitForPostStart: a container's probes learn of its run only
// once the run's postStart hook succeeded.
func TestProbesWaitForPostStart(t *testing.T) {
	run := time.Now().UTC()
	fi := &hookInfra{st: infra.PodStatus{Containers: []infra.ContainerStatus{
		{Name: "app", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}},
	}}}
	m := NewManager(Config{Infra: fi, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	h := &hooker{m: m, pod: p, runs: map[string]hookRun{"app": {run: run}}}
	m.pods[podid.ID("default", "web")] = &entry{rec: &record{Pod: p}, hooks: h}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pc := &probed{runner: probe.NewRunner("app", probe.SystemClock{}, func(probe.Report) {})}
	go pc.runner.Run(ctx)
	pr := &prober{m: m, pod: p, socket: "/s", ctx: t.Context(), ctrs: map[string]*probed{"app": pc}}
	pr.observeStatus(fi.st)
	if got := pr.statuses()["app"].run; !got.IsZero() {
		t.Fatalf("the probes saw the run while its postStart hook runs")
	}
	h.runs["app"] = hookRun{run: run, done: true}
	pr.observeStatus(fi.st)
	if got := pr.statuses()["app"].run; !got.Equal(run) {
		t.Fatalf("the probes did not see the run once its hook succeeded: %v", got)
	}

	// A sidecar's too: its startupProbe runs after its postStart hook.
	side := &probed{runner: probe.NewRunner("side", probe.SystemClock{}, func(probe.Report) {}), hasStartup: true, gate: true}
	go side.runner.Run(ctx)
	pr.ctrs["side"] = side
	fi.st.InitContainers = []infra.ContainerStatus{{Name: "side", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}}}
	h.runs["side"] = hookRun{run: run}
	pr.observeStatus(fi.st)
	if got := pr.statuses()["side"].run; !got.IsZero() {
		t.Fatalf("the sidecar's probes saw the run while its postStart hook runs")
	}
	h.runs["side"] = hookRun{run: run, done: true}
	pr.observeStatus(fi.st)
	if got := pr.statuses()["side"].run; !got.Equal(run) {
		t.Fatalf("the sidecar's probes did not see the run once its hook succeeded: %v", got)
	}
}

func TestSidecarWaits(t *testing.T) {
	always := "Always"
	hook := &manifests.LifecycleHandler{Sleep: &manifests.SleepAction{}}
	probe := &manifests.Probe{ProbeHandler: manifests.ProbeHandler{Exec: &manifests.ExecAction{Command: []string{"true"}}}}
	for _, tt := range []struct {
		name                              string
		c                                 manifests.Container
		sidecar, waitStarted, preStopHook bool
	}{
		{"an ordinary init container", manifests.Container{}, false, false, false},
		{"a sidecar", manifests.Container{RestartPolicy: &always}, true, false, false},
		{"with a startupProbe", manifests.Container{RestartPolicy: &always, StartupProbe: probe}, true, true, false},
		{"with a postStart hook", manifests.Container{RestartPolicy: &always, Lifecycle: &manifests.Lifecycle{PostStart: hook}}, true, true, false},
		{"with a preStop hook", manifests.Container{RestartPolicy: &always, Lifecycle: &manifests.Lifecycle{PreStop: hook}}, true, false, true},
		{"with both hooks and a probe", manifests.Container{RestartPolicy: &always, StartupProbe: probe, Lifecycle: &manifests.Lifecycle{PostStart: hook, PreStop: hook}}, true, true, true},
	} {
		s, w, p := sidecarWaits(&tt.c)
		if s != tt.sidecar || w != tt.waitStarted || p != tt.preStopHook {
			t.Errorf("%s: sidecarWaits = %v, %v, %v; want %v, %v, %v", tt.name, s, w, p, tt.sidecar, tt.waitStarted, tt.preStopHook)
		}
	}
}

// sidecarInfra is an Infra that shows a status it is given and records,
// in order, the calls about sidecars.
type sidecarInfra struct {
	Infra
	mu    sync.Mutex
	st    infra.PodStatus
	calls chan string
}

func (f *sidecarInfra) set(st infra.PodStatus) {
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
}

func (f *sidecarInfra) Status(context.Context, string) (infra.PodStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, nil
}

// WatchStatus answers as an infra of protocol 7 would: the hooker then
// asks for the status every probePoll.
func (f *sidecarInfra) WatchStatus(context.Context, string, func(infra.PodStatus)) error {
	return fmt.Errorf("watch: infra protocol 7: %w", infra.ErrUnsupported)
}

func (f *sidecarInfra) HoldRestarts(context.Context, string) error { return nil }

func (f *sidecarInfra) KillContainer(_ context.Context, _, ctr string, _ time.Duration, msg string) error {
	f.calls <- "kill " + ctr + " " + msg
	return nil
}

func (f *sidecarInfra) SidecarStarted(_ context.Context, _, ctr string, run time.Time) error {
	f.calls <- "started " + ctr + " " + run.Format(time.RFC3339Nano)
	return nil
}

func (f *sidecarInfra) PreStopped(_ context.Context, _, ctr string, run time.Time) error {
	f.calls <- "prestopped " + ctr + " " + run.Format(time.RFC3339Nano)
	return nil
}

// TestHookerSidecarPostStart: a sidecar's postStart hook runs for its run;
// a sidecar without a startupProbe is then said started by the hooker,
// again while the infra's status says it has not heard it, and one with a
// startupProbe is left to the prober; a failed hook kills the sidecar.
func TestHookerSidecarPostStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	always := "Always"
	ok := &manifests.LifecycleHandler{Sleep: &manifests.SleepAction{}}
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	p.Spec.HostNetwork = true
	p.Spec.InitContainers = []manifests.Container{
		{Name: "side", RestartPolicy: &always, Lifecycle: &manifests.Lifecycle{PostStart: ok}},
		{Name: "probed", RestartPolicy: &always, Lifecycle: &manifests.Lifecycle{PostStart: ok},
			StartupProbe: &manifests.Probe{ProbeHandler: manifests.ProbeHandler{Exec: &manifests.ExecAction{Command: []string{"true"}}}}},
		{Name: "bad", RestartPolicy: &always, Lifecycle: &manifests.Lifecycle{
			PostStart: &manifests.LifecycleHandler{HTTPGet: &manifests.HTTPGetAction{Path: "/started", Port: manifests.FromInt(int32(closed))}}}},
	}
	p.Spec.Containers = []manifests.Container{{Name: "app"}}
	run := time.Now().UTC().Truncate(time.Microsecond)
	running := kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}
	fi := &sidecarInfra{calls: make(chan string, 8)}
	var events []Event
	m := NewManager(Config{Infra: fi, Event: func(e Event) { events = append(events, e) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	l := Layout{State: t.TempDir()}
	for _, c := range p.Spec.InitContainers {
		if err := os.MkdirAll(l.ContainerDir(c.Name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	h, err := m.newHooker(&entry{rec: &record{UID: "u1", Pod: p}, layout: l})
	if err != nil {
		t.Fatal(err)
	}
	h.stop() // the test drives observe itself
	h.target = probe.Target{Dialer: probe.HostDialer(), PodIP: "127.0.0.1"}
	st := infra.PodStatus{InitContainers: []infra.ContainerStatus{{Name: "side", State: running}, {Name: "probed", State: running}, {Name: "bad", State: running}}}
	if got := applyPostStart(&st, h.postStartRuns()); got.InitContainers[0].State.Waiting == nil || got.InitContainers[2].State.Waiting == nil {
		t.Fatalf("sidecars before their hooks ran: %+v", got.InitContainers)
	}
	ctx := context.Background()
	h.observe(ctx, st.InitContainers)
	h.wg.Wait()
	close(fi.calls)
	var calls []string
	for c := range fi.calls {
		calls = append(calls, c)
	}
	slices.Sort(calls)
	want := []string{"kill bad FailedPostStartHook", "started side " + run.Format(time.RFC3339Nano)}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %q, want %q", calls, want)
	}
	if len(events) != 1 || events[0].Reason != kube.EventFailedPostStartHook || events[0].Container != "bad" {
		t.Errorf("events = %+v", events)
	}
	if got := applyPostStart(&st, h.postStartRuns()); got.InitContainers[0].State.Running == nil || got.InitContainers[1].State.Running == nil {
		t.Errorf("sidecars after their hooks succeeded: %+v", got.InitContainers)
	}

	// The infra has not heard side started: told again; once it has, not.
	fi.calls = make(chan string, 8)
	h.observe(ctx, st.InitContainers)
	h.wg.Wait()
	if got := <-fi.calls; got != want[1] {
		t.Errorf("call from the watch = %q, want %q", got, want[1])
	}
	st.InitContainers[0].Started = true
	h.observe(ctx, st.InitContainers[:1])
	h.wg.Wait()
	if len(fi.calls) != 0 {
		t.Errorf("told again once the infra heard it: %q", <-fi.calls)
	}
}

// TestHookerSidecarPreStop: a sidecar the infra shows waiting for its
// preStop hook gets it once per run, then the infra hears it ended; at a
// removal, stopHooks leaves a watch that answers until done.
func TestHookerSidecarPreStop(t *testing.T) {
	fi := &sidecarInfra{calls: make(chan string, 8)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fi.calls <- "hook " + r.URL.Path
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	always := "Always"
	grace := int64(5)
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	p.Spec.HostNetwork = true
	p.Spec.TerminationGracePeriodSeconds = &grace
	p.Spec.InitContainers = []manifests.Container{{Name: "side", RestartPolicy: &always, Lifecycle: &manifests.Lifecycle{
		PreStop: &manifests.LifecycleHandler{HTTPGet: &manifests.HTTPGetAction{Path: "/stop", Port: manifests.FromInt(int32(port))}}}}}
	p.Spec.Containers = []manifests.Container{{Name: "app"}}
	m := NewManager(Config{Infra: fi, Event: func(Event) {}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e := &entry{rec: &record{UID: "u1", Pod: p}, layout: Layout{State: t.TempDir()}}
	h, err := m.newHooker(e)
	if err != nil {
		t.Fatal(err)
	}
	h.stop()
	h.target = probe.Target{Dialer: probe.HostDialer(), PodIP: "127.0.0.1"}
	run := time.Now().UTC().Truncate(time.Microsecond)
	side := infra.ContainerStatus{Name: "side", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}}
	ctx := context.Background()
	h.answerPreStops(ctx, []infra.ContainerStatus{side})
	h.wg.Wait()
	if len(fi.calls) != 0 {
		t.Fatalf("a preStop hook ran while the sidecar does not wait for it: %q", <-fi.calls)
	}
	side.PreStop = true
	h.answerPreStops(ctx, []infra.ContainerStatus{side})
	h.answerPreStops(ctx, []infra.ContainerStatus{side})
	h.wg.Wait()
	want := []string{"hook /stop", "prestopped side " + run.Format(time.RFC3339Nano)}
	for _, w := range want {
		if got := <-fi.calls; got != w {
			t.Fatalf("call = %q, want %q", got, w)
		}
	}
	if len(fi.calls) != 0 {
		t.Fatalf("the hook ran twice for one run: %q", <-fi.calls)
	}

	// A probe kill of the sidecar runs its preStop hook first.
	e.hooks = h
	m.pods[podid.ID("default", "web")] = e
	if left := m.preStopContainer(ctx, podid.ID("default", "web"), "side", 5*time.Second); left > 5*time.Second || left < minStopGrace {
		t.Errorf("left after the kill's preStop = %s", left)
	}
	if got := <-fi.calls; got != "hook /stop" {
		t.Fatalf("call before a probe kill = %q, want the preStop hook", got)
	}

	// A removal: the watch stopHooks leaves answers the next run's wait.
	h, err = m.newHooker(e)
	if err != nil {
		t.Fatal(err)
	}
	h.target = probe.Target{Dialer: probe.HostDialer(), PodIP: "127.0.0.1"}
	e.hooks = h
	left, done := m.stopHooks(ctx, e, 5*time.Second)
	if left != 5*time.Second {
		t.Errorf("left = %s, want the whole grace period (no regular container has a hook)", left)
	}
	run2 := run.Add(time.Minute)
	side.State.Running.StartedAt = run2
	fi.set(infra.PodStatus{InitContainers: []infra.ContainerStatus{side}})
	want = []string{"hook /stop", "prestopped side " + run2.Format(time.RFC3339Nano)}
	for _, w := range want {
		if got := <-fi.calls; got != w {
			t.Fatalf("call during the removal = %q, want %q", got, w)
		}
	}
	done()
	if e.hooks != nil {
		t.Error("the pod's entry keeps its hooker after stopHooks")
	}
}
