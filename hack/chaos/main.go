// Command chaos is berth's fault harness (root only; not part of go test):
//
//	go run ./hack/chaos [-seed N] [-kills N] [-pods N] [-duration D] [-mode daemon|infra|container|all]
//
// It builds berth with hack/build, imports the demo workload, and starts a
// daemon on temporary directories with a bridge, CIDR, nftables table and
// cgroup parent named after the run. For -duration it churns -pods pod
// names: creates, spec edits (the daemon restarts the containers in place,
// or replaces the pod when the restart policy changed too), label-only
// edits and deletes, over three
// shapes (one container; an init container, a reader and a sidecar on an
// emptyDir; an HTTP server on a hostPort of 127.0.0.1). Meanwhile it makes
// -kills kills at random moments: the daemon with SIGKILL (restarted at
// once), or a pod's infra process or a container process of a pod whose
// policy restarts it. It kills only processes in the run's cgroups, by
// pidfd after checking their start time.
//
// Then it waits for convergence: every pod of a manifest Running with the
// file's spec and labels (its hostPort answering with the current spec's
// environment), no other pod or pod cgroup. It deletes every manifest,
// stops the daemon and looks for anything left: processes (in the run's
// cgroups, re-parented to the harness, or naming its dirs), mounts,
// network namespaces, veths, hostPort rules, IP leases, pod cgroups, pod
// state, sockets and logs; then, after removing the daemon's own bridge,
// table, cgroup parent and dirs (internal/hostclean), that nothing at all
// is left. The report is one JSON object and one line on standard output;
// the exit status is 1 on a leak or when the pods did not converge.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/hostclean"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/manifests"
)

const image = "berth.test/chaos:latest"

type options struct {
	seed     uint64
	kills    int
	pods     int
	duration time.Duration
	churn    time.Duration
	converge time.Duration
	mode     string
	repo     string
}

// report is the run's outcome, printed as JSON.
type report struct {
	Seed            uint64         `json:"seed"`
	Mode            string         `json:"mode"`
	Pods            int            `json:"pods"`
	DurationSeconds float64        `json:"durationSeconds"`
	Edits           map[string]int `json:"edits"`
	Kills           map[string]int `json:"kills"`
	// KillsWithoutVictim counts infra or container kills that found no
	// process to kill (every pod being replaced, say).
	KillsWithoutVictim int      `json:"killsWithoutVictim"`
	PodsAtEnd          int      `json:"podsAtEnd"`
	Converged          bool     `json:"converged"`
	ConvergeSeconds    float64  `json:"convergeSeconds"`
	Divergence         []string `json:"divergence,omitempty"`
	DeleteSeconds      float64  `json:"deleteSeconds"`
	Leaks              []string `json:"leaks"`
	Error              string   `json:"error,omitempty"`
	TotalSeconds       float64  `json:"totalSeconds"`
}

func main() {
	var o options
	flag.Uint64Var(&o.seed, "seed", 0, "random seed (0: from the clock); printed: a seed gives the same edits and kill moments again (the daemon's timing still varies)")
	flag.IntVar(&o.kills, "kills", 20, "kills over the run")
	flag.IntVar(&o.pods, "pods", 12, "pod names churned")
	flag.DurationVar(&o.duration, "duration", time.Minute, "how long to churn and kill")
	flag.DurationVar(&o.churn, "churn", 250*time.Millisecond, "mean time between manifest edits")
	flag.DurationVar(&o.converge, "converge-timeout", 3*time.Minute, "how long the pods may take to converge once the chaos stops")
	flag.StringVar(&o.mode, "mode", "all", "what to kill: daemon, infra, container or all (a random one each time)")
	flag.StringVar(&o.repo, "repo", ".", "the berth module to build")
	flag.Parse()
	if !slices.Contains([]string{"daemon", "infra", "container", "all"}, o.mode) || o.pods < 1 || o.kills < 0 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "usage: chaos [-seed N] [-kills N>=0] [-pods N>=1] [-duration D>0] [-mode daemon|infra|container|all]")
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "chaos: needs root (namespaces, cgroups, mounts, nftables)")
		os.Exit(2)
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	log.Info("chaos", "seed", o.seed, "mode", o.mode, "kills", o.kills, "pods", o.pods, "duration", o.duration)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep := runChaos(ctx, o, log)
	b, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(b))
	fmt.Println(rep.line())
	if rep.Error != "" || !rep.Converged || len(rep.Leaks) > 0 {
		os.Exit(1)
	}
}

