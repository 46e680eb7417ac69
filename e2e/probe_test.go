package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// probeWait bounds each wait of these tests: probes run every second.
const probeWait = 40 * time.Second

// probePodYAML is a pod of the given containers (YAML list items) with a
// short grace period.
func probePodYAML(name, containers string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 2
  containers:
%s`, name, containers)
}

// ctrStatus returns container ctr's status in pod p.
func ctrStatus(t *testing.T, p api.Pod, ctr string) api.ContainerStatus {
	t.Helper()
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == ctr {
			return c
		}
	}
	t.Fatalf("pod %s has no container %s: %s", p.Metadata.Name, ctr, toJSON(p.Status))
	return api.ContainerStatus{}
}

// podCondition returns the status of the pod's condition typ.
func podCondition(p api.Pod, typ string) string {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

// podEvents returns the events of pod name.
func (d *daemon) podEvents(name string) []api.Event {
	d.t.Helper()
	evs, err := api.NewClient(d.sock).Events(context.Background(), time.Time{}, api.PodObject("default", name))
	if err != nil {
		d.t.Fatal(err)
	}
	return evs
}

// hasEvent says whether pod name has an event of reason whose message
// contains msg, for container ctr.
func (d *daemon) hasEvent(name, ctr, reason, msg string) bool {
	for _, e := range d.podEvents(name) {
		if e.Reason == reason && e.Container == ctr && strings.Contains(e.Message, msg) {
			return true
		}
	}
	return false
}

// waitReady waits until container ctr of pod name is ready (or not).
func (d *daemon) waitReady(name, ctr string, ready bool) {
	d.t.Helper()
	testutil.WaitFor(d.t, probeWait, fmt.Sprintf("%s/%s ready=%v", name, ctr, ready), func() bool {
		return ctrStatus(d.t, d.pod(name), ctr).Ready == ready
	})
}

// checkPodReady checks the pod's Ready and ContainersReady conditions.
func (d *daemon) checkPodReady(name string, ready bool) {
	d.t.Helper()
	want := api.ConditionFalse
	if ready {
		want = api.ConditionTrue
	}
	p := d.pod(name)
	if podCondition(p, api.PodReady) != want || podCondition(p, "ContainersReady") != want {
		d.t.Errorf("pod %s: want Ready and ContainersReady %s: %s", name, want, toJSON(p.Status.Conditions))
	}
}

// TestProbeLivenessRestarts: a liveness probe that fails gets the
// container killed and restarted, with the kubelet's Unhealthy and Killing
// events; the new run (fresh writable layer, no unhealthy file) is live.
func TestProbeLivenessRestarts(t *testing.T) {
	d := startDaemon(t)
	d.apply("live.yaml", probePodYAML("live", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "serve", "--port", "8080", "--unhealthy-file", "/tmp/unhealthy"]
    livenessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
      failureThreshold: 2
      terminationGracePeriodSeconds: 1
`))
	d.waitReady("live", "app", true)
	if n := ctrStatus(t, d.pod("live"), "app").RestartCount; n != 0 {
		t.Fatalf("restart count %d before the probe failed", n)
	}
	d.mustBerth("exec", "live", "--", "/bin/demo", "write", "/tmp/unhealthy", "x")
	testutil.WaitFor(t, probeWait, "restart after the liveness failure", func() bool {
		c := ctrStatus(t, d.pod("live"), "app")
		return c.RestartCount >= 1 && c.State.Running != nil
	})
	if !d.hasEvent("live", "app", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500") {
		t.Errorf("no Unhealthy event: %s", toJSON(d.podEvents("live")))
	}
	if !d.hasEvent("live", "app", "Killing", "Container app failed liveness probe, will be restarted") {
		t.Errorf("no Killing event: %s", toJSON(d.podEvents("live")))
	}
}

