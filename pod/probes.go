package pod

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/probe"
)

// probePoll is how soon a prober opens its infra's status stream again
// after it broke, and how often it asks an infra too old to push its
// status which of its containers run.
const probePoll = time.Second

// prober runs the probes of one pod, in the daemon, for as long as the pod
// exists: one probe.Runner per container with probes, and a loop that
// tells them of their container's starts and exits from the status the
// infra pushes. Its http, tcp and grpc probes dial from the pod's network
// namespace, held open for the pod's life (the host's for a host-network
// pod); exec probes run in the container as `berth exec` does
// (Config.ExecProbe).
type prober struct {
	m *Manager
	// e is the pod's entry, whose status watch the prober follows.
	e      *entry
	pod    *manifests.Pod
	uid    string
	socket string
	close  func() error
	// ctx ends when the prober stops (cancel).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	ctrs map[string]*probed
}

// probed is one container's runner and what its reports said of the
// container's current run.
type probed struct {
	runner *probe.Runner
	status probeStatus
	// hasStartup and hasReadiness say which probes the container has.
	hasStartup, hasReadiness bool
	// gate: a sidecar with a startup probe, whose infra holds the init
	// containers after it until told its probe passed (SidecarStarted).
	gate bool
	// telling: a SidecarStarted call for the run that began at tellingRun
	// is in flight (under the prober's mu).
	telling    bool
	tellingRun time.Time
}

// probeStatus is what a container's probes say of one run of it.
type probeStatus struct {
	// run is the start of the run the results are about; zero when the
	// container does not run.
	run            time.Time
	started, ready bool
	// changed is when started or ready last changed in this run.
	changed time.Time
	// failure is the readiness probe's last failure in this run while it
	// is failing ("" once it succeeds), for the rollout gate's reason.
	failure string
}

// ProbeRun is the outcome of one probe run, for the daemon's counters
// (the kubelet's prober_probe_total): its own result, before thresholds.
type ProbeRun struct {
	Namespace, Name, UID, Container string
	Type                            probe.Type
	Result                          probe.Result
}

// hasProbes says whether any container of p has a probe.
func hasProbes(p *manifests.Pod) bool {
	return slices.ContainsFunc(sidecarsAndApps(&p.Spec), hasProbe)
}

// hasProbe says whether container c has a probe.
func hasProbe(c *manifests.Container) bool {
	return c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil
}

