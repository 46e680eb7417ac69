package pod

import (
	"slices"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

func TestPhase(t *testing.T) {
	running := infra.ContainerStatus{State: kube.ContainerState{Running: &kube.StateRunning{}}}
	exited := func(code int32) infra.ContainerStatus {
		return infra.ContainerStatus{State: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: code}}}
	}
	backingOff := infra.ContainerStatus{RestartCount: 1,
		State:     kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonCrashLoopBackOff}},
		LastState: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 1}}}
	waiting := infra.ContainerStatus{State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "ContainerCreating"}}}
	for _, tc := range []struct {
		name   string
		policy string
		st     infra.PodStatus
		want   string
	}{
		{"not started", "Always", infra.PodStatus{}, kube.PodPending},
		{"running", "Always", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{running}}, kube.PodRunning},
		{"crash loop is still Running", "Always", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{backingOff}}, kube.PodRunning},
		{"creating", "Always", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{waiting}}, kube.PodPending},
		{"all succeeded", "Never", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{exited(0), exited(0)}}, kube.PodSucceeded},
		{"one failed", "Never", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{exited(0), exited(3)}}, kube.PodFailed},
		{"one still running", "Never", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{exited(3), running}}, kube.PodRunning},
		{"init running", "Always", infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{running}, Containers: []infra.ContainerStatus{waiting}}, kube.PodPending},
		{"init failed, Never", "Never", infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{exited(1)}, Containers: []infra.ContainerStatus{waiting}}, kube.PodFailed},
		{"init failed, OnFailure retries", "OnFailure", infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{exited(1)}, Containers: []infra.ContainerStatus{waiting}}, kube.PodPending},
		{"init done", "Always", infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{exited(0)}, Containers: []infra.ContainerStatus{running}}, kube.PodRunning},
	} {
		if got := phase(tc.policy, nil, &tc.st); got != tc.want {
			t.Errorf("%s: phase %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCreatingStatusNames(t *testing.T) {
	ctr := func(names ...string) []manifests.Container {
		var out []manifests.Container
		for _, n := range names {
			out = append(out, manifests.Container{Name: n, Image: "img"})
		}
		return out
	}
	plain := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "p", Namespace: "default"}, Spec: manifests.PodSpec{Containers: ctr("a", "b")}}
	withInit := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "q", Namespace: "default"}, Spec: manifests.PodSpec{InitContainers: ctr("setup"), Containers: ctr("a")}}
	notStarted := &infra.PodStatus{Containers: []infra.ContainerStatus{
		{Name: "a", State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonPodInitializing}}},
	}}
	// waits returns the pod's reason, else the waiting reason of every
	// container, init containers first.
	waits := func(v View) []string {
		if v.Reason != "" {
			return []string{v.Reason}
		}
		var out []string
		for _, c := range append(v.InitContainers, v.Containers...) {
			if c.State.Waiting == nil {
				out = append(out, "not waiting")
				continue
			}
			out = append(out, c.State.Waiting.Reason)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		pod  View
		want []string
	}{
		{"being created", creatingPod(plain, "/m/p.yaml", time.Now()), []string{"ContainerCreating", "ContainerCreating"}},
		{"being created, init first", creatingPod(withInit, "/m/q.yaml", time.Now()), []string{"PodInitializing", "PodInitializing"}},
		{"infra up, not started", podView(&record{Pod: plain}, notStarted, false, "", nil), []string{"ContainerCreating", "ContainerCreating"}},
		{"terminating", podView(&record{Pod: plain}, &infra.PodStatus{Started: true, Stopping: true}, false, "", nil), []string{"Terminating"}},
	} {
		if got := waits(tc.pod); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if tc.pod.Phase != kube.PodPending && tc.want[0] != "Terminating" {
			t.Errorf("%s: phase %s, want Pending", tc.name, tc.pod.Phase)
		}
	}
	if p := creatingPod(plain, "/m/p.yaml", time.Now()); p.File != "/m/p.yaml" || len(p.Containers) != 2 {
		t.Errorf("creating pod: %+v", p)
	}
}