func (r *report) line() string {
	conv := "no"
	if r.Converged {
		conv = fmt.Sprintf("yes in %.1fs", r.ConvergeSeconds)
	}
	s := fmt.Sprintf("chaos seed=%d mode=%s: %d pods, %d edits, kills daemon=%d infra=%d container=%d (%d without victim) in %.0fs; converged %s; %d leaks",
		r.Seed, r.Mode, r.Pods, sum(r.Edits), r.Kills["daemon"], r.Kills["infra"], r.Kills["container"], r.KillsWithoutVictim,
		r.DurationSeconds, conv, len(r.Leaks))
	for _, l := range r.Leaks {
		s += "\n  leak: " + l
	}
	if r.Error != "" {
		s += "\n  error: " + r.Error
	}
	return s
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// chaos is one run's state.
type chaos struct {
	o     options
	log   *slog.Logger
	rng   *rand.Rand
	r     *run
	slots []*slot
	ports map[int]bool
	w     *witness
	rep   *report
}

func runChaos(ctx context.Context, o options, log *slog.Logger) *report {
	began := time.Now()
	rep := &report{Seed: o.seed, Mode: o.mode, Pods: o.pods, Edits: map[string]int{}, Kills: map[string]int{}, Leaks: []string{}}
	r, err := newRun()
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	c := &chaos{
		o: o, log: log, rng: rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15)), r: r,
		slots: newSlots(o.pods, "chaos-"+r.id), ports: map[int]bool{}, w: newWitness(), rep: rep,
	}
	if err := c.run(ctx); err != nil {
		rep.Error = err.Error()
		log.Info("daemon log tail", "log", c.logTail())
		c.abort()
	}
	rep.TotalSeconds = time.Since(began).Seconds()
	return rep
}

func (c *chaos) run(ctx context.Context) error {
	r := c.r
	c.log.Info("building berth and the workload", "dir", r.dir)
	if err := r.prepare(c.o.repo, image); err != nil {
		return err
	}
	if err := r.becomeSubreaper(); err != nil {
		return err
	}
	if err := r.start(); err != nil {
		return err
	}
	if err := r.serving(30 * time.Second); err != nil {
		return fmt.Errorf("first daemon start: %w", err)
	}
	if err := c.createAll(); err != nil {
		return err
	}
	if err := c.churn(ctx); err != nil {
		return err
	}
	if c.r.daemonPID() == 0 {
		if err := r.start(); err != nil {
			return err
		}
	}
	if err := r.serving(30 * time.Second); err != nil {
		return fmt.Errorf("daemon after the chaos: %w", err)
	}
	c.convergence(ctx)
	return c.teardown(ctx)
}

// createAll writes every slot's first manifest, with a random policy.
func (c *chaos) createAll() error {
	for _, s := range c.slots {
		if s.kind == hostPort {
			p, err := freePort(c.rng, c.ports)
			if err != nil {
				return err
			}
			s.port = p
		}
		s.present, s.gen = true, 1
		s.policy = policies[c.rng.IntN(len(policies))]
		c.rep.Edits[create.String()]++
		if err := c.r.write(s, image); err != nil {
			return fmt.Errorf("write manifest of %s: %w", s.name, err)
		}
	}
	return nil
}

// churn edits manifests at random intervals (mean -churn) and kills at
// -kills random moments of -duration.
func (c *chaos) churn(ctx context.Context) error {
	start := time.Now()
	killAt := make([]time.Duration, c.o.kills)
	for i := range killAt {
		killAt[i] = time.Duration(c.rng.Int64N(int64(c.o.duration)))
	}
	slices.Sort(killAt)
	nextEdit := c.expInterval()
	lastLook, lastReport := time.Time{}, time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Since(start)
		if now >= c.o.duration {
			c.rep.DurationSeconds = now.Seconds()
			return nil
		}
		next := min(nextEdit, c.o.duration)
		if len(killAt) > 0 {
			next = min(next, killAt[0])
		}
		if next > now {
			time.Sleep(min(next-now, 100*time.Millisecond))
			if time.Since(lastLook) > 300*time.Millisecond {
				c.w.look(c.r)
				lastLook = time.Now()
			}
			if time.Since(lastReport) > 30*time.Second {
				c.log.Info("chaos", "elapsed", now.Round(time.Second), "edits", sum(c.rep.Edits), "kills", sum(c.rep.Kills))
				lastReport = time.Now()
			}
			continue
		}
		if len(killAt) > 0 && killAt[0] <= now {
			killAt = killAt[1:]
			if err := c.killOne(); err != nil {
				return err
			}
			continue
		}
		if err := c.edit(); err != nil {
			return err
		}
		nextEdit = now + c.expInterval()
	}
}

