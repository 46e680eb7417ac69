package pod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/probe"
)

// minStopGrace is what a container still gets to stop after its preStop
// hook used up the grace period: the kubelet's minimumGracePeriodInSeconds.
const minStopGrace = 2 * time.Second

// postStartFile, in a container's state directory, holds the start of the
// last run whose postStart hook succeeded: a daemon that restarts runs the
// hook of a run that never completed one, and only of such a run.
const postStartFile = "poststart-done"

// hooker runs the lifecycle hooks of one pod, in the daemon, for as long as
// the pod exists: each container's and sidecar's postStart hook once per
// run (the runs the infra restarts on its own included: a watch follows
// the status the infra pushes, as the prober's does), on demand preStop
// hooks before a container is stopped, and a sidecar's preStop hook when
// the infra, ending the pod, shows that the sidecar's turn to stop came
// (ContainerStatus.PreStop). exec hooks run in the container as `berth
// exec` does (Config.ExecHook); httpGet hooks dial from the pod's network
// namespace, as probes do.
type hooker struct {
	m *Manager
	// e is the pod's entry, whose status watch the hooker follows.
	e      *entry
	pod    *manifests.Pod
	uid    string
	socket string
	layout Layout
	target probe.Target
	close  func() error
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// runs holds, for each container with a postStart hook, the hook of
	// its current run as far as the hooker knows it.
	runs map[string]hookRun
	// preStops holds, for each sidecar, the run whose preStop hook at the
	// pod's end was begun; telling, for each sidecar the hooker says
	// started (hookStarts), the run a SidecarStarted call is in flight for.
	preStops, telling map[string]time.Time
}

// hookRun is the postStart hook of one run of a container.
type hookRun struct {
	// run is the run's start; zero before the hooker saw one.
	run time.Time
	// done: the hook succeeded; failed is its message when it failed.
	done   bool
	failed string
}

// hasHooks says whether any container or sidecar of p has a postStart or
// preStop hook.
func hasHooks(p *manifests.Pod) bool {
	for _, c := range sidecarsAndApps(&p.Spec) {
		if l := c.Lifecycle; l != nil && (l.PostStart != nil || l.PreStop != nil) {
			return true
		}
	}
	return false
}

// sidecarPreStops says whether a sidecar of p has a preStop hook, which
// runs when the infra shows that its turn to stop came.
func sidecarPreStops(p *manifests.Pod) bool {
	for _, c := range manifests.Sidecars(&p.Spec) {
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			return true
		}
	}
	return false
}

// hookStarts says whether c is a sidecar the hooker says started
// (SidecarStarted) once its run's postStart hook succeeded: one with a
// postStart hook and no startupProbe. With a startupProbe, the prober says
// it, once the probe passed, which it runs only after the hook succeeded.
func hookStarts(c *manifests.Container) bool {
	return manifests.IsSidecar(c) && c.StartupProbe == nil && hasPostStartHook(c)
}

// needsDialer says whether a hook of p sends an HTTP request.
func needsDialer(p *manifests.Pod) bool {
	for _, c := range sidecarsAndApps(&p.Spec) {
		if l := c.Lifecycle; l != nil && ((l.PostStart != nil && l.PostStart.HTTPGet != nil) || (l.PreStop != nil && l.PreStop.HTTPGet != nil)) {
			return true
		}
	}
	return false
}

// startHooks starts the hooks of a pod that exists (created, or adopted by
// Recover) and records them in its entry. A pod without hooks gets
// nothing. A failure is logged and leaves the pod without hooks.
func (m *Manager) startHooks(id string, e *entry) {
	p := e.rec.Pod
	var h *hooker
	var err error
	if hasHooks(p) {
		h, err = m.newHooker(e)
	}
	m.mu.Lock()
	e.hooksPending = false
	kept := h != nil && m.pods[id] == e && !e.terminating && e.hooks == nil
	if kept {
		e.hooks = h
	}
	m.mu.Unlock()
	switch {
	case err != nil:
		m.cfg.Log.Error("pod's lifecycle hooks cannot run", "pod", key(p), "err", err)
		m.event(p, "", kube.EventWarning, kube.EventFailed, "lifecycle hooks cannot run: "+err.Error())
	case h != nil && !kept:
		h.stop()
		h.release()
	}
}