func TestPodEvents(t *testing.T) {
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "web", Namespace: "prod"}}
	t0 := time.Unix(100, 0)
	got := podEvents(p, []infra.Event{{FirstTime: t0, Time: t0.Add(time.Minute), Count: 3, Type: kube.EventWarning, Reason: kube.EventBackOff, Container: "srv", Message: "m"}})
	want := Event{FirstTime: t0, Time: t0.Add(time.Minute), Count: 3, Type: "Warning", Reason: "BackOff", Namespace: "prod", Name: "web", Container: "srv", Message: "m"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("podEvents = %+v, want %+v", got, want)
	}
	for r, want := range map[string]string{
		kube.ReasonImageNotFound:     kube.EventImageNotFound,
		kube.ReasonCreateFailed:      kube.EventFailed,
		kube.ReasonErrImagePull:      kube.EventFailed,
		kube.ReasonImagePullBackOff:  kube.EventBackOff,
		kube.ReasonContainerCreating: "",
	} {
		if got := failedEventReason(r); got != want {
			t.Errorf("failedEventReason(%s) = %q, want %q", r, got, want)
		}
	}
}

// TestPodViewAddresses: the host's address on the pod network is every
// pod's host IP, and a pod on the host's network has it as its own, as
// the kubelet says.
func TestPodViewAddresses(t *testing.T) {
	for _, tc := range []struct {
		name               string
		hostNetwork        bool
		recIP, hostIP      string
		wantIP, wantHostIP string
	}{
		{"pod network", false, "10.88.0.5", "10.88.0.1", "10.88.0.5", "10.88.0.1"},
		{"host network", true, "", "10.88.0.1", "10.88.0.1", "10.88.0.1"},
		{"no network yet", false, "", "", "", ""},
	} {
		rec := &record{Pod: &manifests.Pod{Spec: manifests.PodSpec{HostNetwork: tc.hostNetwork}}, IP: tc.recIP}
		v := podView(rec, nil, false, tc.hostIP, nil)
		if v.IP != tc.wantIP || v.HostIP != tc.wantHostIP {
			t.Errorf("%s: ip %q, host ip %q; want %q, %q", tc.name, v.IP, v.HostIP, tc.wantIP, tc.wantHostIP)
		}
	}
}

// TestApplyProbes: a container with probes is started once its startup
// probe succeeded and ready once its readiness probe does, for the run the
// view shows only; one without probes keeps ready-when-running.
func TestApplyProbes(t *testing.T) {
	run := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := kube.ContainerState{Running: &kube.StateRunning{StartedAt: run}}
	waiting := kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonCrashLoopBackOff}}
	tests := []struct {
		name                 string
		state                kube.ContainerState
		probed               *probeStatus
		wantStarted, wantRdy bool
	}{
		{"no probes, running", running, nil, true, true},
		{"ready", running, &probeStatus{run: run, started: true, ready: true}, true, true},
		{"readiness failing", running, &probeStatus{run: run, started: true}, true, false},
		{"startup pending", running, &probeStatus{run: run}, false, false},
		{"results of an earlier run", running, &probeStatus{run: run.Add(-time.Minute), started: true, ready: true}, false, false},
		{"not running", waiting, &probeStatus{run: run, started: true, ready: true}, false, false},
	}
	for _, tt := range tests {
		running := tt.state.Running != nil
		cs := []ContainerView{{Name: "app", State: tt.state, Ready: running, Started: &running}}
		probed := map[string]probeStatus{}
		var wantProbedAt time.Time
		if tt.probed != nil {
			ps := *tt.probed
			ps.changed = ps.run.Add(time.Second)
			probed["app"] = ps
			if running && ps.run.Equal(run) {
				wantProbedAt = ps.changed
			}
		}
		applyProbes(cs, probed)
		if *cs[0].Started != tt.wantStarted || cs[0].Ready != tt.wantRdy || !cs[0].ProbedAt.Equal(wantProbedAt) {
			t.Errorf("%s: started %v ready %v probed at %v, want %v %v %v", tt.name, *cs[0].Started, cs[0].Ready, cs[0].ProbedAt, tt.wantStarted, tt.wantRdy, wantProbedAt)
		}
	}
}