// sidecarsAndApps are the containers of spec that run beside each other
// and may have probes (their readiness counts for the pod's): its
// sidecars and its regular containers.
func sidecarsAndApps(spec *manifests.PodSpec) []*manifests.Container {
	out := manifests.Sidecars(spec)
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// startProbes starts the probes of a pod that exists (created, or adopted
// by Recover), and records them in its entry. A pod without probes gets
// nothing. A failure is logged and leaves the pod without probes: it runs
// as it would without them.
func (m *Manager) startProbes(id string, e *entry) {
	p := e.rec.Pod
	var pr *prober
	var err error
	if hasProbes(p) {
		pr, err = m.newProber(e)
	}
	m.mu.Lock()
	e.probesPending = false
	// The pod may have been removed meanwhile.
	kept := pr != nil && m.pods[id] == e && !e.terminating && e.probes == nil
	if kept {
		e.probes = pr
	}
	m.mu.Unlock()
	switch {
	case err != nil:
		m.cfg.Log.Error("pod's probes cannot run", "pod", key(p), "err", err)
		m.event(p, "", kube.EventWarning, kube.EventFailed, "probes cannot run: "+err.Error())
	case pr != nil && !kept:
		pr.stop()
	}
}

// stopProbes ends the pod's probes, if it has them, and releases its
// network namespace.
func (m *Manager) stopProbes(e *entry) {
	m.mu.Lock()
	pr := e.probes
	e.probes = nil
	m.mu.Unlock()
	if pr != nil {
		pr.stop()
	}
}

// newProber opens what the pod's probes dial from and starts one runner
// per container with probes.
func (m *Manager) newProber(e *entry) (*prober, error) {
	rec := e.rec
	p := rec.Pod
	pr := &prober{m: m, e: e, pod: p, uid: e.rec.UID, socket: e.layout.Socket(), ctrs: map[string]*probed{}}
	target, closeNS, err := m.podTarget(rec)
	if err != nil {
		return nil, err
	}
	pr.close = closeNS
	ctx, cancel := context.WithCancel(context.Background())
	pr.ctx, pr.cancel = ctx, cancel
	for _, c := range sidecarsAndApps(&p.Spec) {
		t := target
		t.Ports = c.Ports
		if m.cfg.ExecProbe != nil {
			t.Exec = newExecProbe(m, p, c.Name)
		}
		pc, err := pr.containerProbes(c, t)
		if err != nil {
			cancel()
			pr.close()
			return nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
		if pc != nil {
			pr.ctrs[c.Name] = pc
		}
	}
	for _, pc := range pr.ctrs {
		pr.wg.Go(func() { pc.runner.Run(ctx) })
	}
	pr.wg.Go(func() { pr.watch(ctx) })
	return pr, nil
}

// podTarget is where a pod's probes and hooks dial from: the pod's network
// namespace, held open until close, or the host's for a host-network pod;
// and the pod's IP, their default host.
func (m *Manager) podTarget(rec *record) (t probe.Target, closeNS func() error, err error) {
	if rec.Pod.Spec.HostNetwork {
		return probe.Target{Dialer: probe.HostDialer(), PodIP: m.hostIP()}, func() error { return nil }, nil
	}
	ns, err := probe.OpenNetns(fmt.Sprintf("/proc/%d/ns/net", rec.InfraPID))
	if err != nil {
		return probe.Target{}, nil, err
	}
	// Opened after the infra was checked: the PID is still the infra's,
	// not a process that reused it, only if the infra still lives.
	if !m.cfg.Processes.Alive(rec.InfraPID, rec.InfraStart) {
		ns.Close()
		return probe.Target{}, nil, fmt.Errorf("infra %d exited", rec.InfraPID)
	}
	return probe.Target{Dialer: ns, PodIP: rec.IP}, ns.Close, nil
}

// containerProbes makes the runner of c's probes, nil when it has none.
func (pr *prober) containerProbes(c *manifests.Container, t probe.Target) (*probed, error) {
	var probes []probe.Probe
	for _, cp := range []struct {
		typ   probe.Type
		field string
		p     *manifests.Probe
	}{{probe.Liveness, "livenessProbe", c.LivenessProbe}, {probe.Readiness, "readinessProbe", c.ReadinessProbe}, {probe.Startup, "startupProbe", c.StartupProbe}} {
		if cp.p == nil {
			continue
		}
		spec, err := probe.NewSpec(cp.typ, cp.p)
		if err != nil {
			return nil, fmt.Errorf("%s.%w", cp.field, err)
		}
		chk, err := probe.NewChecker(cp.p.ProbeHandler, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cp.field, err)
		}
		probes = append(probes, probe.Probe{Spec: spec, Checker: chk})
	}
	if len(probes) == 0 {
		return nil, nil
	}
	pc := &probed{hasStartup: c.StartupProbe != nil, hasReadiness: c.ReadinessProbe != nil}
	pc.gate = pc.hasStartup && manifests.IsSidecar(c)
	pc.runner = probe.NewRunner(c.Name, probe.SystemClock{}, func(r probe.Report) { pr.report(pc, r) }, probes...)
	return pc, nil
}

// stop ends the runners and the watch, and closes the namespace.
func (pr *prober) stop() {
	pr.cancel()
	pr.wg.Wait()
	if err := pr.close(); err != nil {
		pr.m.cfg.Log.Warn("close pod's network namespace", "pod", key(pr.pod), "err", err)
	}
}

// watch tells the runners of their containers' starts and exits, as the
// infra's status shows them, until ctx ends: pushed by the infra on the
// pod's one watch, which the prober follows (followStatus), so that a pod
// whose containers keep running costs nothing here.
func (pr *prober) watch(ctx context.Context) {
	var mu sync.Mutex
	var last *infra.PodStatus
	observe := func(st infra.PodStatus) {
		mu.Lock()
		defer mu.Unlock()
		last = &st
		pr.observeStatus(st)
	}
	if hasPostStart(pr.pod) {
		// A postStart hook's end changes what a run shows (observeStatus)
		// without a new status from the infra: look again at the last.
		pr.wg.Go(func() {
			t := time.NewTicker(probePoll)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				mu.Lock()
				if last != nil {
					pr.observeStatus(*last)
				}
				mu.Unlock()
			}
		})
	}
	pr.m.followStatus(ctx, pr.e, observe)
}

