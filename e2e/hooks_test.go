package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// hookPodYAML is a pod with one demo container, the given grace period and
// the container's extra YAML (lifecycle, ports, ...), indented for it.
func hookPodYAML(name string, grace int, command, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  os:
    name: linux
  terminationGracePeriodSeconds: %d
  containers:
  - name: app
    image: berth.test/demo:latest
    command: %s
%s`, name, grace, command, extra)
}

// place writes a manifest into the daemon's manifest directory, for a pod
// that `berth apply` would not see become ready, and waits for the pod.
func (d *daemon) place(name, pod, yaml string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.manifests, name), []byte(yaml), 0o644); err != nil {
		d.t.Fatal(err)
	}
	testutil.WaitFor(d.t, probeWait, "pod "+pod, func() bool {
		for _, p := range d.pods() {
			if p.Metadata.Name == pod {
				return true
			}
		}
		return false
	})
}

// waitRunning waits until container ctr of pod name shows running.
func (d *daemon) waitRunning(name, ctr string) {
	d.t.Helper()
	testutil.WaitFor(d.t, probeWait, name+"/"+ctr+" running", func() bool {
		return ctrStatus(d.t, d.pod(name), ctr).State.Running != nil
	})
}

// deleteFollowingLogs deletes pod name while `berth logs -f` follows its
// container, and returns everything the container logged to its end.
func (d *daemon) deleteFollowingLogs(name string) string {
	d.t.Helper()
	return d.followingLogs(name, func() { d.mustBerth("delete", "pod", name, "--timeout", "60s") })
}

// followingLogs runs end (a delete, a replacing apply) while `berth logs
// -f` follows pod name's container, and returns everything that run of the
// container logged.
func (d *daemon) followingLogs(name string, end func()) string {
	d.t.Helper()
	// The workload (--sigterm=log) says when it handles stop signals: as
	// PID 1 of its pid namespace, it ignores one that comes before.
	testutil.WaitFor(d.t, probeWait, name+" handling stop signals", func() bool {
		out, err := d.berth("logs", name)
		return err == nil && strings.Contains(out, "waiting for a stop signal")
	})
	follow := exec.Command(berthBin, d.args("logs", "-f", name)...)
	var out syncBuffer
	follow.Stdout, follow.Stderr = &out, &out
	if err := follow.Start(); err != nil {
		d.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		follow.Wait()
		close(done)
	}()
	d.t.Cleanup(func() {
		follow.Process.Kill()
		<-done
	})
	end()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		d.t.Fatalf("berth logs -f did not end after the pod went; so far:\n%s", out.String())
	}
	return out.String()
}

// inOrder says whether the lines of out contain each of want, in order.
func inOrder(out string, want ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		if len(want) > 0 && strings.Contains(line, want[0]) {
			want = want[1:]
		}
	}
	return len(want) == 0
}

// TestLifecyclePreStopExecRunsBeforeStopSignal: deleting a pod runs the
// preStop hook in the container (it writes to the container's stdout, so
// into its log) before the container gets SIGTERM, which it logs.
func TestLifecyclePreStopExecRunsBeforeStopSignal(t *testing.T) {
	d := startDaemon(t)
	d.apply("prestop.yaml", hookPodYAML("prestop", 10, `["/bin/demo", "--sigterm=log", "sleep"]`, `    lifecycle:
      preStop:
        exec:
          command: ["/bin/demo", "write", "/proc/1/fd/1", "prestop ran\n"]
`))
	d.waitRunning("prestop", "app")
	out := d.deleteFollowingLogs("prestop")
	if !inOrder(out, "prestop ran", "got SIGTERM") {
		t.Errorf("the log does not show the preStop hook's line, then SIGTERM:\n%s", out)
	}
}

