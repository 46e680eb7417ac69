package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifestdir"
)

// bench holds what the scenarios share.
type bench struct {
	e      *env
	b      *berthDaemon
	p      *podman // nil when podman is not measured
	log    *slog.Logger
	warmup int
	n      int
	burstN int
	burst  int
	idle   time.Duration
	settle time.Duration
	files  string // where the scenario YAML files are written
	// probeWindow is how long the probe scenarios measure CPU, each.
	probeWindow time.Duration
	// probeWindows is how many windows each probe scenario measures.
	probeWindows int
}

// podmanStall is the lock stall podman kube down often ends with here (a
// 3 s timeout between `kube down` and conmon's exit commands): runs longer
// than this are reported apart, besides the plain median.
const podmanStall = 2500.0

func (bn *bench) writeFile(name, content string) (string, error) {
	p := filepath.Join(bn.files, name)
	return p, os.WriteFile(p, []byte(content), 0o644)
}

// startStop runs one start scenario: each iteration starts the pod with
// berth, then podman, then the floor, and stops each again. withStop also
// reports the stop times as the "stop" scenario.
func (bn *bench) startStop(scn string, shape podShape, withStop bool) ([]*Scenario, error) {
	start := &Scenario{Name: scn, Unit: "ms"}
	stop := &Scenario{Name: "stop", Unit: "ms"}
	floorProcs, floorNet := 1, shape != hostNetwork
	if shape == twoSharingEmptyDir {
		floorProcs = 2
	}
	var internal []podTiming
	for i := 0; i < bn.warmup+bn.n; i++ {
		keep := i >= bn.warmup
		name := fmt.Sprintf("%s-%d", scn, i)
		f, err := bn.writeFile(name+".yaml", podYAML(shape, name, imageRef))
		if err != nil {
			return nil, err
		}
		up, err := bn.b.timedCLI("apply", "-f", f, "--timeout", "60s")
		if err != nil {
			return nil, fmt.Errorf("%s: berth apply: %w", scn, err)
		}
		if err := waitWorkloadsHandleSIGTERM(10 * time.Second); err != nil {
			return nil, err
		}
		down, err := bn.b.timedCLI("delete", "-f", f, "--timeout", "60s")
		if err != nil {
			return nil, fmt.Errorf("%s: berth delete: %w", scn, err)
		}
		if ts := bn.b.timings(); keep {
			internal = append(internal, ts...)
			// berth's own figure: manifest seen -> all containers started.
			for _, t := range ts {
				start.add("berth-internal", ms(t.Phases["total"]))
			}
			start.add("berth", up)
			stop.add("berth", down)
		}
		if bn.p != nil {
			up, err := bn.p.timed("kube", "play", f)
			if err != nil {
				return nil, fmt.Errorf("%s: podman kube play: %w", scn, err)
			}
			if err := waitWorkloadsHandleSIGTERM(10 * time.Second); err != nil {
				return nil, err
			}
			down, err := bn.p.timed("kube", "down", f)
			if err != nil {
				return nil, fmt.Errorf("%s: podman kube down: %w", scn, err)
			}
			if keep {
				start.add("podman", up)
				stop.add("podman", down)
			}
		}
		t0 := time.Now()
		fp, err := startFloor(bn.e.demoBin, floorProcs, floorNet)
		if err != nil {
			return nil, err
		}
		up = ms(time.Since(t0))
		t0 = time.Now()
		if err := fp.stop(); err != nil {
			return nil, err
		}
		if keep {
			start.add("floor", up)
			stop.add("floor", ms(time.Since(t0)))
		}
	}
	notePhases(start, internal)
	if !withStop {
		return []*Scenario{start}, nil
	}
	var noStall []float64
	for _, v := range stop.samples("podman") {
		if v < podmanStall {
			noStall = append(noStall, v)
		}
	}
	if len(stop.samples("podman")) > 0 {
		stop.note("podman_runs_without_stall", Summarize(noStall))
		stop.note("berth_median_vs_podman_without_stall", ratioOfMedians(noStall, stop.samples("berth")))
	}
	return []*Scenario{start, stop}, nil
}

func ratioOfMedians(num, den []float64) float64 {
	d := Summarize(den).Median
	if d == 0 || len(num) == 0 {
		return 0
	}
	return Summarize(num).Median / d
}

