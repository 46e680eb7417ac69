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

func podYAML(name, policy, command string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    image: berth.test/demo:latest
    command: %s
`, name, policy, command)
}

func TestRestartPolicies(t *testing.T) {
	d := startDaemon(t)
	cases := []struct {
		policy      string
		exit        int
		restarts    bool
		phase       string
		finalReason string
	}{
		{"Always", 0, true, api.PodRunning, ""},
		{"Always", 1, true, api.PodRunning, ""},
		{"OnFailure", 0, false, api.PodSucceeded, "Completed"},
		{"OnFailure", 1, true, api.PodRunning, ""},
		{"Never", 0, false, api.PodSucceeded, "Completed"},
		{"Never", 1, false, api.PodFailed, "Error"},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s-exit%d", strings.ToLower(tc.policy), tc.exit)
		p := filepath.Join(d.dir, name+".yaml")
		os.WriteFile(p, []byte(podYAML(name, tc.policy, fmt.Sprintf(`["/bin/demo", "exit", "%d"]`, tc.exit))), 0o644)
		d.mustBerth("apply", "-f", p, "--wait=false")
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s-exit%d", strings.ToLower(tc.policy), tc.exit)
		t.Run(name, func(t *testing.T) {
			var last api.Pod
			testutil.WaitFor(t, 30*time.Second, name+" to reach its expected state", func() bool {
				last = d.pod(name)
				cs := last.Status.ContainerStatuses
				if len(cs) != 1 || last.Status.Phase != tc.phase {
					return false
				}
				if tc.restarts {
					return cs[0].RestartCount >= 2
				}
				return cs[0].State.Terminated != nil && cs[0].State.Terminated.Reason == tc.finalReason
			})
			if !tc.restarts {
				time.Sleep(time.Second) // longer than the back-off: a wrong restart would show
				last = d.pod(name)
				if n := last.Status.ContainerStatuses[0].RestartCount; n != 0 {
					t.Errorf("restarted %d times, want none: %s", n, toJSON(last.Status))
				}
				if got := last.Status.ContainerStatuses[0].State.Terminated.ExitCode; got != int32(tc.exit) {
					t.Errorf("exit code %d, want %d", got, tc.exit)
				}
			} else if lt := last.Status.ContainerStatuses[0].LastState.Terminated; lt == nil || lt.ExitCode != int32(tc.exit) {
				t.Errorf("last state %s, want exit code %d", toJSON(last.Status.ContainerStatuses[0].LastState), tc.exit)
			}
		})
	}
	out := d.mustBerth("get", "pods")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "always-exit1") && strings.Fields(line)[3] == "0" {
			t.Errorf("RESTARTS column shows 0 for a crash-looping pod:\n%s", out)
		}
	}
}

func TestEditReplacesLabelsDoNotAndDeleteCleansUp(t *testing.T) {
	d := startDaemon(t)
	base := `apiVersion: v1
kind: Pod
metadata:
  name: edit
  labels: {version: "%s"}
spec:
  terminationGracePeriodSeconds: %s
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "1h"]
`
	d.apply("edit.yaml", fmt.Sprintf(base, "1", "5"))
	first := d.pod("edit")

	d.apply("edit.yaml", fmt.Sprintf(base, "2", "5"))
	relabeled := d.pod("edit")
	if relabeled.Metadata.UID != first.Metadata.UID || relabeled.InfraPID() != first.InfraPID() {
		t.Errorf("a label change restarted the pod (uid %s -> %s)", first.Metadata.UID, relabeled.Metadata.UID)
	}
	if relabeled.Metadata.Labels["version"] != "2" {
		t.Errorf("labels not updated: %v", relabeled.Metadata.Labels)
	}

	// A pod-level change (a container's own change restarts it in place:
	// TestInPlaceUpdate).
	d.apply("edit.yaml", fmt.Sprintf(base, "2", "6"))
	replaced := d.pod("edit")
	if replaced.Metadata.UID == first.Metadata.UID || replaced.InfraPID() == first.InfraPID() {
		t.Errorf("a pod-level spec change did not replace the pod")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", first.InfraPID())); err == nil {
		t.Errorf("the old infra %d still runs", first.InfraPID())
	}

	d.mustBerth("delete", "-f", filepath.Join(d.dir, "edit.yaml"), "--timeout", "30s")
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", replaced.InfraPID())); err == nil {
		t.Errorf("infra %d still runs after delete", replaced.InfraPID())
	}
	if l := d.hostLeftovers(); len(l) > 0 {
		t.Errorf("left behind after delete: %v", l)
	}
	if _, err := os.Stat(filepath.Join(d.logs, "default_edit_"+replaced.Metadata.UID)); err == nil {
		t.Errorf("log directory of the deleted pod remains")
	}
}

func TestDaemonKill9KeepsPodsRunning(t *testing.T) {
	d := startDaemon(t)
	d.apply("keep.yaml", podYAML("keep", "Always", `["/bin/demo", "sleep"]`))
	before := d.pod("keep")
	pid := containerPID(t, before, "main")

	d.stop(syscall.SIGKILL)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		t.Fatalf("container %d died with the daemon", pid)
	}
	d.start()
	after := d.pod("keep")
	if got := containerPID(t, after, "main"); got != pid || after.InfraPID() != before.InfraPID() {
		t.Errorf("after restart: container %d infra %d, want %d and %d", got, after.InfraPID(), pid, before.InfraPID())
	}
	if after.Status.ContainerStatuses[0].RestartCount != 0 || after.Metadata.UID != before.Metadata.UID {
		t.Errorf("pod changed across the daemon restart: %s", toJSON(after))
	}
	out := d.mustBerth("get", "pods")
	if !strings.Contains(out, "keep") || !strings.Contains(out, "Running") {
		t.Errorf("get pods after restart:\n%s", out)
	}
	os.Remove(filepath.Join(d.manifests, "keep.yaml"))
	testutil.WaitFor(t, 30*time.Second, "the deleted manifest's pod to go", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return err != nil && len(d.pods()) == 0
	})
}

func TestSharedProcessNamespace(t *testing.T) {
	d := startDaemon(t)
	d.apply("pidns.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: pidns
spec:
  shareProcessNamespace: true
  containers:
  - name: sleeper
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
  - name: lister
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	p := d.pod("pidns")
	infraNS := nsLink(t, p.InfraPID(), "pid")
	if infraNS == nsLink(t, os.Getpid(), "pid") {
		t.Fatalf("the pod shares the host's pid namespace")
	}
	// demo ps prints "PID COMM" a line: PID 1 is the infra, and both
	// containers' processes are visible from either.
	out := d.mustBerth("exec", "pidns", "-c", "lister", "--", "/bin/demo", "ps")
	if !strings.Contains(out, "1 berth-infra\n") || strings.Count(out, " demo\n") < 2 {
		t.Errorf("processes seen in the shared pid namespace:\n%s", out)
	}
}

// TestLongPodName runs a pod whose name takes the 253 bytes Kubernetes
// allows: names of kernel objects and sockets derived from it must fit.
func TestLongPodName(t *testing.T) {
	d := startDaemon(t)
	name := strings.Repeat("a", 120) + "." + strings.Repeat("b", 132)
	d.apply("long.yaml", podYAML(name, "Always", `["/bin/demo", "sleep"]`))
	p := d.pod(name)
	if p.Status.Phase != "Running" || p.Status.PodIP == "" {
		t.Fatalf("pod with a %d-byte name: %s", len(name), toJSON(p.Status))
	}
	d.mustBerth("delete", "pod", name, "--timeout", "30s")
	if l := d.hostLeftovers(); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}
