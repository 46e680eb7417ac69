package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// writeManifest puts a manifest straight into the daemon's directory
// (written aside, then renamed), as an editor or a deploy tool does.
func (d *daemon) writeManifest(name, yaml string) {
	d.t.Helper()
	tmp := filepath.Join(d.manifests, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.manifests, name)); err != nil {
		d.t.Fatal(err)
	}
}

// readyAt is when pod p became Ready, zero when it is not.
func readyAt(p api.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == api.PodReady && c.Status == api.ConditionTrue {
			return c.LastTransitionTime
		}
	}
	return time.Time{}
}

// chainPodYAML is a pod serving HTTP that turns Ready 2 s after it
// starts, waiting for the pods after names (none when empty).
func chainPodYAML(name, after string) string {
	ann := ""
	if after != "" {
		ann = fmt.Sprintf("  annotations:\n    berth.io/after: %q\n", after)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
%sspec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "serve", "--port", "8080", "--healthy-after", "2s"]
    readinessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
      timeoutSeconds: 5
`, name, ann)
}

// checkChainOrder waits for a <- b <- c to be Ready and checks each
// started after the one it waits for was Ready.
func checkChainOrder(t *testing.T, d *daemon, when string) {
	t.Helper()
	// Generous: each pod starts only once the one before it is Ready.
	testutil.WaitFor(t, 120*time.Second, when+": a, b and c Ready", func() bool {
		ready := 0
		for _, p := range d.pods() {
			if !readyAt(p).IsZero() {
				ready++
			}
		}
		return ready == 3
	})
	for _, pair := range [][2]string{{"a", "b"}, {"b", "c"}} {
		dep, p := d.pod(pair[0]), d.pod(pair[1])
		started := ctrStatus(t, p, "app").State.Running.StartedAt
		if ready := readyAt(dep); started.Before(ready) {
			t.Errorf("%s: %s started at %s, before %s was Ready at %s", when, pair[1], started, pair[0], ready)
		}
	}
}

func TestDependencyChain(t *testing.T) {
	d := startDaemon(t, func(d *daemon) { d.daemonArgs = append(d.daemonArgs, "--stop-pods-on-exit") })
	// c first: the order of the files says nothing.
	d.writeManifest("c.yaml", chainPodYAML("c", "b"))
	d.writeManifest("b.yaml", chainPodYAML("b", "default/a"))
	d.writeManifest("a.yaml", chainPodYAML("a", ""))
	testutil.WaitFor(t, 30*time.Second, "c held while b is not Ready", func() bool {
		for _, p := range d.pods() {
			if p.Metadata.Name == "c" && p.Status.Phase == api.PodPending && p.Status.Reason == "WaitingForDependency" &&
				strings.Contains(p.Status.Message, "default/b") {
				return true
			}
		}
		return false
	})
	checkChainOrder(t, d, "first start")

	// A daemon killed alone: the pods keep running, none is held or
	// started again, and they are Ready again once their probes pass.
	uids := map[string]string{}
	for _, p := range d.pods() {
		uids[p.Metadata.Name] = p.Metadata.UID
	}
	d.stop(syscall.SIGKILL)
	d.start()
	testutil.WaitFor(t, 60*time.Second, "a, b and c adopted and Ready", func() bool {
		ps := d.pods()
		for _, p := range ps {
			if p.Metadata.UID != uids[p.Metadata.Name] {
				t.Fatalf("pod %s was made again after a daemon kill -9: %s", p.Metadata.Name, toJSON(p.Status))
			}
			if readyAt(p).IsZero() {
				return false
			}
		}
		return len(ps) == 3
	})

	// A daemon killed with every pod's process (a power cut), then
	// started again with the three files still there.
	simulateReboot(t, d)
	d.start()
	checkChainOrder(t, d, "after kill -9 and restart")

	// Asked to stop everything, the daemon removes c, then b, then a.
	d.stop(syscall.SIGTERM)
	var order []string
	for _, line := range strings.Split(d.logBuf.String(), "\n") {
		if strings.Contains(line, `msg="pod stopped"`) {
			for _, n := range []string{"a", "b", "c"} {
				if strings.Contains(line, "default/"+n) {
					order = append(order, n)
				}
			}
		}
	}
	if strings.Join(order, ",") != "c,b,a" {
		t.Errorf("stop order %v, want c,b,a\ndaemon log:\n%s", order, d.logBuf.String())
	}
	if ents, _ := os.ReadDir(filepath.Join(d.state, "pods")); len(ents) != 0 {
		t.Errorf("pods left after the stop: %v", ents)
	}
	d.start()
}

func TestDependencyCycleAndMissing(t *testing.T) {
	d := startDaemon(t)
	d.writeManifest("cx.yaml", chainPodYAML("cx", "cy"))
	d.writeManifest("cy.yaml", chainPodYAML("cy", "cx"))
	d.writeManifest("cz.yaml", chainPodYAML("cz", "other/nowhere"))
	testutil.WaitFor(t, 30*time.Second, "cx and cy held for the cycle, cz for its missing dependency", func() bool {
		got := map[string]api.Pod{}
		for _, p := range d.pods() {
			got[p.Metadata.Name] = p
		}
		for _, n := range []string{"cx", "cy"} {
			if p := got[n]; p.Status.Phase != api.PodPending || p.Status.Reason != "DependencyCycle" ||
				!strings.Contains(p.Status.Message, "default/cx -> default/cy -> default/cx") {
				return false
			}
		}
		z := got["cz"]
		return z.Status.Reason == "DependencyMissing" && strings.Contains(z.Status.Message, "other/nowhere")
	})
	out := d.mustBerth("get", "pods")
	for _, want := range []string{"DependencyCycle", "DependencyMissing"} {
		if !strings.Contains(out, want) {
			t.Errorf("get pods does not show %s:\n%s", want, out)
		}
	}
	if !d.hasEvent("cx", "", "DependencyCycle", "default/cx -> default/cy") {
		t.Errorf("no DependencyCycle event for cx: %s", toJSON(d.podEvents("cx")))
	}
	// Breaking the cycle lets both start.
	d.writeManifest("cx.yaml", chainPodYAML("cx", ""))
	testutil.WaitFor(t, 60*time.Second, "cx and cy Ready once the cycle is broken", func() bool {
		return !readyAt(d.pod("cx")).IsZero() && !readyAt(d.pod("cy")).IsZero()
	})
}

// rolloutPodYAML is pod rb serving HTTP with a readiness probe, on image
// img with extra serve arguments, gated by a 8 s rollout deadline.
func rolloutPodYAML(img, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: rb
  annotations:
    berth.io/rollout-deadline: 8s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: %s
    command: ["/bin/demo", "serve", "--port", "8080"%s]
    readinessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
`, img, extra)
}

