package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// TestSidecarPostStartHoldsTheNextContainers: a sidecar's postStart hook
// that takes 2 s, then writes a file, holds the regular container until
// it succeeded: the regular container reads the file at its start (it
// would fail and restart without it), and starts at least 2 s after the
// sidecar.
func TestSidecarPostStartHoldsTheNextContainers(t *testing.T) {
	d := startDaemon(t)
	d.place("hold.yaml", "hold", `apiVersion: v1
kind: Pod
metadata:
  name: hold
spec:
  terminationGracePeriodSeconds: 5
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: proxy
    image: berth.test/demo:latest
    restartPolicy: Always
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    lifecycle:
      postStart:
        exec:
          command: ["/bin/demo", "--delay=2s", "publish", "/shared/ready", "proxy is up"]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "read", "/shared/ready"]
    volumeMounts: [{name: shared, mountPath: /shared}]
`)
	var p api.Pod
	testutil.WaitFor(t, probeWait, "the regular container to run", func() bool {
		p = d.pod("hold")
		return namedStatus(p, "main").State.Running != nil
	})
	proxy, main := namedStatus(p, "proxy"), namedStatus(p, "main")
	if proxy.State.Running == nil || proxy.Started == nil || !*proxy.Started {
		t.Fatalf("the sidecar once its hook succeeded: %s", toJSON(proxy))
	}
	if main.RestartCount != 0 {
		t.Errorf("the regular container started before the file was written: %s", toJSON(main))
	}
	if held := main.State.Running.StartedAt.Sub(proxy.State.Running.StartedAt); held < 2*time.Second {
		t.Errorf("the regular container started %s after the sidecar, before its 2 s postStart hook could succeed", held)
	}
	if out := d.mustBerth("logs", "hold", "-c", "main"); !strings.Contains(out, "proxy is up") {
		t.Errorf("the regular container did not read the hook's file:\n%s", out)
	}
}

// TestSidecarPostStartFailureRestarts: a sidecar whose postStart hook
// fails gets FailedPostStartHook, is killed and restarted (a sidecar
// always restarts, here under restartPolicy Never), and the regular
// container never starts meanwhile.
func TestSidecarPostStartFailureRestarts(t *testing.T) {
	d := startDaemon(t)
	d.place("sidefail.yaml", "sidefail", `apiVersion: v1
kind: Pod
metadata:
  name: sidefail
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: proxy
    image: berth.test/demo:latest
    restartPolicy: Always
    command: ["/bin/demo", "sleep"]
    lifecycle:
      postStart:
        exec:
          command: ["/bin/demo", "read", "/no/such/file"]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	var p api.Pod
	testutil.WaitFor(t, probeWait, "the sidecar restarted twice after its failed hooks", func() bool {
		p = d.pod("sidefail")
		return namedStatus(p, "proxy").RestartCount >= 2
	})
	if !d.hasEvent("sidefail", "proxy", "FailedPostStartHook", `Exec lifecycle hook ([/bin/demo read /no/such/file]) for Container "proxy" in Pod "sidefail_default(`) {
		t.Errorf("no FailedPostStartHook event: %s", toJSON(d.podEvents("sidefail")))
	}
	if main := namedStatus(p, "main"); main.State.Running != nil || main.State.Terminated != nil || main.ContainerID != "" || p.Status.Phase != api.PodPending {
		t.Errorf("the regular container started while the sidecar's postStart hook fails: %s", toJSON(p.Status))
	}
	if d.hasEvent("sidefail", "main", "Started", "") {
		t.Errorf("the regular container has a Started event: %s", toJSON(d.podEvents("sidefail")))
	}
}