func (c *chaos) expInterval() time.Duration {
	return time.Duration(c.rng.ExpFloat64() * float64(c.o.churn))
}

func (c *chaos) edit() error {
	s, e, err := nextEdit(c.rng, c.slots, func() (int, error) { return freePort(c.rng, c.ports) })
	if err != nil {
		return err
	}
	c.rep.Edits[e.String()]++
	if e == remove {
		if err := os.Remove(c.r.path(s)); err != nil {
			return fmt.Errorf("delete manifest of %s: %w", s.name, err)
		}
		return nil
	}
	if err := c.r.write(s, image); err != nil {
		return fmt.Errorf("write manifest of %s: %w", s.name, err)
	}
	return nil
}

// killOne makes one kill of the mode's kind (a random kind for "all").
func (c *chaos) killOne() error {
	what := c.o.mode
	if what == "all" {
		what = []string{"daemon", "infra", "container"}[c.rng.IntN(3)]
	}
	c.w.look(c.r)
	switch what {
	case "daemon":
		if c.r.daemonPID() == 0 {
			if err := c.r.start(); err != nil {
				return err
			}
		}
		if err := c.r.stop(syscall.SIGKILL, 10*time.Second); err != nil {
			return err
		}
		c.rep.Kills[what]++
		// A short pause, so that some edits land while no daemon runs.
		time.Sleep(time.Duration(c.rng.Int64N(int64(200 * time.Millisecond))))
		return c.r.start()
	default:
		var victims []proc
		for _, p := range c.r.procs() {
			// Only pods whose policy restarts them: under Never a killed
			// container, or all of them with their infra, ends the pod
			// Failed, as the kubelet's would, not Running.
			if (what == "infra") != p.isInfra() {
				continue
			}
			if s := c.slotOf(p.pod); s != nil && s.present && s.restarts() {
				victims = append(victims, p)
			}
		}
		for len(victims) > 0 {
			i := c.rng.IntN(len(victims))
			err := c.r.kill(victims[i])
			if err == nil {
				c.rep.Kills[what]++
				c.log.Debug("killed", "what", what, "pod", victims[i].pod, "leaf", victims[i].leaf, "pid", victims[i].pid)
				return nil
			}
			victims = slices.Delete(victims, i, i+1)
		}
		c.rep.KillsWithoutVictim++
		return nil
	}
}

// slotOf is the slot whose pod has the cgroup name kid.
func (c *chaos) slotOf(kid string) *slot {
	for _, s := range c.slots {
		if podid.KernelID(podid.ID("default", s.name)) == kid {
			return s
		}
	}
	return nil
}

// convergence waits until the daemon runs exactly the manifests' pods.
func (c *chaos) convergence(ctx context.Context) {
	start := time.Now()
	var last []string
	err := poll(c.o.converge, func() bool {
		c.w.look(c.r)
		last = c.divergence(ctx)
		return len(last) == 0 || ctx.Err() != nil
	})
	if err == nil && ctx.Err() == nil {
		c.rep.Converged = true
		c.rep.ConvergeSeconds = time.Since(start).Seconds()
	} else {
		c.rep.Divergence = last
	}
	for _, s := range c.slots {
		if s.present {
			c.rep.PodsAtEnd++
		}
	}
	c.log.Info("convergence", "converged", c.rep.Converged, "took", time.Since(start).Round(time.Millisecond), "pods", c.rep.PodsAtEnd)
}

// divergence lists how the daemon's pods differ from the manifests; empty
// when they match.
func (c *chaos) divergence(ctx context.Context) []string {
	pods, err := c.r.client().Pods(ctx)
	if err != nil {
		return []string{"list pods: " + err.Error()}
	}
	byName := map[string]api.Pod{}
	for _, p := range pods {
		byName[p.Metadata.Name] = p
	}
	var out []string
	want := map[string]bool{}
	for _, s := range c.slots {
		p, ok := byName[s.name]
		delete(byName, s.name)
		if !s.present {
			if ok {
				out = append(out, s.name+": deleted, still there")
			}
			continue
		}
		want[podid.KernelID(podid.ID("default", s.name))] = true
		if !ok {
			out = append(out, s.name+": missing")
			continue
		}
		out = append(out, c.podDivergence(ctx, s, p)...)
	}
	for name := range byName {
		out = append(out, name+": not in any manifest")
	}
	out = append(out, c.r.extraPodObjects(want)...)
	slices.Sort(out)
	return out
}