// notePhases adds the median of each phase of berth's own "pod created"
// timing lines (ms) to the scenario.
func notePhases(s *Scenario, ts []podTiming) {
	if len(ts) == 0 {
		return
	}
	phases := map[string][]float64{}
	for _, t := range ts {
		for k, d := range t.Phases {
			phases[k] = append(phases[k], ms(d))
		}
	}
	med := map[string]float64{}
	for k, v := range phases {
		med[k] = round3(Summarize(v).Median)
	}
	s.note("berth_phases_median_ms", med)
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

// burstScenarios start bn.burst one-container pods at once and tear them
// down: as one multi-document file (berth apply vs podman kube play), and
// as bn.burst files renamed into the manifest directory (berth only:
// podman has no manifest directory). The last measured run also measures
// memory and idle CPU with all pods up.
func (bn *bench) burstScenarios() ([]*Scenario, error) {
	tag := fmt.Sprintf("burst-%d", bn.burst)
	up := &Scenario{Name: tag + "-file", Unit: "ms"}
	down := &Scenario{Name: tag + "-file-down", Unit: "ms"}
	upFiles := &Scenario{Name: tag + "-files", Unit: "ms"}
	downFiles := &Scenario{Name: tag + "-files-down", Unit: "ms"}
	memAvail := &Scenario{Name: "overhead-memavail", Unit: "kB/pod"}
	pss := &Scenario{Name: "overhead-pss", Unit: "kB/pod"}
	idle := &Scenario{Name: "idle-cpu", Unit: "%core"}
	var docs []string
	for _, n := range burstNames("burst", bn.burst) {
		docs = append(docs, podYAML(oneContainer, n, imageRef))
	}
	multi, err := bn.writeFile("burst.yaml", multiDoc(docs))
	if err != nil {
		return nil, err
	}
	for i := 0; i < bn.warmup+bn.burstN; i++ {
		keep, measure := i >= bn.warmup, i == bn.warmup+bn.burstN-1
		var before memSnapshot
		if measure {
			before = snapshot(bn.b.cmd.Process.Pid)
		}
		t, err := bn.b.timedCLI("apply", "-f", multi, "--timeout", "10m")
		if err != nil {
			return nil, fmt.Errorf("%s: berth apply: %w", tag, err)
		}
		if keep {
			up.add("berth", t)
		}
		if measure {
			if err := bn.measureBerth(before, memAvail, pss, idle); err != nil {
				return nil, err
			}
		}
		if t, err = bn.b.timedCLI("delete", "-f", multi, "--timeout", "10m"); err != nil {
			return nil, fmt.Errorf("%s: berth delete: %w", tag, err)
		}
		if keep {
			down.add("berth", t)
		}
		bn.b.timings()
		if bn.p != nil {
			if err := bn.podmanBurst(multi, keep, measure, up, down, memAvail, pss, idle); err != nil {
				return nil, err
			}
		}
		tu, td, err := bn.berthFilesBurst()
		if err != nil {
			return nil, err
		}
		if keep {
			upFiles.add("berth", tu)
			downFiles.add("berth", td)
		}
		notePhases(upFiles, bn.b.timings())
	}
	return []*Scenario{up, down, upFiles, downFiles, memAvail, pss, idle}, nil
}

func (bn *bench) podmanBurst(multi string, keep, measure bool, up, down, memAvail, pss, idle *Scenario) error {
	var before memSnapshot
	if measure {
		before = snapshot(0)
	}
	t, err := bn.p.timed("kube", "play", multi)
	if err != nil {
		return fmt.Errorf("burst: podman kube play: %w", err)
	}
	if keep {
		up.add("podman", t)
	}
	if measure {
		if err := bn.measurePodman(before, memAvail, pss, idle); err != nil {
			return err
		}
	}
	if t, err = bn.p.timed("kube", "down", multi); err != nil {
		return fmt.Errorf("burst: podman kube down: %w", err)
	}
	if keep {
		down.add("podman", t)
	}
	return nil
}

// berthFilesBurst renames bn.burst files into the manifest directory at
// once and waits until every pod runs, then removes them and waits until
// every pod is gone.
func (bn *bench) berthFilesBurst() (upMS, downMS float64, err error) {
	stage := filepath.Join(bn.b.dir, "stage")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return 0, 0, err
	}
	names := burstNames("files", bn.burst)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(stage, n+".yaml"), []byte(podYAML(oneContainer, n, imageRef)), 0o644); err != nil {
			return 0, 0, err
		}
	}
	t0 := time.Now()
	for _, n := range names {
		if err := os.Rename(filepath.Join(stage, n+".yaml"), filepath.Join(bn.b.manifests, n+".yaml")); err != nil {
			return 0, 0, err
		}
	}
	if err := bn.waitPods(func(ps []api.Pod) bool { return runningCount(ps) == len(names) }); err != nil {
		return 0, 0, fmt.Errorf("burst files: %w", err)
	}
	upMS = ms(time.Since(t0))
	t0 = time.Now()
	for _, n := range names {
		if err := os.Remove(filepath.Join(bn.b.manifests, n+".yaml")); err != nil {
			return 0, 0, err
		}
	}
	if err := bn.waitPods(func(ps []api.Pod) bool { return len(ps) == 0 }); err != nil {
		return 0, 0, fmt.Errorf("burst files teardown: %w", err)
	}
	return upMS, ms(time.Since(t0)), nil
}