func (m *Manager) newHooker(e *entry) (*hooker, error) {
	rec := e.rec
	h := &hooker{m: m, e: e, pod: rec.Pod, uid: rec.UID, socket: e.layout.Socket(), layout: e.layout,
		close: func() error { return nil }, runs: map[string]hookRun{}, preStops: map[string]time.Time{}, telling: map[string]time.Time{}}
	if needsDialer(rec.Pod) {
		t, closeNS, err := m.podTarget(rec)
		if err != nil {
			return nil, err
		}
		h.target, h.close = t, closeNS
	}
	for _, c := range sidecarsAndApps(&rec.Pod.Spec) {
		if !hasPostStartHook(c) {
			continue
		}
		var r hookRun
		if b, err := os.ReadFile(filepath.Join(e.layout.ContainerDir(c.Name), postStartFile)); err == nil {
			if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b))); err == nil {
				r = hookRun{run: t, done: true}
			}
		}
		h.runs[c.Name] = r
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	if len(h.runs) > 0 || sidecarPreStops(rec.Pod) {
		h.wg.Go(func() { h.watch(ctx) })
	}
	return h, nil
}

// stop ends the watch and the postStart hooks under way.
func (h *hooker) stop() {
	h.cancel()
	h.wg.Wait()
}

// release closes the network namespace the hooks dial from.
func (h *hooker) release() {
	if err := h.close(); err != nil {
		h.m.cfg.Log.Warn("close pod's network namespace", "pod", key(h.pod), "err", err)
	}
}

// watch runs the postStart hook of each new run of a container or sidecar
// and the preStop hooks of the sidecars whose turn to stop came, as the
// infra's status shows them (followStatus), until ctx ends.
func (h *hooker) watch(ctx context.Context) {
	h.m.followStatus(ctx, h.e, func(st infra.PodStatus) {
		all := slices.Concat(st.InitContainers, st.Containers)
		h.observe(ctx, all)
		h.answerPreStops(ctx, all)
	})
}

// observe starts the postStart hook of every run it has not seen, and
// says again that a sidecar's run whose hook succeeded started when the
// infra has not heard it (a failed call, a daemon restart in between).
func (h *hooker) observe(ctx context.Context, st []infra.ContainerStatus) {
	for _, cs := range st {
		r := cs.State.Running
		if r == nil {
			continue
		}
		c := hookContainer(h.pod, cs.Name)
		h.mu.Lock()
		prev, ok := h.runs[cs.Name]
		fresh := ok && !prev.run.Equal(r.StartedAt)
		if fresh {
			h.runs[cs.Name] = hookRun{run: r.StartedAt}
		}
		tell := ok && !fresh && prev.done && !cs.Started && hookStarts(c)
		h.mu.Unlock()
		switch {
		case fresh:
			h.wg.Go(func() { h.postStart(ctx, c, r.StartedAt) })
		case tell:
			h.wg.Go(func() { h.tellStarted(ctx, c.Name, r.StartedAt) })
		}
	}
}

// answerPreStops runs, once per run, the preStop hook of each sidecar the
// infra shows waiting for it (PreStop: the pod ends and the sidecar's turn
// to stop came), within the pod's grace period, and then tells the infra
// (PreStopped), which sends the sidecar its stop signal. A hook cut short
// by ctx is begun again by the next watch that sees the wait (stopHooks'
// own, during a removal).
func (h *hooker) answerPreStops(ctx context.Context, st []infra.ContainerStatus) {
	for _, cs := range st {
		r := cs.State.Running
		if !cs.PreStop || r == nil {
			continue
		}
		c := hookContainer(h.pod, cs.Name)
		h.mu.Lock()
		begun := h.preStops[cs.Name].Equal(r.StartedAt)
		h.preStops[cs.Name] = r.StartedAt
		h.mu.Unlock()
		if begun {
			continue
		}
		h.wg.Go(func() { h.sidecarPreStop(ctx, c, r.StartedAt) })
	}
}

// sidecarPreStop runs sidecar c's preStop hook for its run that began at
// run and tells the infra it ended, again every probePoll while the call
// fails, until ctx ends. An infra that does not know the call never waits
// for a hook (it predates them), and none of its pods has a sidecar with
// one: its daemon refused them.
func (h *hooker) sidecarPreStop(ctx context.Context, c *manifests.Container, run time.Time) {
	h.preStop(ctx, c, gracePeriod(h.pod))
	for ctx.Err() == nil {
		err := h.m.cfg.Infra.PreStopped(ctx, h.socket, c.Name, run)
		if err == nil || errors.Is(err, infra.ErrUnsupported) {
			return
		}
		h.m.cfg.Log.Warn("tell the infra a sidecar's preStop hook ended", "pod", key(h.pod), "container", c.Name, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(probePoll):
		}
	}
	h.mu.Lock()
	if h.preStops[c.Name].Equal(run) {
		delete(h.preStops, c.Name)
	}
	h.mu.Unlock()
}

