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
  - name: c
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "1h"]
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
// raised (resizePolicy NotRequired, the default) changes the cgroup
// without a restart; a pod-level change replaces the pod.
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
	if out := d.mustBerth("describe", "pod", "inplace"); !strings.Contains(out, "definition changed, will be restarted") {
		t.Errorf("describe shows no Killing event for the update:\n%s", out)
	}

	// b's memory limit, raised: resized live.
	limitFile := d.memoryLimitFile("inplace", "b")
	if got := readTrim(t, limitFile); got != strconv.Itoa(64<<20) {
		t.Fatalf("%s = %s before the resize", limitFile, got)
	}
	resized := strings.Replace(edited, "memory: 64Mi", "memory: 128Mi", 1)
	d.apply("inplace.yaml", resized)
	after = d.pod("inplace")
	if got := readTrim(t, limitFile); got != strconv.Itoa(128<<20) {
		t.Errorf("%s = %s after the resize, want %d", limitFile, got, 128<<20)
	}
	if pid := containerPID(t, after, "b"); pid != pids["b"] || statusOf(t, after, "b").RestartCount != 0 {
		t.Errorf("b was restarted by a live resize: pid %d, was %d", pid, pids["b"])
	}
	if got := after.Spec.Containers[1].Resources.Limits["memory"]; got.String() != "128Mi" {
		t.Errorf("the pod's spec shows b's memory limit %s, want 128Mi", got.String())
	}

	// A volume: the pod is replaced.
	replaced := strings.Replace(resized, "volumes: [{name: data, emptyDir: {}}]", "volumes: [{name: data, emptyDir: {}}, {name: more, emptyDir: {}}]", 1)
	d.apply("inplace.yaml", replaced)
	if got := d.pod("inplace"); got.Metadata.UID == before.Metadata.UID || got.InfraPID() == before.InfraPID() {
		t.Errorf("a pod-level change kept the pod (uid %s, infra %d)", got.Metadata.UID, got.InfraPID())
	}
}
