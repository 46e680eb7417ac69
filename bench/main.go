// Command bench measures berth against podman (`kube play` / `kube down`
// on the same YAML and the same workload image) and against the kernel
// floor (clone into the same namespaces + exec, one veth pair into a netns,
// addressed), in one run with the runs interleaved, and prints a table plus
// one JSON line per scenario.
//
//	go run ./bench [-n 10] [-warmup 2] [-burst 100] [-burst-n 3] [-idle 30s] [-probe-window 1m] [-probe-windows 1] [-podman auto|off] [-podman-runtime runc|crun] [-only start-1,...,update,pull,probes,scale,scrape] [-scale 100,1000]
//
// It needs root (namespaces, cgroups, veths). It builds berth and the
// examples/demo workload from this module, imports the workload into a
// private berth store and a private podman store, and installs podman (and
// runc) with apt-get when they are missing. Every object it makes (temp
// dirs, bridge, nftables table, cgroups, podman storage) is removed at the
// end. BENCHMARKS.md holds the latest figures.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// order is how the scenarios are listed, as issue 6 names them.
var order = []string{"start-1", "start-2", "start-host", "stop", "burst", "overhead", "restart", "update", "idle", "relist", "scale", "seccomp", "cli", "pull", "pull-rss", "probe", "scrape", "floor"}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := mainErr(log); err != nil {
		log.Error("bench failed", "err", err)
		os.Exit(1)
	}
}

type options struct {
	n, warmup, burst, burstN, relist int
	idle, settle, probeWindow        time.Duration
	podman, runtime, only, repo      string
	berth, scale                     string
	scalePodman, daemonNofile        int
	probeWindows                     int
}

func parseFlags() options {
	var o options
	flag.IntVar(&o.n, "n", 10, "measured runs per scenario (after the warm-up)")
	flag.IntVar(&o.warmup, "warmup", 2, "warm-up runs per scenario, not counted")
	flag.IntVar(&o.burst, "burst", 100, "pods in the burst, overhead and idle scenarios")
	flag.IntVar(&o.burstN, "burst-n", 3, "measured runs of the burst scenarios")
	flag.IntVar(&o.relist, "relist", 1000, "manifests in the no-op re-list scenario")
	flag.DurationVar(&o.idle, "idle", 30*time.Second, "how long idle CPU is measured with the burst's pods up")
	flag.DurationVar(&o.probeWindow, "probe-window", time.Minute, "how long the probe scenarios measure CPU, each")
	flag.IntVar(&o.probeWindows, "probe-windows", 1, "how many windows the probe scenarios measure, each")
	flag.DurationVar(&o.settle, "settle", 2*time.Second, "pause after a burst is up before memory is read")
	flag.StringVar(&o.podman, "podman", "auto", "measure podman: auto (install if missing), off")
	flag.StringVar(&o.runtime, "podman-runtime", "runc", "OCI runtime podman uses: runc or crun (on a hybrid cgroup host whose cgroup2 mount holds hugetlb, the harness mounts a v1 hugetlb hierarchy for crun while it runs)")
	flag.StringVar(&o.scale, "scale", "100,1000", "pod counts of the scale group, ascending (run only when -only names scale)")
	flag.IntVar(&o.scalePodman, "scale-podman", 100, "largest scale size podman also runs")
	flag.IntVar(&o.daemonNofile, "daemon-nofile", 0, "lower the berth daemon's open-file limit to this (0: leave it), to see how it behaves at the limit")
	flag.StringVar(&o.only, "only", "", "comma-separated scenario groups to run: start-1,start-2,start-host,burst,restart,update,relist,seccomp,cli,pull,probes,scale,scrape (default all but scale; stop comes with start-1)")
	flag.StringVar(&o.repo, "repo", ".", "the berth module to build")
	flag.StringVar(&o.berth, "berth", "", "use this berth binary instead of building cmd/berth")
	flag.Parse()
	return o
}