// tellStarted tells the infra that sidecar name's run that began at run
// started, its postStart hook having succeeded (hookStarts), unless a
// call for that run is in flight; a failed call is made again every
// probePoll while that run is current, until ctx ends.
func (h *hooker) tellStarted(ctx context.Context, name string, run time.Time) {
	h.mu.Lock()
	if t, ok := h.telling[name]; ok && t.Equal(run) {
		h.mu.Unlock()
		return
	}
	h.telling[name] = run
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if h.telling[name].Equal(run) {
			delete(h.telling, name)
		}
		h.mu.Unlock()
	}()
	for {
		err := h.m.cfg.Infra.SidecarStarted(ctx, h.socket, name, run)
		if err == nil || ctx.Err() != nil {
			return
		}
		h.m.cfg.Log.Warn("tell the infra a sidecar started", "pod", key(h.pod), "container", name, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(probePoll):
		}
		h.mu.Lock()
		current := h.runs[name].run.Equal(run) && h.runs[name].done
		h.mu.Unlock()
		if !current {
			return
		}
	}
}

// postStart runs c's postStart hook for the run that began at run. On
// success the run is shown running and the success recorded on disk, and
// a sidecar that waited for it is said started (hookStarts); on failure a
// FailedPostStartHook event, then the container is killed as the kubelet
// does (its preStop hook, its stop signal, the pod's grace period), and
// its restart policy decides what follows (a sidecar always restarts).
func (h *hooker) postStart(ctx context.Context, c *manifests.Container, run time.Time) {
	msg, err := h.run(ctx, c, c.Lifecycle.PostStart)
	if ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	current := h.runs[c.Name].run.Equal(run)
	if current {
		h.runs[c.Name] = hookRun{run: run, done: err == nil, failed: msg}
	}
	h.mu.Unlock()
	if !current {
		return
	}
	if err == nil {
		file := filepath.Join(h.layout.ContainerDir(c.Name), postStartFile)
		if werr := atomicfile.Replace(file, []byte(run.Format(time.RFC3339Nano)+"\n"), 0o600); werr != nil {
			h.m.cfg.Log.Warn("record the postStart hook's success", "pod", key(h.pod), "container", c.Name, "err", werr)
		}
		if hookStarts(c) {
			h.tellStarted(ctx, c.Name, run)
		}
		return
	}
	h.m.cfg.Log.Warn("postStart hook failed; killing the container", "pod", key(h.pod), "container", c.Name, "err", err)
	h.m.event(h.pod, c.Name, kube.EventWarning, kube.EventFailedPostStartHook, msg)
	grace := h.preStop(ctx, c, gracePeriod(h.pod))
	if err := h.m.cfg.Infra.KillContainer(ctx, h.socket, c.Name, grace, kube.EventFailedPostStartHook); err != nil {
		h.m.cfg.Log.Warn("kill container after its postStart hook failed", "pod", key(h.pod), "container", c.Name, "err", err)
	}
}

// preStop runs c's preStop hook, if it has one and grace is above zero,
// within grace, and returns what remains of grace for the stop signal
// (stopGrace). A failed hook is a FailedPreStopHook event; the container
// is stopped all the same.
func (h *hooker) preStop(ctx context.Context, c *manifests.Container, grace time.Duration) time.Duration {
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil || grace <= 0 {
		return grace
	}
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if msg, err := h.run(hctx, c, c.Lifecycle.PreStop); err != nil {
		h.m.cfg.Log.Warn("preStop hook failed", "pod", key(h.pod), "container", c.Name, "err", err)
		h.m.event(h.pod, c.Name, kube.EventWarning, kube.EventFailedPreStopHook, msg)
	}
	return stopGrace(grace, time.Since(start))
}

