package main

import (
	"time"
)

// memSnapshot is the state before pods start: MemAvailable and the
// daemon's own memory (berth only).
type memSnapshot struct {
	avail  int64
	daemon memUsage
}

func snapshot(daemonPID int) memSnapshot {
	s := memSnapshot{}
	s.avail, _ = readMemAvailable()
	if daemonPID > 0 {
		s.daemon, _ = readMem(daemonPID)
	}
	return s
}

// classTotals sums PSS and RSS (kB) and counts processes per class.
type classTotals map[string]*classTotal

type classTotal struct {
	Count int   `json:"count"`
	PSS   int64 `json:"pss_kB"`
	RSS   int64 `json:"rss_kB"`
}

func (c classTotals) add(class string, m memUsage) {
	t := c[class]
	if t == nil {
		t = &classTotal{}
		c[class] = t
	}
	t.Count++
	t.PSS += m.PSS
	t.RSS += m.RSS
}

// podmanClass names what a process is to podman's pods; "" is not podman's.
func podmanClass(comm, exe string) string {
	switch {
	case exe == "demo":
		return "workload"
	case comm == "conmon":
		return "conmon"
	case comm == "catatonit":
		return "infra"
	case comm == "aardvark-dns" || comm == "netavark":
		return "network"
	}
	return ""
}

// berthClass names what a descendant of the berth daemon is.
func berthClass(exe string) string {
	if exe == "demo" {
		return "workload"
	}
	return "infra"
}

// measureBerth records, with bn.burst pods up, MemAvailable consumed per
// pod, per-pod PSS of everything that is not the workload (infra processes
// plus the daemon's growth), and the daemon's and infras' CPU over bn.idle.
func (bn *bench) measureBerth(before memSnapshot, memAvail, pss, idle *Scenario) error {
	time.Sleep(bn.settle)
	daemonPID := bn.b.cmd.Process.Pid
	after, _ := readMemAvailable()
	daemon, err := readMem(daemonPID)
	if err != nil {
		return err
	}
	totals := classTotals{}
	var cpuPIDs []int
	for _, pid := range descendants(processes(), daemonPID) {
		class := berthClass(exeName(pid))
		if m, err := readMem(pid); err == nil {
			totals.add(class, m)
		}
		if class != "workload" {
			cpuPIDs = append(cpuPIDs, pid)
		}
	}
	n := float64(bn.burst)
	memAvail.add("berth", float64(before.avail-after)/n)
	infraPSS := int64(0)
	if t := totals["infra"]; t != nil {
		infraPSS = t.PSS
	}
	pss.add("berth", float64(infraPSS+daemon.PSS-before.daemon.PSS)/n)
	pss.note("berth_processes", totals)
	pss.note("berth_daemon_pss_kB", map[string]int64{"before": before.daemon.PSS, "after": daemon.PSS})
	pss.note("berth_daemon_rss_kB", map[string]int64{"before": before.daemon.RSS, "after": daemon.RSS})
	idle.add("berth", cpuPercent(append(cpuPIDs, daemonPID), bn.idle))
	return nil
}

// measurePodman is measureBerth for podman: conmon, the infra (catatonit)
// and network helpers count as overhead; the workload is reported apart.
func (bn *bench) measurePodman(before memSnapshot, memAvail, pss, idle *Scenario) error {
	time.Sleep(bn.settle)
	after, _ := readMemAvailable()
	totals := classTotals{}
	var cpuPIDs []int
	var overhead int64
	for pid, st := range processes() {
		class := podmanClass(st.Comm, exeName(pid))
		if class == "" {
			continue
		}
		m, err := readMem(pid)
		if err != nil {
			continue
		}
		totals.add(class, m)
		if class != "workload" {
			overhead += m.PSS
			cpuPIDs = append(cpuPIDs, pid)
		}
	}
	n := float64(bn.burst)
	memAvail.add("podman", float64(before.avail-after)/n)
	pss.add("podman", float64(overhead)/n)
	pss.note("podman_processes", totals)
	idle.add("podman", cpuPercent(cpuPIDs, bn.idle))
	return nil
}

// cpuPercent is the CPU the processes use over d, in percent of one core.
func cpuPercent(pids []int, d time.Duration) float64 {
	t0 := cpuNanos(pids)
	start := time.Now()
	time.Sleep(d)
	return float64(cpuNanos(pids)-t0) / float64(time.Since(start).Nanoseconds()) * 100
}