func mainErr(log *slog.Logger) error {
	o := parseFlags()
	if o.probeWindows < 1 {
		return fmt.Errorf("-probe-windows must be at least 1, not %d", o.probeWindows)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("bench must run as root: it creates namespaces, cgroups and veths")
	}
	dir, err := os.MkdirTemp("", "berth-bench-env-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e, err := newEnv(o.repo, dir, o.berth, log)
	if err != nil {
		return err
	}
	sizes, err := parseSizes(o.scale)
	if err != nil {
		return err
	}
	maxPods := o.burst
	if selected(o.only)("scale") && o.only != "" {
		for _, n := range sizes {
			maxPods = max(maxPods, n)
		}
	}
	bn := &bench{e: e, log: log, warmup: o.warmup, n: o.n, burst: o.burst, burstN: o.burstN,
		idle: o.idle, settle: o.settle, probeWindow: o.probeWindow, probeWindows: o.probeWindows, files: filepath.Join(dir, "yaml")}
	if err := os.MkdirAll(bn.files, 0o755); err != nil {
		return err
	}
	meta := map[string]any{"go": runtime.Version(), "cpus": runtime.NumCPU(), "n": o.n, "warmup": o.warmup}
	if o.podman != "off" {
		if o.runtime != "runc" && o.runtime != "crun" {
			return fmt.Errorf("-podman-runtime %q: runc or crun", o.runtime)
		}
		took, err := ensurePackages(log, map[string]string{"podman": "podman", o.runtime: o.runtime})
		if err != nil {
			return err
		}
		meta["install_seconds"] = took.Seconds()
		if bn.p, err = newPodman(e, o.runtime); err != nil {
			return err
		}
		defer bn.p.cleanup()
		meta["podman"] = bn.p.version
		meta["podman_runtime"] = o.runtime
	}
	if bn.b, err = newBerthDaemon(e, maxPods); err != nil {
		return err
	}
	defer bn.b.cleanup()
	if err := bn.b.start(); err != nil {
		return err
	}
	if o.daemonNofile > 0 {
		lim := unix.Rlimit{Cur: uint64(o.daemonNofile), Max: uint64(o.daemonNofile)}
		if err := unix.Prlimit(bn.b.cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
			return fmt.Errorf("lower the daemon's open-file limit: %w", err)
		}
		meta["daemon_nofile"] = o.daemonNofile
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		meta["loadavg_at_start"] = strings.TrimSpace(string(l))
	}
	results, err := bn.runAll(selected(o.only), o.only != "", o.relist, sizes, o.scalePodman)
	printResults(meta, results)
	return err
}

func selected(only string) func(string) bool {
	if only == "" {
		return func(string) bool { return true }
	}
	want := map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		want[strings.TrimSpace(s)] = true
	}
	return func(s string) bool { return want[s] }
}

// runAll runs the selected scenario groups; on an error it returns what
// was measured so far with the error.
func (bn *bench) runAll(sel func(string) bool, named bool, relist int, sizes []int, scalePodman int) ([]*Scenario, error) {
	var out []*Scenario
	groups := []struct {
		name string
		run  func() ([]*Scenario, error)
	}{
		{"start-1", func() ([]*Scenario, error) { return bn.startStop("start-1", oneContainer, true) }},
		{"start-2", func() ([]*Scenario, error) { return bn.startStop("start-2", twoSharingEmptyDir, false) }},
		{"start-host", func() ([]*Scenario, error) { return bn.startStop("start-host", hostNetwork, false) }},
		{"restart", func() ([]*Scenario, error) { s, err := bn.restart(); return []*Scenario{s}, err }},
		{"update", func() ([]*Scenario, error) { s, err := bn.update(); return []*Scenario{s}, err }},
		{"relist", func() ([]*Scenario, error) { s, err := bn.relist(relist); return []*Scenario{s}, err }},
		{"burst", bn.burstScenarios},
		{"seccomp", bn.seccompScenarios},
		{"cli", bn.cliScenarios},
		{"pull", bn.pullScenarios},
		{"probes", bn.probeScenarios},
		{"scale", func() ([]*Scenario, error) { return bn.scaleScenarios(sizes, scalePodman) }},
		{"scrape", bn.scrapeScenarios},
	}
	for _, g := range groups {
		if !sel(g.name) || (g.name == "scale" && !named) {
			continue
		}
		bn.log.Info("scenario", "group", g.name)
		ss, err := g.run()
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", g.name, err)
		}
		for _, s := range ss {
			if s != nil {
				out = append(out, s)
			}
		}
	}
	sortScenarios(out, order)
	return out, nil
}

func printResults(meta map[string]any, ss []*Scenario) {
	recs := make([]Record, 0, len(ss))
	for _, s := range ss {
		recs = append(recs, s.Record())
	}
	fmt.Print(Table(recs))
	enc := json.NewEncoder(os.Stdout)
	enc.Encode(map[string]any{"meta": meta})
	for _, r := range recs {
		enc.Encode(r)
	}
}
