package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/infra"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times.
const clockTick = 10 * time.Millisecond

// berthCPU is the CPU berth's processes have used: the daemon's own
// threads (live or gone), the children it has reaped (exec-init, the exec
// helpers and the commands they ran), every infra's own, and every live
// exec helper's with the commands it reaped (a helper the daemon reaps
// moves from helpers to children).
type berthCPU struct {
	daemon, children, infras, helpers time.Duration
	// helperCmds is the part of helpers its commands used.
	helperCmds time.Duration
}

func (c berthCPU) total() time.Duration { return c.daemon + c.children + c.infras + c.helpers }

func (c berthCPU) add(o berthCPU) berthCPU {
	return berthCPU{c.daemon + o.daemon, c.children + o.children, c.infras + o.infras, c.helpers + o.helpers, c.helperCmds + o.helperCmds}
}

func (c berthCPU) sub(o berthCPU) berthCPU {
	return berthCPU{c.daemon - o.daemon, c.children - o.children, c.infras - o.infras, c.helpers - o.helpers, c.helperCmds - o.helperCmds}
}

func readBerthCPU(daemonPID int) (berthCPU, error) {
	d, err := readStat(daemonPID)
	if err != nil {
		return berthCPU{}, fmt.Errorf("daemon stat: %w", err)
	}
	c := berthCPU{daemon: time.Duration(d.CPU) * clockTick, children: time.Duration(d.ChildCPU) * clockTick}
	procs := processes()
	for _, pid := range descendants(procs, daemonPID) {
		switch st := procs[pid]; st.Comm {
		case infra.ProcessName:
			c.infras += time.Duration(st.CPU) * clockTick
		case execin.HelperName:
			// The daemon's child: a command the helper forked has its
			// name until it execs, and its CPU comes with the helper's.
			if st.PPID != daemonPID {
				continue
			}
			c.helpers += time.Duration(st.CPU+st.ChildCPU) * clockTick
			c.helperCmds += time.Duration(st.ChildCPU) * clockTick
		}
	}
	return c, nil
}

// infraPIDs are the daemon's infra processes.
func infraPIDs(daemonPID int) []int {
	procs := processes()
	var out []int
	for _, pid := range descendants(procs, daemonPID) {
		if procs[pid].Comm == infra.ProcessName {
			out = append(out, pid)
		}
	}
	return out
}

// helperMemory sums the live exec helpers' memory from smaps_rollup, in
// KiB: how many there are, their PSS and their private pages.
func helperMemory(daemonPID int) map[string]int {
	out := map[string]int{}
	procs := processes()
	for _, pid := range descendants(procs, daemonPID) {
		if procs[pid].Comm != execin.HelperName || procs[pid].PPID != daemonPID {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue
		}
		out["count"]++
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kib, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "Pss:":
				out["pss_kib"] += kib
			case "Private_Clean:", "Private_Dirty:":
				out["private_kib"] += kib
			}
		}
	}
	return out
}

// netSnapshot counts TIME_WAIT sockets and conntrack entries, in the host's
// network namespace and summed over the pods' (each infra's).
type netSnapshot struct {
	HostTimeWait, PodTimeWait   int
	HostConntrack, PodConntrack int
}

func readNetSnapshot(daemonPID int) netSnapshot {
	var s netSnapshot
	read := func(path string) string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
	s.HostTimeWait = countTimeWait(read("/proc/self/net/tcp")) + countTimeWait(read("/proc/self/net/tcp6"))
	s.HostConntrack = countLines(read("/proc/self/net/nf_conntrack"))
	for _, pid := range infraPIDs(daemonPID) {
		p := fmt.Sprintf("/proc/%d/net/", pid)
		s.PodTimeWait += countTimeWait(read(p+"tcp")) + countTimeWait(read(p+"tcp6"))
		s.PodConntrack += countLines(read(p + "nf_conntrack"))
	}
	return s
}

