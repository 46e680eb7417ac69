package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

const inplacePod = `apiVersion: v1
kind: Pod
metadata:
  name: inplace
spec:
  terminationGracePeriodSeconds: 5
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: a
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "1h"]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: b
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "1h"]
    resources:
      limits: {memory: 64Mi}
    resizePolicy: [{resourceName: memory, restartPolicy: NotRequired}]
  - name: c
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "1h"]
    resources:
      limits: {memory: 64Mi}
    resizePolicy: [{resourceName: memory, restartPolicy: RestartContainer}]
`

// statusOf is the status of container name of p.
func statusOf(t *testing.T, p api.Pod, name string) api.ContainerStatus {
	t.Helper()
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("pod %s has no container %s: %s", p.Metadata.Name, name, toJSON(p.Status))
	return api.ContainerStatus{}
}

// memoryLimitFile is the file of a container's memory limit, v1 or v2.
func (d *daemon) memoryLimitFile(pod, ctr string) string {
	file := "memory.limit_in_bytes"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		file = "memory.max"
	}
	return d.containerCgroupFile(pod, ctr, "memory", file)
}

// TestInPlaceUpdate: an image change to one of three containers restarts
// only that one: the other two keep their PIDs, the infra its PID, the pod
// its UID and IP, and a file in the emptyDir survives; a memory limit
// raised under resizePolicy NotRequired changes the cgroup without a
// restart, under RestartContainer with one; a pod-level change replaces
// the pod.
func TestInPlaceUpdate(t *testing.T) {
	d := startDaemon(t)
	testutil.WorkloadImage(t, filepath.Join(d.state, "images"), "berth.test/demo:v2")
	d.apply("inplace.yaml", inplacePod)
	before := d.pod("inplace")
	pids := map[string]int{}
	for _, c := range []string{"a", "b", "c"} {
		pids[c] = containerPID(t, before, c)
	}
	d.mustBerth("exec", "inplace", "-c", "a", "--", "/bin/demo", "write", "/data/keep", "kept")

	// The image of a.
	edited := strings.Replace(inplacePod, "  - name: a\n    image: berth.test/demo:latest", "  - name: a\n    image: berth.test/demo:v2", 1)
	d.apply("inplace.yaml", edited)
	after := d.pod("inplace")
	if after.Metadata.UID != before.Metadata.UID || after.InfraPID() != before.InfraPID() || after.Status.PodIP != before.Status.PodIP {
		t.Errorf("the image change replaced the pod: uid %s -> %s, infra %d -> %d, IP %s -> %s",
			before.Metadata.UID, after.Metadata.UID, before.InfraPID(), after.InfraPID(), before.Status.PodIP, after.Status.PodIP)
	}
	a := statusOf(t, after, "a")
	if pid := containerPID(t, after, "a"); pid == pids["a"] || a.RestartCount != 1 || a.Image != "berth.test/demo:v2" {
		t.Errorf("a after its image changed: pid %d (was %d), %s; want a new run of demo:v2, restart count 1", pid, pids["a"], toJSON(a))
	}
	for _, c := range []string{"b", "c"} {
		if pid := containerPID(t, after, c); pid != pids[c] || statusOf(t, after, c).RestartCount != 0 {
			t.Errorf("%s was restarted: pid %d, was %d", c, pid, pids[c])
		}
	}
	if out := d.mustBerth("exec", "inplace", "-c", "a", "--", "/bin/demo", "read", "/data/keep"); out != "kept\n" {
		t.Errorf("the emptyDir's file after the restart: %q, want kept", out)
	}
	if out, err := d.berth("logs", "inplace", "-c", "a", "--previous"); err != nil {
		t.Errorf("logs --previous of the restarted container: %v\n%s", err, out)
	}
	if out := d.mustBerth("describe", "pod", "inplace"); !strings.Contains(out, "definition changed, will be restarted") {
		t.Errorf("describe shows no Killing event for the update:\n%s", out)
	}

	// b's and c's memory limits, raised: b is resized live, c restarted.
	for _, c := range []string{"b", "c"} {
		if f := d.memoryLimitFile("inplace", c); readTrim(t, f) != strconv.Itoa(64<<20) {
			t.Fatalf("%s = %s before the resize", f, readTrim(t, f))
		}
	}
	resized := strings.ReplaceAll(edited, "memory: 64Mi", "memory: 128Mi")
	d.apply("inplace.yaml", resized)
	after = d.pod("inplace")
	for _, c := range []string{"b", "c"} {
		if f := d.memoryLimitFile("inplace", c); readTrim(t, f) != strconv.Itoa(128<<20) {
			t.Errorf("%s = %s after the resize, want %d", f, readTrim(t, f), 128<<20)
		}
	}
	if pid := containerPID(t, after, "b"); pid != pids["b"] || statusOf(t, after, "b").RestartCount != 0 {
		t.Errorf("b (NotRequired) was restarted by a resize: pid %d, was %d", pid, pids["b"])
	}
	if pid := containerPID(t, after, "c"); pid == pids["c"] || statusOf(t, after, "c").RestartCount != 1 {
		t.Errorf("c (RestartContainer) was not restarted by its resize: pid %d, was %d", pid, pids["c"])
	}
	if pid := containerPID(t, after, "a"); statusOf(t, after, "a").RestartCount != 1 {
		t.Errorf("a was restarted again by the others' resize: pid %d, %s", pid, toJSON(statusOf(t, after, "a")))
	}
	for i := 1; i <= 2; i++ {
		if got := after.Spec.Containers[i].Resources.Limits["memory"]; got.String() != "128Mi" {
			t.Errorf("the pod's spec shows %s's memory limit %s, want 128Mi", after.Spec.Containers[i].Name, got.String())
		}
	}
	if out := d.mustBerth("describe", "pod", "inplace"); !strings.Contains(out, "Container b resized in place") ||
		!strings.Contains(out, "128Mi") || strings.Contains(out, "64Mi") {
		t.Errorf("describe shows no Resized event for b, or not the new limits:\n%s", out)
	}

	// A volume: the pod is replaced.
	replaced := strings.Replace(resized, "volumes: [{name: data, emptyDir: {}}]", "volumes: [{name: data, emptyDir: {}}, {name: more, emptyDir: {}}]", 1)
	d.apply("inplace.yaml", replaced)
	if got := d.pod("inplace"); got.Metadata.UID == before.Metadata.UID || got.InfraPID() == before.InfraPID() {
		t.Errorf("a pod-level change kept the pod (uid %s, infra %d)", got.Metadata.UID, got.InfraPID())
	}
}
