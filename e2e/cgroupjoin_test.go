package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestV1CgroupJoins checks where the v1 joins leave a pod's processes
// once apply returned: every thread of each container's workload in that
// container's cgroup, and every thread of the infra in the pod's infra
// cgroup, in every hierarchy berth made those cgroups in. The container
// init moves only its main thread, which then execs; the infra moves
// each of its threads itself.
func TestV1CgroupJoins(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		t.Skip("cgroup v2 host: processes are cloned into their cgroups (CLONE_INTO_CGROUP), there is no v1 join")
	}
	d := startDaemon(t)
	d.apply("joins.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: joins
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "3600"]
  - name: side
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep", "3601"]
`)
	infraPID := d.pod("joins").InfraPID()
	if infraPID == 0 {
		t.Fatal("no infra PID in the pod's view")
	}
	pod := filepath.Join(d.cgroupParent, "default_joins")
	d.checkCgroupThreads(infraPID, filepath.Join(pod, "_infra"))
	// The workloads are the infra's children (each in its own pid
	// namespace, so its init process is the workload after execve).
	byArg := map[string]string{"3600": "app", "3601": "side"}
	found := 0
	for _, pid := range childrenOf(t, infraPID) {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		ctr, ok := byArg[args[len(args)-1]]
		if !ok {
			t.Errorf("infra child %d runs %q, not a workload", pid, args)
			continue
		}
		found++
		d.checkCgroupThreads(pid, filepath.Join(pod, ctr))
	}
	if found != len(byArg) {
		t.Errorf("found %d workloads among the infra's children, want %d", found, len(byArg))
	}
}

// checkCgroupThreads fails unless every thread of pid is in the cgroup
// at rel (below each hierarchy's root) in every v1 hierarchy that has it,
// and it exists in the pids, memory, cpu and devices hierarchies at least.
func (d *daemon) checkCgroupThreads(pid int, rel string) {
	t := d.t
	t.Helper()
	var joined []string
	hierarchies, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hierarchies {
		// Not the links to co-mounted controllers (cpu -> cpu,cpuacct),
		// nor the hybrid host's cgroup2 mount, where nothing joins.
		if !h.IsDir() || h.Name() == "unified" {
			continue
		}
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h.Name(), rel)); err == nil {
			joined = append(joined, h.Name())
		}
	}
	for _, need := range []string{"pids", "memory", "cpu", "devices"} {
		if !slices.ContainsFunc(joined, func(h string) bool { return slices.Contains(strings.Split(h, ","), need) }) {
			t.Fatalf("cgroup %s missing in the %s hierarchy (it is in %q)", rel, need, joined)
		}
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/cgroup", pid, task.Name()))
		if err != nil {
			t.Fatal(err)
		}
		in := v1Cgroups(string(b))
		for _, h := range joined {
			if got := in[h]; got != "/"+rel {
				t.Errorf("process %d thread %s: %s cgroup %q, want %q", pid, task.Name(), h, got, "/"+rel)
			}
		}
	}
	t.Logf("process %d: %d threads in %s in %d hierarchies %q", pid, len(tasks), rel, len(joined), joined)
}

// v1Cgroups maps each v1 hierarchy of /proc/PID/cgroup text, named as its
// directory under /sys/fs/cgroup (a named one without "name="), to the
// cgroup's path.
func v1Cgroups(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[0] == "0" {
			continue
		}
		out[strings.TrimPrefix(f[1], "name=")] = f[2]
	}
	return out
}

// childrenOf lists the children of process pid, from every thread's
// children file.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