// TestSidecarPreStopAfterTheContainersAtDelete: at a delete, the
// sidecar's preStop hook runs once the regular container stopped (which
// marks its SIGTERM in a shared file after 700 ms) and before the
// sidecar's own stop signal: the hook prints that file into the sidecar's
// log, which shows it before "got SIGTERM".
func TestSidecarPreStopAfterTheContainersAtDelete(t *testing.T) {
	d := startDaemon(t)
	d.apply("sidestop.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: sidestop
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: proxy
    image: berth.test/demo:latest
    restartPolicy: Always
    command: ["/bin/demo", "--sigterm=log", "sleep"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    lifecycle:
      preStop:
        exec:
          command: ["/bin/demo", "--out=/proc/1/fd/1", "read", "/shared/order"]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "--mark-term=/shared/order,main stopped,700ms", "sleep"]
    volumeMounts: [{name: shared, mountPath: /shared}]
`)
	testutil.WaitFor(t, probeWait, "the sidecar handling stop signals", func() bool {
		out, err := d.berth("logs", "sidestop", "-c", "proxy")
		return err == nil && strings.Contains(out, "waiting for a stop signal")
	})
	follow := exec.Command(berthBin, d.args("logs", "-f", "sidestop", "-c", "proxy")...)
	var out syncBuffer
	follow.Stdout, follow.Stderr = &out, &out
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		follow.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		follow.Process.Kill()
		<-done
	})
	d.mustBerth("delete", "pod", "sidestop", "--timeout", "60s")
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("berth logs -f did not end after the pod went; so far:\n%s", out.String())
	}
	if !inOrder(out.String(), "main stopped", "got SIGTERM") {
		t.Errorf("the sidecar's log does not show its preStop hook's output (the regular container stopped), then SIGTERM:\n%s", out.String())
	}
}

// TestJobWithSidecarPreStop: a Job-shaped pod completes with its sidecar
// running; the sidecar's preStop hook then runs (it writes a file on the
// host) before the sidecar's stop signal, and the pod succeeds.
func TestJobWithSidecarPreStop(t *testing.T) {
	d := startDaemon(t)
	out := filepath.Join(d.dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	d.place("jobstop.yaml", "jobstop", `apiVersion: v1
kind: Pod
metadata:
  name: jobstop
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 20
  volumes: [{name: out, hostPath: {path: `+out+`, type: Directory}}]
  initContainers:
  - name: logship
    image: berth.test/demo:latest
    restartPolicy: Always
    command: ["/bin/demo", "--mark-term=/out/order,logship stopped", "sleep"]
    volumeMounts: [{name: out, mountPath: /out}]
    lifecycle:
      preStop:
        exec:
          command: ["/bin/demo", "append", "/out/order", "prestop ran\n"]
  containers:
  - name: work
    image: berth.test/demo:latest
    command: ["/bin/demo", "exit", "0"]
    volumeMounts: [{name: out, mountPath: /out}]
`)
	var p api.Pod
	testutil.WaitFor(t, probeWait, "the job pod to succeed with its sidecar stopped", func() bool {
		p = d.pod("jobstop")
		return p.Status.Phase == api.PodSucceeded && namedStatus(p, "logship").State.Terminated != nil
	})
	if side := namedStatus(p, "logship").State.Terminated; side.ExitCode != 0 {
		t.Errorf("the sidecar did not stop on its stop signal (killed at the grace period's end?): %s", toJSON(side))
	}
	b, err := os.ReadFile(filepath.Join(out, "order"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(string(b)), "\n"); strings.Join(got, ",") != "prestop ran,logship stopped" {
		t.Errorf("order %q, want the sidecar's preStop hook, then its stop signal", got)
	}
}

// TestSidecarPreStopOnLivenessKill: a sidecar its liveness probe kills
// runs its preStop hook first, and is restarted.
func TestSidecarPreStopOnLivenessKill(t *testing.T) {
	d := startDaemon(t)
	d.apply("sidelive.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: sidelive
spec:
  terminationGracePeriodSeconds: 10
  initContainers:
  - name: proxy
    image: berth.test/demo:latest
    restartPolicy: Always
    command: ["/bin/demo", "--sigterm=log", "serve", "--port", "8080", "--unhealthy-file", "/tmp/unhealthy"]
    livenessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
      failureThreshold: 2
    lifecycle:
      preStop:
        exec:
          command: ["/bin/demo", "write", "/proc/1/fd/1", "prestop ran\n"]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	testutil.WaitFor(t, probeWait, "the sidecar handling stop signals", func() bool {
		out, err := d.berth("logs", "sidelive", "-c", "proxy")
		return err == nil && strings.Contains(out, "waiting for a stop signal")
	})
	testutil.WaitFor(t, probeWait, "the unhealthy file written", func() bool {
		_, err := d.berth("exec", "sidelive", "-c", "proxy", "--", "/bin/demo", "write", "/tmp/unhealthy", "x")
		return err == nil
	})
	testutil.WaitFor(t, probeWait, "the sidecar restarted after the liveness failure", func() bool {
		c := namedStatus(d.pod("sidelive"), "proxy")
		return c.RestartCount >= 1 && c.State.Running != nil
	})
	if out := d.mustBerth("logs", "sidelive", "-c", "proxy", "--previous"); !inOrder(out, "prestop ran", "got SIGTERM") {
		t.Errorf("the killed sidecar's log does not show its preStop hook, then SIGTERM:\n%s", out)
	}
}