func TestRolloutRollsBack(t *testing.T) {
	const v2 = "berth.test/demo:v2"
	d := startDaemon(t, func(d *daemon) {
		testutil.WorkloadImage(t, filepath.Join(d.state, "images"), v2)
	})
	d.apply("rb.yaml", rolloutPodYAML("berth.test/demo:latest", ""))
	accepted := func(n int) bool { return strings.Count(d.logBuf.String(), `action="accept default/rb`) >= n }
	testutil.WaitFor(t, probeWait, "the first spec accepted", func() bool { return accepted(1) })
	first := d.pod("rb")

	// A new image whose readiness never passes.
	bad := rolloutPodYAML(v2, `, "--healthy-after", "1h"`)
	d.writeManifest("rb.yaml", bad)
	// An image change is made in place: the same pod, the container
	// restarted with the new image.
	var trial api.Pod
	testutil.WaitFor(t, 30*time.Second, "the new spec running", func() bool {
		trial = d.pod("rb")
		c := trial.Status.ContainerStatuses
		return len(c) == 1 && c[0].Image == v2 && c[0].State.Running != nil && c[0].ContainerID != first.Status.ContainerStatuses[0].ContainerID
	})
	if trial.Metadata.UID != first.Metadata.UID {
		t.Errorf("the image change replaced the pod (UID %s, was %s)", trial.Metadata.UID, first.Metadata.UID)
	}
	trialStart := trial.Status.ContainerStatuses[0].State.Running.StartedAt
	testutil.WaitFor(t, 40*time.Second, "rolled back to the last good spec", func() bool {
		back := d.pod("rb")
		c := back.Status.ContainerStatuses
		return back.Status.Reason == "RolledBack" && len(c) == 1 && c[0].Image == "berth.test/demo:latest" && c[0].Ready
	})
	// The gate waits the deadline from the update, then passes come
	// every second.
	var rolledBack []api.Event
	for _, e := range d.podEvents("rb") {
		if e.Reason == "RolledBack" && strings.Contains(e.Message, "Readiness probe failed") {
			rolledBack = append(rolledBack, e)
		}
	}
	if len(rolledBack) != 1 {
		t.Fatalf("RolledBack events naming the probe: %s", toJSON(d.podEvents("rb")))
	}
	if after := rolledBack[0].Time.Sub(trialStart); after < 7*time.Second || after > 8*time.Second+15*time.Second {
		t.Errorf("rolled back %s after the new container's start; the deadline is 8s from the update", after)
	}
	if out := d.mustBerth("get", "pods"); !strings.Contains(out, "RolledBack") {
		t.Errorf("get pods does not show RolledBack:\n%s", out)
	}
	file := filepath.Join(d.manifests, "rb.yaml")
	if out := d.mustBerth("describe", "pod", "rb"); !strings.Contains(out, file) || !strings.Contains(out, "Readiness probe failed") {
		t.Errorf("describe does not name the file and the failing probe:\n%s", out)
	}
	if b, _ := os.ReadFile(file); string(b) != bad {
		t.Errorf("berth rewrote %s:\n%s", file, b)
	}

	// A good edit afterwards goes through.
	d.writeManifest("rb.yaml", rolloutPodYAML(v2, ""))
	testutil.WaitFor(t, probeWait, "the good edit running, Ready and accepted", func() bool {
		p := d.pod("rb")
		c := p.Status.ContainerStatuses
		return len(c) == 1 && c[0].Image == v2 && c[0].Ready && p.Status.Reason == "" && accepted(2)
	})
	// Three replaces: the change, the rollback, the good edit; the
	// rolled-back spec was not tried again in between.
	if n := strings.Count(d.logBuf.String(), `action="replace default/rb`); n != 3 {
		t.Errorf("%d replaces of rb, want 3\ndaemon log:\n%s", n, d.logBuf.String())
	}

	// An image that is not there: the pod cannot even be created, and
	// the gate returns it to the good edit.
	d.writeManifest("rb.yaml", strings.Replace(rolloutPodYAML("berth.test/absent:1", ""), "    readinessProbe:", "    imagePullPolicy: Never\n    readinessProbe:", 1))
	testutil.WaitFor(t, 40*time.Second, "rolled back from the missing image", func() bool {
		for _, p := range d.pods() {
			c := p.Status.ContainerStatuses
			if p.Metadata.Name == "rb" && p.Status.Reason == "RolledBack" && len(c) == 1 && c[0].Image == v2 && c[0].Ready {
				return strings.Contains(p.Status.Message, "cannot be created")
			}
		}
		return false
	})
}