func (c *chaos) podDivergence(ctx context.Context, s *slot, p api.Pod) []string {
	f, err := manifests.ParseFile(c.r.path(s))
	if err != nil || len(f.Docs) != 1 || f.Docs[0].Pod == nil {
		return []string{fmt.Sprintf("%s: read manifest: %v", s.name, err)}
	}
	file := f.Docs[0].Pod
	var out []string
	bad := func(format string, args ...any) { out = append(out, s.name+": "+fmt.Sprintf(format, args...)) }
	if p.File() != c.r.path(s) {
		bad("file %q, want %q", p.File(), c.r.path(s))
	}
	if !manifests.SpecEqual(&manifests.Pod{ObjectMeta: p.Metadata.ObjectMeta, Spec: p.Spec}, file) {
		bad("runs an old spec (CHAOS_GEN %s, want %d)", genOf(p.Spec), s.gen)
	}
	if !maps.Equal(p.Metadata.Labels, file.Labels) {
		bad("labels %v, want %v", p.Metadata.Labels, file.Labels)
	}
	if p.Status.Phase != api.PodRunning {
		bad("phase %s (%s %s)", p.Status.Phase, p.Status.Reason, p.Status.Message)
	}
	if n := len(p.Status.ContainerStatuses); n != len(file.Spec.Containers) {
		bad("%d container statuses, want %d", n, len(file.Spec.Containers))
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			bad("container %s not running", cs.Name)
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
			bad("init container %s not completed", cs.Name)
		}
	}
	if pid := p.InfraPID(); pid <= 0 {
		bad("no infra")
	} else if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		bad("infra %d is gone", pid)
	}
	if s.kind == hostPort && len(out) == 0 {
		env, err := httpEnv(ctx, s.port)
		if err != nil {
			bad("hostPort %d: %v", s.port, err)
		} else if !strings.Contains(env, fmt.Sprintf("CHAOS_GEN=%d\n", s.gen)) {
			bad("hostPort %d answers from another spec: %q", s.port, env)
		}
	}
	return out
}

func genOf(spec manifests.PodSpec) string {
	for _, c := range spec.Containers {
		for _, e := range c.Env {
			if e.Name == "CHAOS_GEN" {
				return e.Value
			}
		}
	}
	return "?"
}

// teardown deletes every manifest, waits for the pods to go, stops the
// daemon and checks what is left, before and after hostclean.
func (c *chaos) teardown(ctx context.Context) error {
	r := c.r
	start := time.Now()
	ents, _ := os.ReadDir(r.manifests)
	for _, e := range ents {
		os.Remove(filepath.Join(r.manifests, e.Name()))
	}
	r.client().Reconcile(ctx)
	var left []api.Pod
	err := poll(2*time.Minute, func() bool {
		var err error
		left, err = r.client().Pods(ctx)
		return err == nil && len(left) == 0
	})
	if err != nil {
		names := []string{}
		for _, p := range left {
			names = append(names, p.Metadata.Name)
		}
		c.rep.Leaks = append(c.rep.Leaks, fmt.Sprintf("pods not deleted within 2m: %v", names))
	}
	c.rep.DeleteSeconds = time.Since(start).Seconds()
	if err := r.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		c.rep.Leaks = append(c.rep.Leaks, err.Error())
	}
	names := make([]string, len(c.slots))
	for i, s := range c.slots {
		names[i] = s.name
	}
	var leaks []string
	// Processes killed by the pods' deletion may take a moment to be
	// reaped; anything else does not go away by waiting.
	poll(2*time.Second, func() bool {
		leaks = r.podLeaks(c.w, names)
		return len(leaks) == 0
	})
	c.rep.Leaks = append(c.rep.Leaks, leaks...)
	if !c.rep.Converged || len(c.rep.Leaks) > 0 {
		c.log.Info("daemon log tail", "log", c.logTail())
		c.killAll()
	}
	hostclean.Remove(r.hostclean())
	c.rep.Leaks = append(c.rep.Leaks, r.hostLeaks(c.w)...)
	return nil
}

// abort cleans up after a failed run: the daemon, every process in the
// run's cgroups, and what hostclean removes.
func (c *chaos) abort() {
	c.r.stop(syscall.SIGKILL, 10*time.Second)
	c.killAll()
	hostclean.Remove(c.r.hostclean())
}

// killAll kills the run's remaining pod processes and waits for them.
func (c *chaos) killAll() {
	poll(10*time.Second, func() bool {
		ps := c.r.procs()
		for _, p := range ps {
			c.r.kill(p)
		}
		return len(ps) == 0
	})
}

// logTail is the end of the daemons' log.
func (c *chaos) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.r.dir, "daemon.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}