// observeStatus passes on what the infra's status shows, with a run whose
// postStart hook has not succeeded as not running yet: as on a kubelet,
// its probes start once the hook is done.
func (pr *prober) observeStatus(st infra.PodStatus) {
	shown := applyPostStart(&st, pr.m.postStartRuns(podid.ID(pr.pod.Namespace, pr.pod.Name)))
	pr.observe(slices.Concat(shown.InitContainers, shown.Containers))
}

// observe passes on the starts and exits of containers since the last
// status.
func (pr *prober) observe(st []infra.ContainerStatus) {
	for _, cs := range st {
		pc := pr.ctrs[cs.Name]
		if pc == nil {
			continue
		}
		pr.mu.Lock()
		prev := pc.status.run
		pr.mu.Unlock()
		switch r := cs.State.Running; {
		case r != nil && !r.StartedAt.Equal(prev):
			pr.set(pc, probeStatus{run: r.StartedAt, started: !pc.hasStartup, ready: !pc.hasStartup && !pc.hasReadiness, changed: r.StartedAt})
			pc.runner.ContainerStarted(r.StartedAt)
		case r == nil && !prev.IsZero():
			pr.set(pc, probeStatus{})
			pc.runner.ContainerStopped()
		case r != nil && pc.gate && !cs.Started:
			// The infra has not heard of the passed probe yet (a call
			// that failed): tell it again.
			pr.mu.Lock()
			started := pc.status.started
			pr.mu.Unlock()
			if started {
				pr.tellStarted(pc, cs.Name, r.StartedAt)
			}
		}
	}
}

func (pr *prober) set(pc *probed, s probeStatus) {
	pr.mu.Lock()
	pc.status = s
	pr.mu.Unlock()
}

// report applies one report of a container's runner: its readiness and
// startup results, its event, and for a failed liveness or startup probe,
// the kill.
func (pr *prober) report(pc *probed, r probe.Report) {
	pr.mu.Lock()
	before := pc.status
	switch r.Type {
	case probe.Readiness:
		pc.status.ready = pc.status.started && r.Result == probe.Success
		switch {
		case r.Event != nil:
			pc.status.failure = r.Event.Message
		case r.Result == probe.Success:
			pc.status.failure = ""
		}
	case probe.Startup:
		pc.status.started = r.Result == probe.Success
		pc.status.ready = pc.status.started && !pc.hasReadiness
	}
	if pc.status.started != before.started || pc.status.ready != before.ready {
		pc.status.changed = time.Now()
	}
	pr.mu.Unlock()
	if r.Ran {
		pr.m.cfg.ProbeRun(ProbeRun{Namespace: pr.pod.Namespace, Name: pr.pod.Name, UID: pr.uid,
			Container: r.Container, Type: r.Type, Result: r.RunResult})
	}
	if ev := r.Event; ev != nil {
		pr.m.event(pr.pod, r.Container, kube.EventWarning, ev.Reason, ev.Message)
	}
	if r.Kill() {
		go pr.kill(r)
	}
	if pc.gate && r.Type == probe.Startup && r.Result == probe.Success && !before.started {
		pr.tellStarted(pc, r.Container, before.run)
	}
}