// TestLifecyclePreStopOnReplace: the container's preStop hook runs before
// its SIGTERM when a pod-level change replaces the pod, and when a
// container-level change restarts the container in place.
func TestLifecyclePreStopOnReplace(t *testing.T) {
	d := startDaemon(t)
	pod := func(grace int, arg string) string {
		return hookPodYAML("replace", grace, `["/bin/demo", "--sigterm=log", "sleep", "`+arg+`"]`, `    lifecycle:
      preStop:
        exec:
          command: ["/bin/demo", "write", "/proc/1/fd/1", "prestop ran\n"]
`)
	}
	d.apply("replace.yaml", pod(10, "1h"))
	d.waitRunning("replace", "app")
	// A pod-level change (the grace period) replaces the pod.
	out := d.followingLogs("replace", func() { d.apply("replace.yaml", pod(11, "1h")) })
	if !inOrder(out, "prestop ran", "got SIGTERM") {
		t.Errorf("the replaced pod's log does not show the preStop hook's line, then SIGTERM:\n%s", out)
	}
	// A change of the container's command restarts it in place: its
	// preStop hook runs first all the same.
	d.waitRunning("replace", "app")
	testutil.WaitFor(t, probeWait, "the new pod handling stop signals", func() bool {
		out, err := d.berth("logs", "replace")
		return err == nil && strings.Contains(out, "waiting for a stop signal")
	})
	d.apply("replace.yaml", pod(11, "2h"))
	testutil.WaitFor(t, probeWait, "the container restarted in place", func() bool {
		p := d.pod("replace")
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount == 1
	})
	if out := d.mustBerth("logs", "--previous", "replace"); !inOrder(out, "prestop ran", "got SIGTERM") {
		t.Errorf("the run an update ended does not show the preStop hook's line, then SIGTERM:\n%s", out)
	}
}

// TestLifecycleStopSignal: lifecycle.stopSignal reaches the container
// instead of SIGTERM, on delete.
func TestLifecycleStopSignal(t *testing.T) {
	d := startDaemon(t)
	d.apply("usr1.yaml", hookPodYAML("usr1", 10, `["/bin/demo", "--sigterm=log", "sleep"]`, `    lifecycle:
      stopSignal: SIGUSR1
`))
	d.waitRunning("usr1", "app")
	out := d.deleteFollowingLogs("usr1")
	if !strings.Contains(out, "got SIGUSR1") || strings.Contains(out, "got SIGTERM") {
		t.Errorf("the container did not get SIGUSR1 (and only it):\n%s", out)
	}
}

// TestLifecyclePostStartHoldsRunning: a postStart hook that takes a while
// holds the container in ContainerCreating until it succeeds; the
// container shows running after, and the hook ran in the container.
func TestLifecyclePostStartHoldsRunning(t *testing.T) {
	d := startDaemon(t)
	d.place("poststart.yaml", "poststart", hookPodYAML("poststart", 5, `["/bin/demo", "sleep"]`, `    lifecycle:
      postStart:
        exec:
          command: ["/bin/demo", "--then-sleep", "publish", "/tmp/started", "yes"]
`))
	// The hook never ends by itself: the container stays waiting.
	testutil.WaitFor(t, probeWait, "the hook to run", func() bool {
		out, err := d.berth("exec", "poststart", "--", "/bin/demo", "read", "/tmp/started")
		return err == nil && out == "yes\n"
	})
	c := ctrStatus(t, d.pod("poststart"), "app")
	if w := c.State.Waiting; w == nil || w.Reason != "ContainerCreating" || c.Ready {
		t.Fatalf("container while its postStart hook runs: %s, want waiting ContainerCreating, not ready", toJSON(c))
	}
	if !strings.Contains(d.mustBerth("get", "pods"), "0/1") {
		t.Errorf("get pods does not show 0/1 ready while the hook runs")
	}
}

// TestLifecyclePostStartExecSucceeds: a postStart hook that succeeds
// lets the container show running and ready, once.
func TestLifecyclePostStartExecSucceeds(t *testing.T) {
	d := startDaemon(t)
	d.apply("ok.yaml", hookPodYAML("ok", 5, `["/bin/demo", "--sigterm=log", "sleep"]`, `    lifecycle:
      postStart:
        exec:
          command: ["/bin/demo", "write", "/proc/1/fd/1", "poststart ran\n"]
`))
	d.waitReady("ok", "app", true)
	if out := d.mustBerth("logs", "ok"); !strings.Contains(out, "poststart ran") {
		t.Errorf("the hook's line is not in the log:\n%s", out)
	}
	// A daemon restart does not run the hook of that run again.
	d.stop(syscall.SIGTERM)
	d.start()
	d.waitReady("ok", "app", true)
	if out := d.mustBerth("logs", "ok"); strings.Count(out, "poststart ran") != 1 {
		t.Errorf("the hook ran again for the same run:\n%s", out)
	}
}

