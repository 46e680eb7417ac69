package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// namedStatus is the status of container name, init containers
// included; the zero value when the pod has none.
func namedStatus(p api.Pod, name string) api.ContainerStatus {
	for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if c.Name == name {
			return c
		}
	}
	return api.ContainerStatus{}
}

// TestSidecarOutlivesRestartsAndStopsLast: a sidecar keeps its one run
// (same PID) while the main container restarts, and when the pod is
// deleted it is stopped after the main container exited: the main
// container marks its SIGTERM only after a delay, yet its line comes
// first.
func TestSidecarOutlivesRestartsAndStopsLast(t *testing.T) {
	d := startDaemon(t)
	out := filepath.Join(d.dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	d.apply("side.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: side
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: out, hostPath: {path: `+out+`, type: Directory}}]
  initContainers:
  - name: proxy
    image: berth.test/demo:latest
    restartPolicy: Always
    command: ["/bin/demo", "--mark-term=/out/order,proxy", "sleep"]
    volumeMounts: [{name: out, mountPath: /out}]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "--mark-term=/out/order,main,700ms", "sleep", "5"]
    volumeMounts: [{name: out, mountPath: /out}]
`)
	first := namedStatus(d.pod("side"), "proxy")
	if first.State.Running == nil || first.ContainerID == "" || first.Started == nil || !*first.Started {
		t.Fatalf("sidecar after apply: %s", toJSON(first))
	}
	var p api.Pod
	testutil.WaitFor(t, 60*time.Second, "the main container to have restarted twice", func() bool {
		p = d.pod("side")
		return namedStatus(p, "main").RestartCount >= 2
	})
	if side := namedStatus(p, "proxy"); side.ContainerID != first.ContainerID || side.RestartCount != 0 || side.State.Running == nil {
		t.Fatalf("the sidecar did not keep its run across the main container's restarts: was %s, now %s", toJSON(first), toJSON(side))
	}
	if p.Status.Phase != api.PodRunning {
		t.Errorf("phase %s, want Running", p.Status.Phase)
	}
	// Delete while main runs a fresh run (it sleeps 5 s), old enough to
	// have set its SIGTERM handler: a PID 1 without one ignores SIGTERM.
	testutil.WaitFor(t, 30*time.Second, "a fresh run of main", func() bool {
		r := namedStatus(d.pod("side"), "main").State.Running
		return r != nil && time.Since(r.StartedAt) > time.Second && time.Since(r.StartedAt) < 3*time.Second
	})
	d.mustBerth("delete", "-f", filepath.Join(d.dir, "side.yaml"), "--timeout", "30s")
	b, err := os.ReadFile(filepath.Join(out, "order"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "main proxy" {
		t.Errorf("SIGTERM order %q, want main, then proxy", got)
	}
}

// TestJobWithSidecarCompletes: a Job-shaped pod (restartPolicy Never)
// succeeds when its container ends while the sidecar runs; the sidecar is
// then stopped and not restarted.
func TestJobWithSidecarCompletes(t *testing.T) {
	d := startDaemon(t)
	d.apply("job.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: job
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: logship
    image: berth.test/demo:latest
    restartPolicy: Always
    command: ["/bin/demo", "tick", "100ms"]
  containers:
  - name: work
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "1"]
`)
	var p api.Pod
	testutil.WaitFor(t, 30*time.Second, "the job pod to succeed with its sidecar stopped", func() bool {
		p = d.pod("job")
		return p.Status.Phase == api.PodSucceeded && namedStatus(p, "logship").State.Terminated != nil
	})
	work, side := namedStatus(p, "work").State.Terminated, namedStatus(p, "logship").State.Terminated
	if work == nil || work.ExitCode != 0 {
		t.Fatalf("work: %s", toJSON(p.Status))
	}
	if !side.StartedAt.Before(work.FinishedAt) || side.FinishedAt.Before(work.FinishedAt) {
		t.Errorf("the sidecar ran %s to %s, want it running when the job ended at %s", side.StartedAt, side.FinishedAt, work.FinishedAt)
	}
	time.Sleep(1500 * time.Millisecond) // longer than the back-off: a restart would show
	p = d.pod("job")
	if s := namedStatus(p, "logship"); s.RestartCount != 0 || s.State.Terminated == nil || p.Status.Phase != api.PodSucceeded {
		t.Errorf("after completion: %s", toJSON(p.Status))
	}
}

