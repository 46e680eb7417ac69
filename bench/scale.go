package main

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/reconciler"
)

// scaleScenarios start each size's pods at once (one multi-document file,
// `berth apply`), and with them all up measure what the daemon holds per
// pod (open fds, threads, RSS and PSS), MemAvailable and the infras' PSS
// per pod, `get pods` latency, idle CPU, and
// the host objects the pods hold (nftables rules in the daemon's table,
// cgroup directories, IP leases); then tear them down and check the
// daemon's fds went back. Sizes are measured in ascending order with the
// same daemon, so the growth from one size to the next is per pod
// (`-scale 100,1000`). With podman measured, sizes up to podmanMax also run
// `kube play` / `kube down` once on the same file.
func (bn *bench) scaleScenarios(sizes []int, podmanMax int) ([]*Scenario, error) {
	var out []*Scenario
	per := map[string]*Scenario{}
	perPod := func(name, unit string) *Scenario {
		if s := per[name]; s != nil {
			return s
		}
		s := &Scenario{Name: name, Unit: unit}
		per[name] = s
		out = append(out, s)
		return s
	}
	for _, n := range sizes {
		s, err := bn.scaleOne(n, podmanMax, perPod)
		out = append(out, s...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// scaleOne is one size of scaleScenarios; perPod returns the scenarios
// shared across sizes (one sample per size, per pod).
func (bn *bench) scaleOne(n, podmanMax int, perPod func(name, unit string) *Scenario) ([]*Scenario, error) {
	tag := fmt.Sprintf("scale-%d", n)
	up := &Scenario{Name: tag + "-up", Unit: "ms"}
	down := &Scenario{Name: tag + "-down", Unit: "ms"}
	getPods := &Scenario{Name: tag + "-get-pods", Unit: "ms"}
	idle := &Scenario{Name: tag + "-idle-cpu", Unit: "%core"}
	objects := &Scenario{Name: tag + "-objects", Unit: "count"}
	var docs []string
	for _, name := range burstNames("scale", n) {
		docs = append(docs, podYAML(oneContainer, name, imageRef))
	}
	multi, err := bn.writeFile(tag+".yaml", multiDoc(docs))
	if err != nil {
		return nil, err
	}
	pid := bn.b.cmd.Process.Pid
	availBefore, _ := readMemAvailable()
	before, err := readDaemonUse(pid)
	if err != nil {
		return nil, err
	}
	// Generous (the machine is shared), but a burst that cannot come up
	// fails the run in minutes.
	timeout := (time.Minute + time.Duration(n)*500*time.Millisecond).String()
	t, err := bn.b.timedCLI("apply", "-f", multi, "--timeout", timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: berth apply: %w", tag, err)
	}
	up.add("berth", t)
	perPod("scale-up-per-pod", "ms/pod").add("berth", t/float64(n))
	notePhases(up, bn.b.timings())
	time.Sleep(bn.settle)
	availAfter, _ := readMemAvailable()
	after, err := readDaemonUse(pid)
	if err != nil {
		return nil, err
	}
	perPod("scale-memavail-per-pod", "kB/pod").add("berth", float64(availBefore-availAfter)/float64(n))
	objects.note("daemon_before", before)
	objects.note("daemon_up", after)
	perPod("scale-daemon-fds-per-pod", "fd/pod").add("berth", float64(after.FDs-before.FDs)/float64(n))
	perPod("scale-daemon-rss-per-pod", "kB/pod").add("berth", float64(after.RSS-before.RSS)/float64(n))
	perPod("scale-daemon-pss-per-pod", "kB/pod").add("berth", float64(after.PSS-before.PSS)/float64(n))
	objects.note("daemon_fd_kinds_up", after.FDKinds)

	infraPSS, infras, cpuPIDs := int64(0), 0, []int{pid}
	for _, p := range descendants(processes(), pid) {
		if berthClass(exeName(p)) != "infra" {
			continue
		}
		cpuPIDs = append(cpuPIDs, p)
		if m, err := readMem(p); err == nil {
			infraPSS += m.PSS
			infras++
		}
	}
	if infras > 0 {
		perPod("scale-infra-pss-per-pod", "kB/pod").add("berth", float64(infraPSS)/float64(infras))
	}
	objects.note("infras", infras)

	host, err := bn.b.hostObjects()
	if err != nil {
		return nil, err
	}
	objects.add("nft-rules", float64(host.NftRules))
	objects.add("cgroup-dirs", float64(host.CgroupDirs))
	objects.add("ip-leases", float64(host.Leases))
	objects.note("cgroup_dirs_by_hierarchy", host.CgroupByHierarchy)
	objects.note("cidr", bn.b.cidr)
	objects.note("cidr_addresses", cidrSize(bn.b.cidr))

	ps, err := bn.b.client().Pods(context.Background())
	if err != nil {
		return nil, err
	}
	if r := runningCount(ps); r != n {
		return nil, fmt.Errorf("%s: %d of %d pods running after apply returned", tag, r, n)
	}
	for i := 0; i < bn.warmup+bn.n; i++ {
		cli, err := bn.b.timedCLI("get", "pods")
		if err != nil {
			return nil, fmt.Errorf("%s: berth get pods: %w", tag, err)
		}
		t0 := time.Now()
		if _, err := bn.b.client().Pods(context.Background()); err != nil {
			return nil, fmt.Errorf("%s: list pods: %w", tag, err)
		}
		if i >= bn.warmup {
			getPods.add("berth-cli", cli)
			getPods.add("berth-api", ms(time.Since(t0)))
		}
	}
	perPod("scale-get-pods-per-pod", "ms/pod").add("berth", Summarize(getPods.samples("berth-api")).Median/float64(n))
	// A pod's first spec is on trial until its containers ran for
	// min-ready, and the accept that ends the trial writes its record:
	// that is the burst's last work, not idleness. Its CPU, from here
	// until every trial ended, is a figure of its own; idle is measured
	// after it.
	settleEnd := lastStart(ps).Add(reconciler.DefaultMinReady + time.Second)
	settleFrom := cpuNanos(cpuPIDs)
	time.Sleep(time.Until(settleEnd))
	perPod("scale-settle-cpu-per-pod", "ms/pod").add("berth", float64(cpuNanos(cpuPIDs)-settleFrom)/1e6/float64(n))
	idle.add("berth", cpuPercent(cpuPIDs, bn.idle))

	if t, err = bn.b.timedCLI("delete", "-f", multi, "--timeout", timeout); err != nil {
		return nil, fmt.Errorf("%s: berth delete: %w", tag, err)
	}
	down.add("berth", t)
	perPod("scale-down-per-pod", "ms/pod").add("berth", t/float64(n))
	bn.b.timings()
	time.Sleep(bn.settle)
	gone, err := readDaemonUse(pid)
	if err != nil {
		return nil, err
	}
	objects.note("daemon_down", gone)
	if bn.p != nil && n <= podmanMax {
		if err := bn.podmanScale(multi, n, up, down); err != nil {
			return nil, err
		}
	}
	return []*Scenario{up, down, getPods, idle, objects}, nil
}

// podmanScale runs `kube play` and `kube down` of the same file once, and
// notes podman's time per pod beside berth's.
func (bn *bench) podmanScale(multi string, n int, up, down *Scenario) error {
	t, err := bn.p.timed("kube", "play", multi)
	if err != nil {
		return fmt.Errorf("scale: podman kube play: %w", err)
	}
	up.add("podman", t)
	up.note("podman_ms_per_pod", round3(t/float64(n)))
	if t, err = bn.p.timed("kube", "down", multi); err != nil {
		return fmt.Errorf("scale: podman kube down: %w", err)
	}
	down.add("podman", t)
	down.note("podman_ms_per_pod", round3(t/float64(n)))
	return nil
}

// daemonUse is what the daemon process holds: open fds (and by kind),
// threads, RSS and PSS (kB).
type daemonUse struct {
	FDs     int            `json:"fds"`
	FDKinds map[string]int `json:"-"`
	Threads int            `json:"threads"`
	RSS     int64          `json:"rss_kB"`
	PSS     int64          `json:"pss_kB"`
}

// fdKind names what an fd's /proc/PID/fd link points at: "socket",
// "pipe", "anon_inode:[pidfd]", ..., or "file" for a path.
func fdKind(link string) string {
	switch {
	case strings.HasPrefix(link, "socket:"):
		return "socket"
	case strings.HasPrefix(link, "pipe:"):
		return "pipe"
	case strings.HasPrefix(link, "anon_inode:"):
		return link
	case strings.HasPrefix(link, "/memfd:"):
		return "memfd"
	}
	return "file"
}

// parseThreads reads the "Threads:" line of /proc/PID/status.
func parseThreads(status string) (int, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
			return strconv.Atoi(strings.TrimSpace(rest))
		}
	}
	return 0, fmt.Errorf("status: no Threads")
}

// scaleCIDR is the daemon's pod range for up to pods pods: the smallest
// prefix, /23 at most, with room for twice as many addresses (leases of
// pods being torn down overlap the next burst's). a and b pick the range
// inside 10.0.0.0/8.
func scaleCIDR(pods int, a, b byte) netip.Prefix {
	bits := 23
	for bits > 8 && 1<<(32-bits) < 2*pods {
		bits--
	}
	addr := netip.AddrFrom4([4]byte{10, 150 + a%40, b, 0})
	p, _ := addr.Prefix(bits)
	return p
}

// cidrSize is how many addresses a CIDR holds (0 when it does not parse).
func cidrSize(cidr string) int {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return 0
	}
	return 1 << (32 - p.Bits())
}

// parseSizes reads "100,1000".
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-scale %q: %q is not a positive pod count", s, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// lastStart is when the last of the pods' containers started running.
func lastStart(ps []api.Pod) time.Time {
	var last time.Time
	for _, p := range ps {
		for _, c := range p.Status.ContainerStatuses {
			if r := c.State.Running; r != nil && r.StartedAt.After(last) {
				last = r.StartedAt
			}
		}
	}
	return last
}