// TestLifecyclePostStartFailureKills: a postStart hook that fails gets the
// kubelet's FailedPostStartHook event with its output, the container is
// killed (its preStop hook runs first) and restarted, its restart count
// going up.
func TestLifecyclePostStartFailureKills(t *testing.T) {
	d := startDaemon(t)
	// The hook fails once the workload wrote /tmp/up, after it set its
	// SIGTERM handler: a PID 1 without one ignores SIGTERM.
	d.place("fail.yaml", "fail", hookPodYAML("fail", 5, `["/bin/demo", "--sigterm=log", "--then-sleep", "write", "/tmp/up", "up"]`, `    lifecycle:
      postStart:
        exec:
          command: ["/bin/demo", "--after=/tmp/up", "read", "/no/such/file"]
      preStop:
        exec:
          command: ["/bin/demo", "write", "/proc/1/fd/1", "prestop ran\n"]
`))
	testutil.WaitFor(t, probeWait, "a restart after the failed hook", func() bool {
		return ctrStatus(t, d.pod("fail"), "app").RestartCount >= 1
	})
	if !d.hasEvent("fail", "app", "FailedPostStartHook", `Exec lifecycle hook ([/bin/demo --after=/tmp/up read /no/such/file]) for Container "app" in Pod "fail_default(`) ||
		!d.hasEvent("fail", "app", "FailedPostStartHook", "no such file or directory") {
		t.Errorf("no FailedPostStartHook event with the hook's output: %s", toJSON(d.podEvents("fail")))
	}
	if !d.hasEvent("fail", "app", "Killing", "FailedPostStartHook") {
		t.Errorf("no Killing event: %s", toJSON(d.podEvents("fail")))
	}
	if c := ctrStatus(t, d.pod("fail"), "app"); c.State.Running != nil || c.Ready {
		t.Errorf("a container whose postStart hook fails shows running: %s", toJSON(c))
	}
	if out := d.mustBerth("logs", "fail", "--previous"); !inOrder(out, "prestop ran", "got SIGTERM") {
		t.Errorf("the killed run's log does not show its preStop hook, then SIGTERM:\n%s", out)
	}
}

// TestLifecyclePreStopOnLivenessKill: a container killed by its liveness
// probe runs its preStop hook first; the run's log shows the hook's line
// before SIGTERM.
func TestLifecyclePreStopOnLivenessKill(t *testing.T) {
	d := startDaemon(t)
	d.apply("live.yaml", hookPodYAML("live", 10, `["/bin/demo", "--sigterm=log", "serve", "--port", "8080", "--unhealthy-file", "/tmp/unhealthy"]`, `    livenessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
      failureThreshold: 2
    lifecycle:
      preStop:
        exec:
          command: ["/bin/demo", "write", "/proc/1/fd/1", "prestop ran\n"]
`))
	d.waitRunning("live", "app")
	// An exec may meet a run the probe just ended (the server was not
	// up for its first probe): try again.
	testutil.WaitFor(t, probeWait, "the unhealthy file written", func() bool {
		_, err := d.berth("exec", "live", "--", "/bin/demo", "write", "/tmp/unhealthy", "x")
		return err == nil
	})
	testutil.WaitFor(t, probeWait, "restart after the liveness failure", func() bool {
		c := ctrStatus(t, d.pod("live"), "app")
		return c.RestartCount >= 1 && c.State.Running != nil
	})
	if out := d.mustBerth("logs", "live", "--previous"); !inOrder(out, "prestop ran", "got SIGTERM") {
		t.Errorf("the killed run's log does not show its preStop hook, then SIGTERM:\n%s", out)
	}
}

// TestLifecycleHTTPGetAndSleepHooks: a sleep postStart hook holds the
// container out of running for its seconds; an httpGet preStop hook
// reaches the pod's own server on a named port with its path and headers,
// before the stop signal.
func TestLifecycleHTTPGetAndSleepHooks(t *testing.T) {
	d := startDaemon(t)
	start := time.Now()
	d.apply("http.yaml", hookPodYAML("http", 10, `["/bin/demo", "--sigterm=log", "serve", "--port", "8080"]`, `    ports:
    - name: web
      containerPort: 8080
    lifecycle:
      postStart:
        sleep:
          seconds: 2
      preStop:
        httpGet:
          path: /log?hook=preStop
          port: web
          httpHeaders:
          - name: X-Hook
            value: stopping
`))
	d.waitReady("http", "app", true)
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("the container was ready %s after the apply: the 2 s sleep hook did not hold it", took)
	}
	out := d.deleteFollowingLogs("http")
	if !inOrder(out, "GET /log?hook=preStop X-Hook=stopping", "got SIGTERM") {
		t.Errorf("the log does not show the httpGet hook's request, then SIGTERM:\n%s", out)
	}
}