// TestSidecarStartupProbeHoldsTheNextContainers: the init container after
// a sidecar with a startup probe starts only once the probe passed.
func TestSidecarStartupProbeHoldsTheNextContainers(t *testing.T) {
	d := startDaemon(t)
	writeManifest(t, d, "gate.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: gate
spec:
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: proxy
    image: berth.test/demo:latest
    restartPolicy: Always
    command: ["/bin/demo", "serve", "--port", "8080", "--healthy-after", "3s"]
    startupProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
      failureThreshold: 30
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
  - name: after
    image: berth.test/demo:latest
    command: ["/bin/demo", "exit", "0"]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	testutil.WaitFor(t, 30*time.Second, "the sidecar to run", func() bool {
		p, err := api.NewClient(d.sock).Pod(context.Background(), "default", "gate")
		return err == nil && namedStatus(p, "proxy").State.Running != nil
	})
	p := d.pod("gate")
	if after := namedStatus(p, "after"); after.State.Waiting == nil || p.Status.Phase != api.PodPending {
		t.Fatalf("the next init container did not wait for the startup probe: %s", toJSON(p.Status))
	}
	if s := namedStatus(p, "proxy"); s.Started == nil || *s.Started || s.Ready {
		t.Errorf("sidecar before its probe passed: %s", toJSON(s))
	}
	testutil.WaitFor(t, 30*time.Second, "the pod to be ready", func() bool {
		p = d.pod("gate")
		return p.Status.Phase == api.PodRunning && namedStatus(p, "main").Ready && namedStatus(p, "proxy").Ready
	})
	proxy, after := namedStatus(p, "proxy"), namedStatus(p, "after")
	if after.State.Terminated == nil || proxy.State.Running == nil {
		t.Fatalf("status: %s", toJSON(p.Status))
	}
	if held := after.State.Terminated.StartedAt.Sub(proxy.State.Running.StartedAt); held < 3*time.Second {
		t.Errorf("the next init container started %s after the sidecar, before its probe could pass (3s)", held)
	}
}

// TestActiveDeadlineSeconds: past its deadline, counted from the pod's
// start even across a daemon restart, the pod fails with
// DeadlineExceeded, its container is stopped, and nothing restarts it.
func TestActiveDeadlineSeconds(t *testing.T) {
	d := startDaemon(t)
	d.apply("deadline.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: deadline
spec:
  activeDeadlineSeconds: 6
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	p := d.pod("deadline")
	if p.Status.StartTime == nil {
		t.Fatalf("no start time: %s", toJSON(p.Status))
	}
	start := *p.Status.StartTime
	// The daemon goes away for a while and comes back.
	time.Sleep(2 * time.Second)
	d.stop(syscall.SIGKILL)
	time.Sleep(2 * time.Second)
	d.start()
	testutil.WaitFor(t, 30*time.Second, "the pod to fail with DeadlineExceeded", func() bool {
		p = d.pod("deadline")
		return p.Status.Phase == api.PodFailed && namedStatus(p, "main").State.Terminated != nil
	})
	if p.Status.Reason != "DeadlineExceeded" || !strings.Contains(p.Status.Message, "longer than the specified deadline") {
		t.Errorf("reason %q, message %q", p.Status.Reason, p.Status.Message)
	}
	if t0 := p.Status.StartTime; t0 == nil || !t0.Equal(start) {
		t.Errorf("start time %v, was %v", t0, start)
	}
	ended := namedStatus(p, "main").State.Terminated.FinishedAt
	if ran := ended.Sub(start); ran < 6*time.Second || ran > 9*time.Second {
		t.Errorf("the container was stopped %s after the pod's start, want the 6s deadline (from the start, not the daemon's restart)", ran)
	}
	evs, err := api.NewClient(d.sock).Events(context.Background(), time.Time{}, api.PodObject("default", "deadline"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		found = found || e.Reason == "DeadlineExceeded"
	}
	if !found {
		t.Errorf("no DeadlineExceeded event: %s", toJSON(evs))
	}
	time.Sleep(1500 * time.Millisecond) // longer than the back-off: a restart would show
	after := d.pod("deadline")
	if after.Metadata.UID != p.Metadata.UID || namedStatus(after, "main").RestartCount != 0 || after.Status.Phase != api.PodFailed {
		t.Errorf("the failed pod was restarted: %s", toJSON(after.Status))
	}
}
