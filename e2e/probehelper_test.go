package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/internal/procstat"
	"github.com/berth-project/berth/internal/testutil"
)

// helperProc is an exec helper process: its PID, start time and parent.
type helperProc struct {
	pid   int
	start uint64
	ppid  int
}

// helpers lists the exec helpers in container ctr's cgroup of pod name:
// the processes of the helper's name but those a helper forked (a command
// has the name until it execs).
func (d *daemon) helpers(name, ctr string) []helperProc {
	named := d.helperNamed(name, ctr)
	pids := map[int]bool{}
	for _, h := range named {
		pids[h.pid] = true
	}
	var out []helperProc
	for _, h := range named {
		if !pids[h.ppid] {
			out = append(out, h)
		}
	}
	return out
}

// helperNamed lists the processes of the helper's name in container ctr's
// cgroup of pod name.
func (d *daemon) helperNamed(name, ctr string) []helperProc {
	b, _ := os.ReadFile(d.containerCgroupFile(name, ctr, "memory", "cgroup.procs"))
	var out []helperProc
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != execin.HelperName {
			continue
		}
		fields := strings.Fields(s[end+1:])
		ppid, _ := strconv.Atoi(fields[1])
		start, err := procstat.StartTime(pid)
		if err == nil {
			out = append(out, helperProc{pid: pid, start: start, ppid: ppid})
		}
	}
	return out
}

// alive says whether the helper's process is still the one found.
func (h helperProc) alive() bool {
	st, err := procstat.StartTime(h.pid)
	return err == nil && st == h.start
}

// TestProbeExecHelper: exec probes run through the container's exec
// helper, a child of the daemon in the container's cgroup: the command
// runs as the container's user in its working directory, repeatedly, and
// a readiness probe follows its command's exit; after the daemon is
// killed with SIGKILL no helper of the old daemon is left, and the
// restarted daemon's probes run through a helper of its own, which the
// pod's delete ends.
func TestProbeExecHelper(t *testing.T) {
	d := startDaemon(t)
	d.applyNoWait("helper.yaml", probePodYAML("helper", `  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    workingDir: /tmp
    securityContext: {runAsUser: 1000, runAsGroup: 1000}
    livenessProbe:
      exec:
        command: ["/bin/demo", "append", "probe-ran", "x"]
      periodSeconds: 1
    readinessProbe:
      exec:
        command: ["/bin/demo", "read", "/tmp/ready"]
      periodSeconds: 1
`))
	d.waitRunning("helper", "app")
	ctrPID := containerPID(t, d.pod("helper"), "app")
	ran := fmt.Sprintf("/proc/%d/root/tmp/probe-ran", ctrPID)
	testutil.WaitFor(t, probeWait, "the liveness probe to run three times", func() bool {
		b, _ := os.ReadFile(ran)
		return len(b) >= 3
	})
	fi, err := os.Stat(ran)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("the probe's file in the working directory is owned by %d:%d, want the container's 1000:1000", st.Uid, st.Gid)
	}
	if ctrStatus(t, d.pod("helper"), "app").Ready {
		t.Error("ready without /tmp/ready")
	}
	d.mustBerth("exec", "helper", "--", "/bin/demo", "write", "/tmp/ready", "yes")
	d.waitReady("helper", "app", true)
	d.mustBerth("exec", "helper", "--", "/bin/demo", "remove", "/tmp/ready")
	d.waitReady("helper", "app", false)

	old := d.helpers("helper", "app")
	if len(old) == 0 {
		t.Fatal("no exec helper in the container's cgroup")
	}
	for _, h := range old {
		if h.ppid != d.cmd.Process.Pid {
			t.Errorf("helper %d is the child of %d, not of the daemon %d", h.pid, h.ppid, d.cmd.Process.Pid)
		}
	}
	d.stop(syscall.SIGKILL)
	testutil.WaitFor(t, probeWait, "the old daemon's helpers to exit", func() bool {
		for _, h := range old {
			if h.alive() {
				return false
			}
		}
		return true
	})
	d.start()
	before, _ := os.ReadFile(ran)
	testutil.WaitFor(t, probeWait, "the restarted daemon's liveness probe to run", func() bool {
		b, _ := os.ReadFile(ran)
		return len(b) >= len(before)+2
	})
	now := d.helpers("helper", "app")
	if len(now) == 0 {
		t.Fatal("no exec helper after the daemon's restart")
	}
	for _, h := range now {
		if h.ppid != d.cmd.Process.Pid {
			t.Errorf("helper %d after the restart is the child of %d, not of the daemon %d", h.pid, h.ppid, d.cmd.Process.Pid)
		}
	}
	if c := ctrStatus(t, d.pod("helper"), "app"); c.RestartCount != 0 || c.ContainerID != fmt.Sprintf("berth://%d", ctrPID) {
		t.Errorf("the container restarted: %s", toJSON(c))
	}
	// The pod's teardown empties its cgroups, the helper with them, and
	// the daemon reaps it (a zombie is still found by its start time).
	d.mustBerth("delete", "pod", "helper", "--timeout", "60s")
	testutil.WaitFor(t, probeWait, "the helpers killed with their pod and reaped", func() bool {
		for _, h := range now {
			if h.alive() {
				return false
			}
		}
		return true
	})
}