// TestProbeStatusesWhilePending: until its prober runs (right after the
// create, which shows the pod at once), a container with probes is
// neither started nor ready, one without is; once startProbes gave up, the
// pod shows as it would without probes.
func TestProbeStatusesWhilePending(t *testing.T) {
	always := "Always"
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "gate"}}
	p.Spec.RestartPolicy = "Always"
	p.Spec.InitContainers = []manifests.Container{{Name: "proxy", RestartPolicy: &always, StartupProbe: &manifests.Probe{}}}
	p.Spec.Containers = []manifests.Container{{Name: "web", ReadinessProbe: &manifests.Probe{}}, {Name: "plain"}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := func(name string) infra.ContainerStatus {
		return infra.ContainerStatus{Name: name, State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: t0}}}
	}
	st := &infra.PodStatus{Started: true, StartedAt: t0, InitContainers: []infra.ContainerStatus{running("proxy")},
		Containers: []infra.ContainerStatus{running("web"), running("plain")}}
	rec := &record{Pod: p}
	for _, tc := range []struct {
		name    string
		pending bool
		want    map[string]bool // ready by container
	}{
		{"prober pending", true, map[string]bool{"proxy": false, "web": false, "plain": true}},
		{"probes could not start", false, map[string]bool{"proxy": true, "web": true, "plain": true}},
	} {
		v := podView(rec, st, false, "", podState{rec: rec, probesPending: tc.pending}.probeStatuses())
		for _, c := range append(v.InitContainers, v.Containers...) {
			if c.Ready != tc.want[c.Name] || c.Started != nil && *c.Started != tc.want[c.Name] {
				t.Errorf("%s: %s ready %v started %v, want %v", tc.name, c.Name, c.Ready, c.Started, tc.want[c.Name])
			}
		}
	}
}

// TestPostStartRunsWhilePending: until its hooker runs, a container with
// a postStart hook shows as created, not running; once startHooks gave
// up, the pod shows as it would without hooks.
func TestPostStartRunsWhilePending(t *testing.T) {
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "hooked"}}
	p.Spec.RestartPolicy = "Always"
	p.Spec.Containers = []manifests.Container{
		{Name: "web", Lifecycle: &manifests.Lifecycle{PostStart: &manifests.LifecycleHandler{}}}, {Name: "plain"}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := func(name string) infra.ContainerStatus {
		return infra.ContainerStatus{Name: name, State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: t0}}}
	}
	st := &infra.PodStatus{Started: true, StartedAt: t0, Containers: []infra.ContainerStatus{running("web"), running("plain")}}
	rec := &record{Pod: p}
	for _, tc := range []struct {
		name    string
		pending bool
		want    map[string]bool // running by container
	}{
		{"hooker pending", true, map[string]bool{"web": false, "plain": true}},
		{"hooks could not start", false, map[string]bool{"web": true, "plain": true}},
	} {
		s := podState{rec: rec, hooksPending: tc.pending}
		v := podView(rec, applyPostStart(st, s.postStartRuns()), false, "", nil)
		for _, c := range v.Containers {
			if got := c.State.Running != nil; got != tc.want[c.Name] {
				t.Errorf("%s: %s running %v, want %v (%+v)", tc.name, c.Name, got, tc.want[c.Name], c.State)
			}
		}
	}
}

// TestPhaseWithSidecars: sidecars must have started for the pod to leave
// Pending, and then count for nothing: the regular containers decide,
// so a Job-shaped pod completes while its sidecar still runs.
func TestPhaseWithSidecars(t *testing.T) {
	named := func(name string, s infra.ContainerStatus) infra.ContainerStatus { s.Name = name; return s }
	running := infra.ContainerStatus{State: kube.ContainerState{Running: &kube.StateRunning{}}}
	started := running
	started.Started = true
	exited := func(code int32) infra.ContainerStatus {
		return infra.ContainerStatus{State: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: code}}}
	}
	initializing := infra.ContainerStatus{State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonPodInitializing}}}
	sidecars := map[string]bool{"proxy": true}
	pod := func(side infra.ContainerStatus, ctrs ...infra.ContainerStatus) infra.PodStatus {
		return infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{named("proxy", side)}, Containers: ctrs}
	}
	for _, tc := range []struct {
		name   string
		policy string
		st     infra.PodStatus
		want   string
	}{
		{"sidecar not started yet", "Always", pod(running, initializing), kube.PodPending},
		{"sidecar never ran", "Always", pod(initializing, initializing), kube.PodPending},
		{"sidecar started, app running", "Always", pod(started, running), kube.PodRunning},
		{"sidecar restarting under its probe, app running", "Always", pod(running, running), kube.PodRunning},
		{"job done, sidecar still running", "Never", pod(started, exited(0)), kube.PodSucceeded},
		{"job failed, sidecar still running", "Never", pod(started, exited(2)), kube.PodFailed},
		{"job done, sidecar stopped", "OnFailure", pod(exited(143), exited(0)), kube.PodSucceeded},
		{"deadline exceeded", "Always", infra.PodStatus{Started: true, Reason: kube.ReasonDeadlineExceeded, Containers: []infra.ContainerStatus{exited(0)}}, kube.PodFailed},
	} {
		if got := phase(tc.policy, sidecars, &tc.st); got != tc.want {
			t.Errorf("%s: phase %s, want %s", tc.name, got, tc.want)
		}
	}
}