// tellStarted tells the infra, in the background, that sidecar name's
// startup probe passed for its run that began at run, so that the init
// containers after it start; unless a call for that run is in flight
// already. A failed call is logged and made again every probePoll while
// that run is the container's and its probe passed; a status the infra
// pushes without the news asks again too.
func (pr *prober) tellStarted(pc *probed, name string, run time.Time) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pc.telling && pc.tellingRun.Equal(run) {
		return
	}
	pc.telling, pc.tellingRun = true, run
	go func() {
		defer func() {
			pr.mu.Lock()
			if pc.tellingRun.Equal(run) {
				pc.telling = false
			}
			pr.mu.Unlock()
		}()
		for {
			err := pr.m.cfg.Infra.SidecarStarted(pr.ctx, pr.socket, name, run)
			if err == nil || pr.ctx.Err() != nil {
				return
			}
			pr.m.cfg.Log.Warn("tell the infra a sidecar started", "pod", key(pr.pod), "container", name, "err", err)
			select {
			case <-pr.ctx.Done():
				return
			case <-time.After(probePoll):
			}
			pr.mu.Lock()
			current := pc.status.run.Equal(run) && pc.status.started
			pr.mu.Unlock()
			if !current {
				return
			}
		}
	}()
}

// kill asks the infra to stop the container whose liveness or startup
// probe failed, with the probe's grace period or else the pod's, after the
// container's preStop hook, which the grace period includes. An infra
// too old to know the request leaves the container running, logged.
func (pr *prober) kill(r probe.Report) {
	grace := gracePeriod(pr.pod)
	if g := r.GracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	msg := fmt.Sprintf("Container %s failed %s probe, will be restarted", r.Container, strings.ToLower(r.Type.String()))
	grace = pr.m.preStopContainer(context.Background(), podid.ID(pr.pod.Namespace, pr.pod.Name), r.Container, grace)
	err := pr.m.cfg.Infra.KillContainer(context.Background(), pr.socket, r.Container, grace, msg)
	switch {
	case errors.Is(err, infra.ErrUnsupported):
		pr.m.cfg.Log.Warn("the pod's infra predates probe kills: the container keeps running; re-create the pod to restart it on probe failures",
			"pod", key(pr.pod), "container", r.Container, "err", err)
	case err != nil:
		pr.m.cfg.Log.Warn("kill container after a failed probe", "pod", key(pr.pod), "container", r.Container, "err", err)
	}
}

// statuses returns what the probes say of each container with probes.
func (pr *prober) statuses() map[string]probeStatus {
	if pr == nil {
		return nil
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	out := make(map[string]probeStatus, len(pr.ctrs))
	for name, pc := range pr.ctrs {
		out[name] = pc.status
	}
	return out
}

// execProbe runs exec probes in a container: found as `berth exec` finds
// it (ExecTarget), run by Config.ExecProbe.
//
// The target is kept for the run of the container it was found for:
// everything ExecTarget works out (the run's environment, asked of the
// infra; the config, from the pod record and the image; the cgroup, made
// sure of; the container's process on the host) changes only with a new
// run, whose process is another. So while the process found last lives
// (PID and start time) and the pod is not terminating, a probe reuses it
// instead of two infra calls, the cgroup writes and a scan of cgroup.procs
// every period.
type execProbe struct {
	m   *Manager
	pod *manifests.Pod
	// find is Manager.ExecTarget for this container.
	find func(ctx context.Context) (ExecTarget, error)

	mu     sync.Mutex
	target *ExecTarget // of the current run; nil until found
}

func newExecProbe(m *Manager, p *manifests.Pod, ctr string) *execProbe {
	return &execProbe{m: m, pod: p, find: func(ctx context.Context) (ExecTarget, error) {
		return m.ExecTarget(ctx, p.Namespace, p.Name, ctr)
	}}
}

func (e *execProbe) Exec(ctx context.Context, cmd []string) (int, []byte, error) {
	t, err := e.targetOf(ctx)
	if err != nil {
		return 0, nil, err
	}
	return e.m.cfg.ExecProbe(ctx, t, cmd)
}

// targetOf returns the target of the container's current run.
func (e *execProbe) targetOf(ctx context.Context) (ExecTarget, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.target; t != nil && !e.m.terminating(e.pod) && e.m.cfg.Processes.Alive(t.PID, t.StartTime) {
		return *t, nil
	}
	e.target = nil
	t, err := e.find(ctx)
	if err != nil {
		return ExecTarget{}, err
	}
	e.target = &t
	return t, nil
}

// terminating says whether pod p is being removed (or is gone), when
// ExecTarget refuses to enter its containers.
func (m *Manager) terminating(p *manifests.Pod) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.pods[podid.ID(p.Namespace, p.Name)]
	return !ok || e.terminating
}