// probeScenarios (berth only, -only probes) measure what probes cost:
// bn.burst pods with an httpGet readiness probe every second, CPU of
// berth's processes over bn.probeWindows windows of bn.probeWindow each;
// the same pods with an exec liveness probe every second added, CPU over
// as many windows again; per exec probe run, an exec window's CPU less
// the http windows' median rate, split into berth's processes (the daemon,
// the exec helpers, the infras) and the commands the helpers ran;
// TIME_WAIT and conntrack entries before and after each window. Then
// probe-restart: a liveness failure until the container runs again.
func (bn *bench) probeScenarios() ([]*Scenario, error) {
	dir := filepath.Join(bn.b.dir, "probes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	httpCPU := &Scenario{Name: "probe-cpu-http", Unit: "%core"}
	allCPU := &Scenario{Name: "probe-cpu-http+exec", Unit: "%core"}
	perExec := &Scenario{Name: "probe-exec-cpu", Unit: "ms"}
	names := burstNames("probe", bn.burst)
	write := func(exec bool) (string, error) {
		var docs []string
		for _, n := range names {
			docs = append(docs, probePodYAML(n, imageRef, dir, exec))
		}
		// One file name: the second apply replaces the first's pods.
		return bn.writeFile("probes.yaml", multiDoc(docs))
	}
	var windows [2][]probeWindow
	for i, exec := range []bool{false, true} {
		f, err := write(exec)
		if err != nil {
			return nil, err
		}
		if _, err := bn.b.timedCLI("apply", "-f", f, "--timeout", "10m"); err != nil {
			return nil, fmt.Errorf("probes: apply: %w", err)
		}
		if err := bn.waitPods(func(ps []api.Pod) bool { return readyCount(ps, exec) == len(names) }); err != nil {
			return nil, fmt.Errorf("probes: %w", err)
		}
		time.Sleep(bn.settle)
		s := httpCPU
		if exec {
			s = allCPU
		}
		pid := bn.b.cmd.Process.Pid
		for k := range bn.probeWindows {
			w, err := bn.measureProbes(pid, dir)
			if err != nil {
				return nil, err
			}
			windows[i] = append(windows[i], w)
			s.add("berth", pct(w.cpu.total(), w.took))
			if k == 0 {
				s.note("net_before", w.netBefore)
			}
			s.note("net_after", w.netAfter)
		}
		s.note("window_s", round3(bn.probeWindow.Seconds()))
		s.note("windows", bn.probeWindows)
		s.note("pods", len(names))
		s.note("cpu_ms", windowCPU(windows[i]))
		if n, err := restarts(bn); err == nil {
			s.note("container_restarts", n)
		}
		if exec {
			s.note("helpers", helperMemory(pid))
		}
	}
	// The http windows' median rate is what the pods cost without their
	// exec probes.
	var httpRates []float64
	for _, w := range windows[0] {
		httpRates = append(httpRates, float64(w.cpu.total())/w.took.Seconds())
	}
	httpRate := Summarize(httpRates).Median
	var execs int64
	for _, w := range windows[1] {
		if w.execs == 0 {
			return nil, fmt.Errorf("probes: no exec probe ran in %s", w.took)
		}
		execs += w.execs
		extra := w.cpu.total() - time.Duration(httpRate*w.took.Seconds())
		perExec.add("berth", ms(extra-w.cpu.helperCmds)/float64(w.execs))
		perExec.add("berth+command", ms(extra)/float64(w.execs))
		perExec.add("command", ms(w.cpu.helperCmds)/float64(w.execs))
	}
	perExec.note("exec_probes_run", execs)
	perExec.note("exec_probes_per_s", round3(float64(execs)/(bn.probeWindow.Seconds()*float64(bn.probeWindows))))
	cmd, err := commandCPU(bn.e.demoBin, filepath.Join(bn.b.dir, "append-direct"), 100)
	if err != nil {
		return nil, err
	}
	perExec.note("command_alone_ms", round3(Summarize(cmd).Median))
	allCPU.note("exec_probes_run", execs)
	if _, err := bn.b.cli("delete", "-f", filepath.Join(bn.files, "probes.yaml"), "--timeout", "10m"); err != nil {
		return nil, err
	}
	restart, err := bn.probeRestart()
	if err != nil {
		return nil, err
	}
	return []*Scenario{httpCPU, allCPU, perExec, restart}, nil
}

// probeWindow is one window of the probe scenarios: the CPU berth's
// processes used in it, the exec probes that ran (their appends) and the
// sockets before and after.
type probeWindow struct {
	cpu                 berthCPU
	execs               int64
	took                time.Duration
	netBefore, netAfter netSnapshot
}

// measureProbes measures one window of bn.probeWindow.
func (bn *bench) measureProbes(daemonPID int, dir string) (probeWindow, error) {
	w := probeWindow{netBefore: readNetSnapshot(daemonPID)}
	execs0 := dirBytes(dir)
	cpu0, err := readBerthCPU(daemonPID)
	if err != nil {
		return w, err
	}
	t0 := time.Now()
	time.Sleep(bn.probeWindow)
	cpu1, err := readBerthCPU(daemonPID)
	if err != nil {
		return w, err
	}
	w.took, w.cpu, w.execs = time.Since(t0), cpu1.sub(cpu0), dirBytes(dir)-execs0
	w.netAfter = readNetSnapshot(daemonPID)
	return w, nil
}

// windowCPU is the CPU of each part of berth in windows, ms, each summed
// over the windows. A helper the daemon reaps within a window moves with
// its commands into children, where they cannot be told apart.
func windowCPU(windows []probeWindow) map[string]float64 {
	var sum berthCPU
	for _, w := range windows {
		sum = sum.add(w.cpu)
	}
	return map[string]float64{"daemon": ms(sum.daemon), "children": ms(sum.children), "infras": ms(sum.infras), "helpers": ms(sum.helpers), "helpers_commands": ms(sum.helperCmds)}
}

// readyCount counts the pods whose containers are all ready and, when
// exec, whose spec has the exec probe (the replaced pods).
func readyCount(ps []api.Pod, exec bool) int {
	n := 0
	for _, p := range ps {
		if len(p.Spec.Containers) == 0 || (p.Spec.Containers[0].LivenessProbe != nil) != exec {
			continue
		}
		ready := len(p.Status.ContainerStatuses) > 0
		for _, c := range p.Status.ContainerStatuses {
			ready = ready && c.Ready
		}
		if ready {
			n++
		}
	}
	return n
}

// restarts sums the restart counts of the daemon's containers.
func restarts(bn *bench) (int32, error) {
	ps, err := bn.b.client().Pods(context.Background())
	if err != nil {
		return 0, err
	}
	var n int32
	for _, p := range ps {
		for _, c := range p.Status.ContainerStatuses {
			n += c.RestartCount
		}
	}
	return n, nil
}

// dirBytes sums the sizes of the files in dir: the exec probes' appends.
func dirBytes(dir string) int64 {
	ents, _ := os.ReadDir(dir)
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

// commandCPU runs the exec probe's command itself n times on the host
// (`demo append`), and returns the CPU of each run (user+system, ms): the
// part of an exec probe's cost that is the user's program, not berth's.
func commandCPU(demo, file string, n int) ([]float64, error) {
	out := make([]float64, 0, n)
	for range n {
		cmd := exec.Command(demo, "append", file, "x")
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("demo append: %w", err)
		}
		out = append(out, ms(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()))
	}
	return out, nil
}

func pct(cpu, over time.Duration) float64 { return float64(cpu) / float64(over) * 100 }

// probeRestart measures, bn.warmup+bn.n times, a failing liveness probe
// until the container runs again: from the Unhealthy event to the new
// run's state.running.startedAt ("berth"), and from the moment the harness
// made the probe fail ("from-trigger", which adds up to one probe period).
func (bn *bench) probeRestart() (*Scenario, error) {
	s := &Scenario{Name: "probe-restart", Unit: "ms"}
	const name = "probe-restart"
	f, err := bn.writeFile(name+".yaml", livenessPodYAML(name, imageRef))
	if err != nil {
		return nil, err
	}
	if _, err := bn.b.cli("apply", "-f", f, "--timeout", "60s"); err != nil {
		return nil, err
	}
	defer bn.b.cli("delete", "-f", f, "--timeout", "60s")
	c := bn.b.client()
	for i := 0; i < bn.warmup+bn.n; i++ {
		var before int32
		err := poll(func() bool {
			st, ok := probedContainer(c, name)
			before = st.RestartCount
			return ok && st.Ready
		})
		if err != nil {
			return nil, fmt.Errorf("probe-restart: wait until ready: %w", err)
		}
		if _, err := bn.b.cli("exec", name, "--", "/bin/demo", "write", "/tmp/unhealthy", "x"); err != nil {
			return nil, fmt.Errorf("probe-restart: make the probe fail: %w", err)
		}
		trigger := time.Now()
		var started time.Time
		err = poll(func() bool {
			st, ok := probedContainer(c, name)
			if !ok || st.RestartCount <= before || st.State.Running == nil {
				return false
			}
			started = st.State.Running.StartedAt
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("probe-restart: wait for the next run: %w", err)
		}
		evs, err := c.Events(context.Background(), time.Time{}, api.PodObject("default", name))
		if err != nil {
			return nil, err
		}
		var unhealthy time.Time
		for _, e := range evs {
			if e.Reason == "Unhealthy" && e.Time.Before(started) && e.Time.After(unhealthy) {
				unhealthy = e.Time
			}
		}
		if unhealthy.IsZero() {
			return nil, fmt.Errorf("probe-restart: no Unhealthy event before the run of %s", started)
		}
		if i >= bn.warmup {
			s.add("berth", ms(started.Sub(unhealthy)))
			s.add("from-trigger", ms(started.Sub(trigger)))
		}
	}
	return s, nil
}

// probedContainer returns the status of the pod's one container.
func probedContainer(c *api.Client, pod string) (api.ContainerStatus, bool) {
	p, err := c.Pod(context.Background(), "default", pod)
	if err != nil || len(p.Status.ContainerStatuses) != 1 {
		return api.ContainerStatus{}, false
	}
	return p.Status.ContainerStatuses[0], true
}

// poll calls done every 10 ms until it says so, for at most a minute.
func poll(done func() bool) error {
	for deadline := time.Now().Add(time.Minute); !done(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within a minute")
		}
	}
	return nil
}