// TestProbeReadinessFlips: a readiness probe sets the container's ready
// and the pod's Ready and ContainersReady, both ways, without restarts; a
// container without probes stays ready while it runs; after a daemon
// restart the adopted pod is probed again.
func TestProbeReadinessFlips(t *testing.T) {
	d := startDaemon(t)
	d.apply("ready.yaml", probePodYAML("ready", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "serve", "--port", "8080", "--unhealthy-file", "/tmp/unready"]
    readinessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
  - name: plain
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`))
	d.waitReady("ready", "app", true)
	d.checkPodReady("ready", true)
	d.mustBerth("exec", "ready", "-c", "app", "--", "/bin/demo", "write", "/tmp/unready", "x")
	d.waitReady("ready", "app", false)
	d.checkPodReady("ready", false)
	if !d.hasEvent("ready", "app", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500") {
		t.Errorf("no Unhealthy event: %s", toJSON(d.podEvents("ready")))
	}
	p := d.pod("ready")
	if !ctrStatus(t, p, "plain").Ready {
		t.Errorf("the container without probes is not ready: %s", toJSON(p.Status))
	}
	if out := d.mustBerth("get", "pods"); !strings.Contains(out, "1/2") {
		t.Errorf("get pods does not show 1/2 ready:\n%s", out)
	}
	d.mustBerth("exec", "ready", "-c", "app", "--", "/bin/demo", "remove", "/tmp/unready")
	d.waitReady("ready", "app", true)
	d.checkPodReady("ready", true)

	// A restarted daemon adopts the pod and probes it again.
	d.stop(syscall.SIGTERM)
	d.start()
	d.waitReady("ready", "app", true)
	d.mustBerth("exec", "ready", "-c", "app", "--", "/bin/demo", "write", "/tmp/unready", "x")
	d.waitReady("ready", "app", false)
	if n := ctrStatus(t, d.pod("ready"), "app").RestartCount; n != 0 {
		t.Errorf("readiness failures restarted the container %d times", n)
	}
}

// TestProbeStartupHoldsLiveness: while the startup probe has not
// succeeded, the liveness probe does not run: a server unhealthy for its
// first seconds is not killed, and becomes started and ready after.
func TestProbeStartupHoldsLiveness(t *testing.T) {
	d := startDaemon(t)
	d.apply("slow.yaml", probePodYAML("slow", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "serve", "--port", "8080", "--healthy-after", "4s"]
    startupProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
      failureThreshold: 1
`))
	c := ctrStatus(t, d.pod("slow"), "app")
	if c.Started == nil || *c.Started || c.Ready {
		t.Errorf("before its startup probe succeeded: started %v ready %v", c.Started, c.Ready)
	}
	d.waitReady("slow", "app", true)
	c = ctrStatus(t, d.pod("slow"), "app")
	if c.Started == nil || !*c.Started || c.RestartCount != 0 {
		t.Errorf("after the start-up: %s", toJSON(c))
	}
	if !d.hasEvent("slow", "app", "Unhealthy", "Startup probe failed: HTTP probe failed with statuscode: 500") {
		t.Errorf("no failed startup probe event: %s", toJSON(d.podEvents("slow")))
	}
	if d.hasEvent("slow", "app", "Unhealthy", "Liveness probe failed") {
		t.Errorf("the liveness probe ran before the startup probe succeeded: %s", toJSON(d.podEvents("slow")))
	}
}

// TestApplyWaitsForReady: `berth apply` of a pod with a readiness probe
// returns once the pod is Ready, as kubectl wait --for=condition=Ready
// would, not when its containers start; one that does not get Ready
// within --timeout fails apply, naming the container and its probe's
// last failure.
func TestApplyWaitsForReady(t *testing.T) {
	d := startDaemon(t)
	probe := `    readinessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
`
	start := time.Now()
	d.apply("late.yaml", probePodYAML("late", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "serve", "--port", "8080", "--healthy-after", "2s"]
`+probe))
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("apply returned after %s, before the probe could pass", took)
	}
	d.checkPodReady("late", true)

	out, err := d.berth("apply", "-f", d.file("never.yaml", probePodYAML("never", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`+probe)), "--timeout", "4s")
	want := `pod/never: not Ready after 4s: container app: Readiness probe failed: Get "http://`
	if err == nil || !strings.Contains(out, want) || !strings.Contains(out, "connection refused") {
		t.Fatalf("apply of a pod that never gets Ready: %v, want a failure saying %q ... connection refused:\n%s", err, want, out)
	}
	d.checkPodReady("never", false)
}