// restartPodYAML is a pod whose containers use ConfigMap settings through
// env (envuser), the hostPath file conf (fileuser), or neither
// (bystander), with the annotation given ("" for none).
func restartPodYAML(name, annotation, conf string) string {
	ann := ""
	if annotation != "" {
		ann = fmt.Sprintf("  annotations:\n    berth.io/restart-on-change: %q\n", annotation)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
%sspec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: conf
    hostPath:
      path: %s
      type: File
  containers:
  - name: envuser
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef:
          name: settings
          key: greeting
  - name: fileuser
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts:
    - name: conf
      mountPath: /etc/app.conf
  - name: bystander
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`, name, ann, conf)
}

func settingsYAML(greeting string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: %s\n", greeting)
}

// restarts returns each container's restart count in pod name.
func (d *daemon) restarts(name string) map[string]int32 {
	out := map[string]int32{}
	for _, c := range d.pod(name).Status.ContainerStatuses {
		out[c.Name] = c.RestartCount
	}
	return out
}

func TestRestartOnChange(t *testing.T) {
	// Passes come at least every second, and with them the hostPath check.
	d := startDaemon(t, func(d *daemon) { d.daemonArgs = append(d.daemonArgs, "--resync", "1s") })
	conf := filepath.Join(d.dir, "app.conf")
	if err := os.WriteFile(conf, []byte("level=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.writeManifest("settings.yaml", settingsYAML("hello"))
	d.apply("watched.yaml", restartPodYAML("watched", "configmaps,hostpaths", conf))
	d.apply("plain.yaml", restartPodYAML("plain", "", conf))
	want := func(name string, envuser, fileuser int32) func() bool {
		return func() bool {
			r := d.restarts(name)
			return r["envuser"] == envuser && r["fileuser"] == fileuser && r["bystander"] == 0 &&
				ctrStatus(t, d.pod(name), "envuser").State.Running != nil && ctrStatus(t, d.pod(name), "fileuser").State.Running != nil
		}
	}

	// A ConfigMap the env uses: only its container restarts, with the
	// new value.
	d.writeManifest("settings.yaml", settingsYAML("changed"))
	testutil.WaitFor(t, 30*time.Second, "watched/envuser restarted once", want("watched", 1, 0))
	if out := d.mustBerth("exec", "watched", "-c", "envuser", "--", "/bin/demo", "env"); !strings.Contains(out, "GREETING=changed\n") {
		t.Errorf("the restarted container's env:\n%s", out)
	}
	if !d.hasEvent("watched", "envuser", "Killing", "ConfigMap settings changed") {
		t.Errorf("no Killing event naming the ConfigMap: %s", toJSON(d.podEvents("watched")))
	}

	// The hostPath file, replaced as a config tool does.
	tmp := conf + ".new"
	if err := os.WriteFile(tmp, []byte("level=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, conf); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "watched/fileuser restarted once", want("watched", 1, 1))
	if !d.hasEvent("watched", "fileuser", "Killing", "hostPath volume conf changed") {
		t.Errorf("no Killing event naming the hostPath volume: %s", toJSON(d.podEvents("watched")))
	}

	// Without the annotation nothing restarted; the next run would get
	// the new environment, as on a kubelet.
	if r := d.restarts("plain"); r["envuser"] != 0 || r["fileuser"] != 0 || r["bystander"] != 0 {
		t.Errorf("the pod without the annotation restarted: %v", r)
	}
	if out := d.mustBerth("exec", "plain", "-c", "envuser", "--", "/bin/demo", "env"); !strings.Contains(out, "GREETING=hello\n") {
		t.Errorf("the running container of the pod without the annotation changed its env:\n%s", out)
	}
}

// TestRolloutGateWithInvalidFile: a changed spec that never gets ready,
// whose file is then replaced by an invalid one, is still rolled back;
// the pod shows both the rollback and the file's problem.
func TestRolloutGateWithInvalidFile(t *testing.T) {
	d := startDaemon(t)
	d.apply("rb.yaml", rolloutPodYAML("berth.test/demo:latest", ""))
	testutil.WaitFor(t, probeWait, "the first spec accepted", func() bool {
		return strings.Contains(d.logBuf.String(), `action="accept default/rb`)
	})
	first := d.pod("rb")
	d.writeManifest("rb.yaml", rolloutPodYAML("berth.test/demo:latest", `, "--healthy-after", "1h"`))
	testutil.WaitFor(t, 30*time.Second, "the new spec running", func() bool {
		p := d.pod("rb")
		c := p.Status.ContainerStatuses
		return len(c) == 1 && c[0].State.Running != nil && c[0].ContainerID != first.Status.ContainerStatuses[0].ContainerID &&
			strings.Contains(strings.Join(p.Spec.Containers[0].Command, " "), "healthy-after")
	})
	d.writeManifest("rb.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: rb\nspec:\n  containers: 7\n")
	testutil.WaitFor(t, 40*time.Second, "rolled back while the file is invalid", func() bool {
		p := d.pod("rb")
		c := p.Status.ContainerStatuses
		return p.Status.Reason == "RolledBack" && len(c) == 1 && c[0].Ready && podCondition(p, api.ConditionManifestValid) == api.ConditionFalse &&
			!strings.Contains(strings.Join(p.Spec.Containers[0].Command, " "), "healthy-after")
	})
}