// preStopAll runs the preStop hooks of the pod's running containers at
// once, each within grace, and returns what remains of grace once the
// slowest ended: the infra stops the pod's containers together.
func (h *hooker) preStopAll(ctx context.Context, grace time.Duration) time.Duration {
	st, err := h.m.cfg.Infra.Status(ctx, h.socket)
	if err != nil {
		return grace
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	left, ran := grace, false
	for _, cs := range st.Containers {
		c := specContainer(h.pod, cs.Name)
		if cs.State.Running == nil || c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
			continue
		}
		wg.Go(func() {
			g := h.preStop(ctx, c, grace)
			mu.Lock()
			if !ran || g < left {
				left, ran = g, true
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return left
}

// stopGrace is what a container gets between its stop signal and SIGKILL
// after a preStop hook that took took of grace: the rest, but at least
// minStopGrace, as the kubelet gives it.
func stopGrace(grace, took time.Duration) time.Duration {
	return max(grace-took, minStopGrace)
}

// run runs one hook of container c and returns the kubelet's message for
// it when it failed.
func (h *hooker) run(ctx context.Context, c *manifests.Container, hk *manifests.LifecycleHandler) (string, error) {
	var out []byte
	var err error
	switch {
	case hk.Exec != nil:
		out, err = h.exec(ctx, c.Name, hk.Exec.Command)
	case hk.HTTPGet != nil:
		t := h.target
		t.Ports = c.Ports
		err = probe.HTTPHook(ctx, *hk.HTTPGet, t)
	case hk.Sleep != nil:
		err = sleepHook(ctx, time.Duration(hk.Sleep.Seconds)*time.Second)
	default:
		err = errors.New("the hook has no action")
	}
	if err == nil {
		return "", nil
	}
	return hookMessage(hk, c.Name, formatPod(h.pod, h.uid), out, err), err
}

// exec runs an exec hook's command in container name as `berth exec`
// runs it; a non-zero exit is an error with the output.
func (h *hooker) exec(ctx context.Context, name string, cmd []string) ([]byte, error) {
	if h.m.cfg.ExecHook == nil {
		return nil, errors.New("this daemon runs no exec hooks")
	}
	t, err := h.m.execTarget(ctx, h.pod.Namespace, h.pod.Name, name, true)
	if err != nil {
		return nil, err
	}
	code, out, err := h.m.cfg.ExecHook(ctx, t, cmd)
	if err == nil && code != 0 {
		err = fmt.Errorf("command '%s' exited with %d: %s", strings.Join(cmd, " "), code, out)
	}
	return out, err
}

// sleepHook waits d, or fails when ctx ends first.
func sleepHook(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errors.New("container terminated before sleep hook finished")
	}
}

// hookMessage is the kubelet's message for a failed hook, which its
// FailedPostStartHook and FailedPreStopHook events carry here.
func hookMessage(hk *manifests.LifecycleHandler, ctr, pod string, out []byte, err error) string {
	switch {
	case hk.Exec != nil:
		return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q", hk.Exec.Command, ctr, pod, err, out)
	case hk.HTTPGet != nil:
		return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v", hk.HTTPGet.Path, ctr, pod, err)
	case hk.Sleep != nil:
		return fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v", hk.Sleep.Seconds, ctr, pod, err)
	}
	return fmt.Sprintf("lifecycle hook for Container %q in Pod %q failed - error: %v", ctr, pod, err)
}

// formatPod names a pod as the kubelet's messages do: name_namespace(uid).
func formatPod(p *manifests.Pod, uid string) string {
	return fmt.Sprintf("%s_%s(%s)", p.Name, p.Namespace, uid)
}

// hookContainer is p's regular container or sidecar called name, the
// containers that may have hooks; nil when p has none.
func hookContainer(p *manifests.Pod, name string) *manifests.Container {
	for _, c := range sidecarsAndApps(&p.Spec) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// specContainer is p's regular container called name, nil when p has none.
func specContainer(p *manifests.Pod, name string) *manifests.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}

// postStartRuns returns, for each container with a postStart hook, its
// current run's hook; nil for a nil hooker.
func (h *hooker) postStartRuns() map[string]hookRun {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]hookRun, len(h.runs))
	for k, v := range h.runs {
		out[k] = v
	}
	return out
}

// postStartRuns returns the postStart hooks of pod id's containers' runs;
// nil for a pod without them.
func (m *Manager) postStartRuns(id string) map[string]hookRun {
	m.mu.Lock()
	var h *hooker
	if e := m.pods[id]; e != nil {
		h = e.hooks
	}
	m.mu.Unlock()
	return h.postStartRuns()
}

// applyPostStart shows a container or sidecar with a postStart hook as not
// running until its run's hook succeeded, as the kubelet does: waiting
// with ContainerCreating while the hook runs, PostStartHookError with its
// message once it failed (the kill is under way). It returns a copy of st
// when it changes anything.
func applyPostStart(st *infra.PodStatus, runs map[string]hookRun) *infra.PodStatus {
	if st == nil || len(runs) == 0 {
		return st
	}
	out := *st
	out.InitContainers = hidePostStarts(st.InitContainers, runs)
	out.Containers = hidePostStarts(st.Containers, runs)
	return &out
}

// hidePostStarts is applyPostStart for one list: a copy of list.
func hidePostStarts(list []infra.ContainerStatus, runs map[string]hookRun) []infra.ContainerStatus {
	out := append([]infra.ContainerStatus(nil), list...)
	for i, cs := range out {
		hr, ok := runs[cs.Name]
		r := cs.State.Running
		if !ok || r == nil || (hr.done && hr.run.Equal(r.StartedAt)) {
			continue
		}
		w := &kube.StateWaiting{Reason: kube.ReasonContainerCreating}
		if hr.failed != "" && hr.run.Equal(r.StartedAt) {
			w = &kube.StateWaiting{Reason: kube.ReasonPostStartHookError, Message: hr.failed}
		}
		out[i].State = kube.ContainerState{Waiting: w}
	}
	return out
}

// stopHooks ends the pod's postStart hooks, has the infra restart nothing
// more, runs the preStop hooks of its running regular containers within
// grace, and returns what remains of grace for the containers' stop
// (stopGrace); a pod without hooks keeps all of grace. The sidecars'
// preStop hooks come later, each at its turn in the infra's stop order,
// within the pod's grace period: the infra decides the turns (its
// terminate), so it asks, and a watch that stopHooks leaves running
// answers them (answerPreStops) until done is called, once the infra
// stopped its containers. done releases what the hooks held. With grace
// 0 (the containers are gone) it only ends and releases.
func (m *Manager) stopHooks(ctx context.Context, e *entry, grace time.Duration) (left time.Duration, done func()) {
	m.mu.Lock()
	h := e.hooks
	e.hooks = nil
	m.mu.Unlock()
	if h == nil {
		return grace, func() {}
	}
	h.stop()
	if grace <= 0 {
		h.release()
		return grace, func() {}
	}
	if err := m.cfg.Infra.HoldRestarts(ctx, h.socket); err != nil && !errors.Is(err, infra.ErrUnsupported) {
		m.cfg.Log.Warn("hold the pod's restarts during its preStop hooks", "pod", key(h.pod), "err", err)
	}
	left = h.preStopAll(ctx, grace)
	if !sidecarPreStops(h.pod) {
		h.release()
		return left, func() {}
	}
	wctx, cancel := context.WithCancel(context.Background())
	h.wg.Go(func() {
		h.m.watchStatus(wctx, h.socket, func(st infra.PodStatus) { h.answerPreStops(wctx, st.InitContainers) })
	})
	return left, func() {
		cancel()
		h.wg.Wait()
		h.release()
	}
}

// watchStatus calls fn with the status of the pod whose infra listens on
// socket each time the infra pushes one (WatchStatus), until ctx ends: the
// pod's own watch (followStatus) has ended when its removal began. A
// broken stream is opened again after probePoll; an infra too old to push
// is asked for its status every probePoll instead.
func (m *Manager) watchStatus(ctx context.Context, socket string, fn func(infra.PodStatus)) {
	for {
		err := m.cfg.Infra.WatchStatus(ctx, socket, fn)
		if errors.Is(err, infra.ErrUnsupported) {
			m.pollStatus(ctx, socket, fn)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(probePoll):
		}
	}
}

// preStopContainer runs the preStop hook of container ctr of pod id before
// the daemon has the infra kill it (a failed liveness or startup probe),
// and returns what remains of grace.
func (m *Manager) preStopContainer(ctx context.Context, id, ctr string, grace time.Duration) time.Duration {
	m.mu.Lock()
	var h *hooker
	if e := m.pods[id]; e != nil && !e.terminating {
		h = e.hooks
	}
	m.mu.Unlock()
	if h == nil {
		return grace
	}
	return h.preStop(ctx, hookContainer(h.pod, ctr), grace)
}

// hasPostStart says whether any container or sidecar of p has a postStart
// hook.
func hasPostStart(p *manifests.Pod) bool {
	return slices.ContainsFunc(sidecarsAndApps(&p.Spec), hasPostStartHook)
}

// hasPostStartHook says whether container c has a postStart hook.
func hasPostStartHook(c *manifests.Container) bool {
	return c.Lifecycle != nil && c.Lifecycle.PostStart != nil
}