// TestProbeHostLoopbackIsNotThePods: `host: 127.0.0.1` is the pod's
// loopback. A port open only on the host's loopback fails the probe; the
// same port served inside a pod passes it.
func TestProbeHostLoopbackIsNotThePods(t *testing.T) {
	d := startDaemon(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "host") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	probe := fmt.Sprintf(`    readinessProbe:
      httpGet:
        host: 127.0.0.1
        path: /healthz
        port: %d
      periodSeconds: 1
`, port)
	d.applyNoWait("hostlo.yaml", probePodYAML("hostlo", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`+probe))
	d.apply("podlo.yaml", probePodYAML("podlo", fmt.Sprintf(`  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "serve", "--port", "%d"]
`, port)+probe))
	d.waitReady("podlo", "app", true)
	d.checkPodReady("podlo", true)
	want := fmt.Sprintf("Readiness probe failed: Get \"http://127.0.0.1:%d/healthz\": dial tcp 127.0.0.1:%d: connect: connection refused", port, port)
	testutil.WaitFor(t, probeWait, "the host-only port refused in the pod", func() bool {
		return d.hasEvent("hostlo", "app", "Unhealthy", want)
	})
	if ctrStatus(t, d.pod("hostlo"), "app").Ready {
		t.Error("a probe reached the host's loopback")
	}
	d.checkPodReady("hostlo", false)
}

// TestProbeTCPGRPCExec: tcpSocket, grpc and exec probes, each making its
// container ready or not; an exec probe that outlives its timeout fails,
// and as a liveness probe restarts its container.
func TestProbeTCPGRPCExec(t *testing.T) {
	d := startDaemon(t)
	d.applyNoWait("kinds.yaml", probePodYAML("kinds", `  - name: tcp
    image: berth.test/demo:latest
    command: ["/bin/demo", "echo-tcp", "7000"]
    readinessProbe:
      tcpSocket:
        port: 7000
      periodSeconds: 1
  - name: grpc
    image: berth.test/demo:latest
    command: ["/bin/demo", "grpc-health", "7001"]
    readinessProbe:
      grpc:
        port: 7001
      periodSeconds: 1
  - name: exec
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    readinessProbe:
      exec:
        command: ["/bin/demo", "read", "/tmp/ready"]
      periodSeconds: 1
  - name: slow
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    livenessProbe:
      exec:
        command: ["/bin/demo", "sleep", "1h"]
      periodSeconds: 1
      timeoutSeconds: 1
      failureThreshold: 1
      terminationGracePeriodSeconds: 1
`))
	d.waitReady("kinds", "tcp", true)
	d.waitReady("kinds", "grpc", true)
	p := d.pod("kinds")
	if ctrStatus(t, p, "exec").Ready {
		t.Errorf("exec probe passed without its file: %s", toJSON(p.Status))
	}
	d.mustBerth("exec", "kinds", "-c", "exec", "--", "/bin/demo", "write", "/tmp/ready", "yes")
	testutil.WaitFor(t, probeWait, "exec probe passes", func() bool { return ctrStatus(t, d.pod("kinds"), "exec").Ready })

	d.mustBerth("exec", "kinds", "-c", "grpc", "--", "/bin/demo", "write", "/tmp/grpc-unhealthy", "x")
	testutil.WaitFor(t, probeWait, "grpc probe fails", func() bool { return !ctrStatus(t, d.pod("kinds"), "grpc").Ready })
	if !d.hasEvent("kinds", "grpc", "Unhealthy", "NOT_SERVING") {
		t.Errorf("no Unhealthy event for grpc: %s", toJSON(d.podEvents("kinds")))
	}

	testutil.WaitFor(t, probeWait, "the timed-out exec probe restarts its container", func() bool {
		return ctrStatus(t, d.pod("kinds"), "slow").RestartCount >= 1
	})
	if !d.hasEvent("kinds", "slow", "Unhealthy", "timed out") || !d.hasEvent("kinds", "slow", "Killing", "failed liveness probe") {
		t.Errorf("events of the exec timeout: %s", toJSON(d.podEvents("kinds")))
	}
	// The probe runs in the next run too (its process is another).
	testutil.WaitFor(t, probeWait, "the exec probe restarts the next run of its container", func() bool {
		return ctrStatus(t, d.pod("kinds"), "slow").RestartCount >= 2
	})
	if c := ctrStatus(t, d.pod("kinds"), "tcp"); c.RestartCount != 0 || !c.Ready {
		t.Errorf("tcp container: %s", toJSON(c))
	}
}

// TestProbeHostNetwork: a host-network pod's probes dial from the host's
// namespace, to the host's address on the pod network by default.
func TestProbeHostNetwork(t *testing.T) {
	d := startDaemon(t)
	port := freeHostPort(t, "tcp")
	d.apply("hostnet.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hostnet
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "echo-tcp", "%d"]
    readinessProbe:
      tcpSocket:
        port: %d
      periodSeconds: 1
`, port, port))
	d.waitReady("hostnet", "app", true)
	d.checkPodReady("hostnet", true)
}
