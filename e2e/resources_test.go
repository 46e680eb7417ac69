package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/internal/testutil"
)

// containerCgroupFile is a file of a container's cgroup for a controller,
// on v2 or on v1 (where each controller has its own hierarchy).
func (d *daemon) containerCgroupFile(pod, ctr, controller, file string) string {
	rel := filepath.Join(d.cgroupParent, "default_"+pod, ctr, file)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return filepath.Join("/sys/fs/cgroup", rel)
	}
	return filepath.Join("/sys/fs/cgroup", controller, rel)
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestMemoryLimitOOMKilled(t *testing.T) {
	d := startDaemon(t)
	p := filepath.Join(d.dir, "oom.yaml")
	os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: oom
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: berth.test/demo:latest
    command: ["/bin/demo", "alloc", "256"]
    resources:
      limits: {memory: 32Mi}
`), 0o644)
	d.mustBerth("apply", "-f", p, "--wait=false")
	var pod api.Pod
	testutil.WaitFor(t, 30*time.Second, "the hog to be OOM-killed", func() bool {
		pod = d.pod("oom")
		cs := pod.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Terminated != nil
	})
	term := pod.Status.ContainerStatuses[0].State.Terminated
	if term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("terminated %s, want reason OOMKilled and exit code 137", toJSON(term))
	}
	if pod.Status.Phase != api.PodFailed {
		t.Errorf("phase %s, want Failed", pod.Status.Phase)
	}
	file := "memory.limit_in_bytes"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		file = "memory.max"
	}
	path := d.containerCgroupFile("oom", "hog", "memory", file)
	got := readTrim(t, path)
	t.Logf("read back %s = %s", path, got)
	if got != strconv.Itoa(32<<20) {
		t.Errorf("%s = %s, want %d", file, got, 32<<20)
	}
}

func TestCPULimitThrottles(t *testing.T) {
	d := startDaemon(t)
	d.apply("spin.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: spin
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: spinner
    image: berth.test/demo:latest
    command: ["/bin/demo", "spin"]
    resources:
      requests: {cpu: 50m}
      limits: {cpu: 100m}
`)
	v2 := false
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		v2 = true
	}
	// The values the kernel holds, read back from cgroupfs; 50m of CPU
	// request is 51 shares, weight 2 on v2 (the kubelet's conversions), and
	// every container gets the default pids limit.
	want := map[string]struct{ controller, value string }{
		"cpu.cfs_quota_us": {"cpu", "10000"}, "cpu.shares": {"cpu", "51"},
		"pids.max": {"pids", strconv.Itoa(cgroups.DefaultPidsMax)},
	}
	if v2 {
		want = map[string]struct{ controller, value string }{
			"cpu.max": {"cpu", "10000 100000"}, "cpu.weight": {"cpu", "2"},
			"pids.max": {"pids", strconv.Itoa(cgroups.DefaultPidsMax)},
		}
	}
	for file, w := range want {
		path := d.containerCgroupFile("spin", "spinner", w.controller, file)
		got := readTrim(t, path)
		t.Logf("read back %s = %s", path, got)
		if got != w.value {
			t.Errorf("%s = %q, want %q", file, got, w.value)
		}
	}
	stat := d.containerCgroupFile("spin", "spinner", "cpu", "cpu.stat")
	testutil.WaitFor(t, 20*time.Second, "the spinner to be throttled", func() bool {
		for _, line := range strings.Split(readTrim(t, stat), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "nr_throttled" && f[1] != "0" {
				return true
			}
		}
		return false
	})
}