// waitPods polls the daemon's pod list (every 20 ms, a light call) until
// done says so, for at most ten minutes.
func (bn *bench) waitPods(done func([]api.Pod) bool) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		ps, err := bn.b.client().Pods(context.Background())
		if err == nil && done(ps) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pods did not settle within 10 minutes (last error: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runningCount(ps []api.Pod) int {
	n := 0
	for _, p := range ps {
		if p.Status.Phase != api.PodRunning {
			continue
		}
		all := len(p.Status.ContainerStatuses) > 0
		for _, c := range p.Status.ContainerStatuses {
			all = all && c.State.Running != nil
		}
		if all {
			n++
		}
	}
	return n
}

// restart measures, for a container that exits after 500 ms, the gap
// between its exit and its next start, from each runtime's own record of
// both instants (berth: lastState.terminated.finishedAt to
// state.running.startedAt; podman: inspect FinishedAt to StartedAt).
func (bn *bench) restart() (*Scenario, error) {
	s := &Scenario{Name: "restart", Unit: "ms"}
	want := bn.warmup + bn.n
	f, err := bn.writeFile("restart.yaml", podYAML(exitsSoon, "restart", imageRef))
	if err != nil {
		return nil, err
	}
	if _, err := bn.b.cli("apply", "-f", f, "--wait=false"); err != nil {
		return nil, err
	}
	gaps, err := collectGaps(want, func() (int, float64, error) {
		p, err := bn.b.client().Pod(context.Background(), "default", "restart")
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return 0, -1, err
		}
		c := p.Status.ContainerStatuses[0]
		if c.State.Running == nil || c.LastState.Terminated == nil {
			return int(c.RestartCount), -1, nil
		}
		return int(c.RestartCount), ms(c.State.Running.StartedAt.Sub(c.LastState.Terminated.FinishedAt)), nil
	}, 10*time.Millisecond)
	if _, derr := bn.b.cli("delete", "-f", f); derr != nil && err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("restart (berth): %w", err)
	}
	bn.b.timings()
	var pgaps []float64
	if bn.p != nil {
		if _, err := bn.p.cmd("kube", "play", f); err != nil {
			return nil, err
		}
		pgaps, err = collectGaps(want, func() (int, float64, error) { return bn.p.restartTimes("restart-main") }, 50*time.Millisecond)
		if _, derr := bn.p.cmd("kube", "down", f); derr != nil && err == nil {
			err = derr
		}
		if err != nil {
			return nil, fmt.Errorf("restart (podman): %w", err)
		}
	}
	for i := bn.warmup; i < want; i++ {
		s.add("berth", gaps[i])
		if pgaps != nil {
			s.add("podman", pgaps[i])
		}
	}
	return s, nil
}

// collectGaps polls read until it has seen want distinct restarts with a
// valid gap (a negative gap means "not observable now").
func collectGaps(want int, read func() (int, float64, error), every time.Duration) ([]float64, error) {
	var gaps []float64
	last := 0
	deadline := time.Now().Add(time.Duration(want)*5*time.Second + 30*time.Second)
	for len(gaps) < want {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("saw %d of %d restarts before the deadline", len(gaps), want)
		}
		count, gap, err := read()
		if err != nil {
			return nil, err
		}
		if count > last && gap >= 0 {
			gaps = append(gaps, gap)
			last = count
		}
		time.Sleep(every)
	}
	return gaps, nil
}

// relist measures manifestdir's Load over many valid manifests: the first
// (cold) load is a note; the samples are no-op re-lists, which is what the
// daemon's periodic safety-net re-list does when nothing changed.
func (bn *bench) relist(count int) (*Scenario, error) {
	s := &Scenario{Name: fmt.Sprintf("relist-%d", count), Unit: "ms"}
	dir := filepath.Join(bn.files, "relist")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, n := range burstNames("relist", count) {
		if err := os.WriteFile(filepath.Join(dir, n+".yaml"), []byte(podYAML(oneContainer, n, imageRef)), 0o644); err != nil {
			return nil, err
		}
	}
	l := manifestdir.NewLoader(dir)
	t0 := time.Now()
	snap, err := l.Load()
	if err != nil {
		return nil, err
	}
	s.note("cold_load_ms", round3(ms(time.Since(t0))))
	s.note("pods", len(snap.Pods))
	for i := 0; i < bn.warmup+bn.n; i++ {
		t0 := time.Now()
		if _, err := l.Load(); err != nil {
			return nil, err
		}
		if i >= bn.warmup {
			s.add("berth", ms(time.Since(t0)))
		}
	}
	return s, nil
}

// sortScenarios orders results as the issue lists them.
func sortScenarios(ss []*Scenario, order []string) {
	idx := func(name string) int {
		for i, o := range order {
			if len(name) >= len(o) && name[:len(o)] == o {
				return i
			}
		}
		return len(order)
	}
	sort.SliceStable(ss, func(i, j int) bool { return idx(ss[i].Name) < idx(ss[j].Name) })
}
