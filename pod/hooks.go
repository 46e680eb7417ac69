package pod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// the pod exists: each container's postStart hook once per run (the runs
// the infra restarts on its own included: a watch follows the status the
// infra pushes, as the prober's does), and, on demand, preStop hooks before a
// container is stopped. exec hooks run in the container as `berth exec`
// does (Config.ExecProbe); httpGet hooks dial from the pod's network
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
}

// hookRun is the postStart hook of one run of a container.
type hookRun struct {
	// run is the run's start; zero before the hooker saw one.
	run time.Time
	// done: the hook succeeded; failed is its message when it failed.
	done   bool
	failed string
}

// hasHooks says whether any container of p has a postStart or preStop
// hook.
func hasHooks(p *manifests.Pod) bool {
	for _, c := range p.Spec.Containers {
		if l := c.Lifecycle; l != nil && (l.PostStart != nil || l.PreStop != nil) {
			return true
		}
	}
	return false
}

// needsDialer says whether a hook of p sends an HTTP request.
func needsDialer(p *manifests.Pod) bool {
	for _, c := range p.Spec.Containers {
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
	if !hasHooks(p) {
		return
	}
	h, err := m.newHooker(e)
	if err != nil {
		m.cfg.Log.Error("pod's lifecycle hooks cannot run", "pod", key(p), "err", err)
		m.event(p, "", kube.EventWarning, kube.EventFailed, "lifecycle hooks cannot run: "+err.Error())
		return
	}
	m.mu.Lock()
	kept := m.pods[id] == e && !e.terminating && e.hooks == nil
	if kept {
		e.hooks = h
	}
	m.mu.Unlock()
	if !kept {
		h.stop()
		h.release()
	}
}

func (m *Manager) newHooker(e *entry) (*hooker, error) {
	rec := e.rec
	h := &hooker{m: m, e: e, pod: rec.Pod, uid: rec.UID, socket: e.layout.Socket(), layout: e.layout,
		close: func() error { return nil }, runs: map[string]hookRun{}}
	if needsDialer(rec.Pod) {
		t, closeNS, err := m.podTarget(rec)
		if err != nil {
			return nil, err
		}
		h.target, h.close = t, closeNS
	}
	for _, c := range rec.Pod.Spec.Containers {
		if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
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
	if len(h.runs) > 0 {
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

// watch runs the postStart hook of each new run of a container, as the
// infra's status shows them (followStatus), until ctx ends.
func (h *hooker) watch(ctx context.Context) {
	h.m.followStatus(ctx, h.e, func(st infra.PodStatus) { h.observe(ctx, st.Containers) })
}

// observe starts the postStart hook of every run it has not seen.
func (h *hooker) observe(ctx context.Context, st []infra.ContainerStatus) {
	for _, cs := range st {
		r := cs.State.Running
		if r == nil {
			continue
		}
		h.mu.Lock()
		prev, ok := h.runs[cs.Name]
		fresh := ok && !prev.run.Equal(r.StartedAt)
		if fresh {
			h.runs[cs.Name] = hookRun{run: r.StartedAt}
		}
		h.mu.Unlock()
		if fresh {
			c := specContainer(h.pod, cs.Name)
			h.wg.Go(func() { h.postStart(ctx, c, r.StartedAt) })
		}
	}
}

// postStart runs c's postStart hook for the run that began at run. On
// success the run is shown running and the success recorded on disk; on
// failure a FailedPostStartHook event, then the container is killed as
// the kubelet does (its preStop hook, its stop signal, the pod's grace
// period), and its restart policy decides what follows.
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
	if h.m.cfg.ExecProbe == nil {
		return nil, errors.New("this daemon runs no exec hooks")
	}
	t, err := h.m.execTarget(ctx, h.pod.Namespace, h.pod.Name, name, true)
	if err != nil {
		return nil, err
	}
	code, out, err := h.m.cfg.ExecProbe(ctx, t, cmd)
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

// applyPostStart shows a container with a postStart hook as not running
// until its run's hook succeeded, as the kubelet does: waiting with
// ContainerCreating while the hook runs, PostStartHookError with its
// message once it failed (the kill is under way). It returns a copy of st
// when it changes anything.
func applyPostStart(st *infra.PodStatus, runs map[string]hookRun) *infra.PodStatus {
	if st == nil || len(runs) == 0 {
		return st
	}
	out := *st
	out.Containers = append([]infra.ContainerStatus(nil), st.Containers...)
	for i, cs := range out.Containers {
		hr, ok := runs[cs.Name]
		r := cs.State.Running
		if !ok || r == nil || (hr.done && hr.run.Equal(r.StartedAt)) {
			continue
		}
		w := &kube.StateWaiting{Reason: kube.ReasonContainerCreating}
		if hr.failed != "" && hr.run.Equal(r.StartedAt) {
			w = &kube.StateWaiting{Reason: kube.ReasonPostStartHookError, Message: hr.failed}
		}
		out.Containers[i].State = kube.ContainerState{Waiting: w}
	}
	return &out
}

// stopHooks ends the pod's postStart hooks, has the infra restart nothing
// more, runs the preStop hooks of its running containers within grace,
// releases what the hooks held, and returns what remains of grace for the
// containers' stop (stopGrace); a pod without hooks keeps all of grace.
// With grace 0 (the containers are gone) it only ends and releases.
func (m *Manager) stopHooks(ctx context.Context, e *entry, grace time.Duration) time.Duration {
	m.mu.Lock()
	h := e.hooks
	e.hooks = nil
	m.mu.Unlock()
	if h == nil {
		return grace
	}
	h.stop()
	defer h.release()
	if grace <= 0 {
		return grace
	}
	if err := m.cfg.Infra.HoldRestarts(ctx, h.socket); err != nil && !errors.Is(err, infra.ErrUnsupported) {
		m.cfg.Log.Warn("hold the pod's restarts during its preStop hooks", "pod", key(h.pod), "err", err)
	}
	return h.preStopAll(ctx, grace)
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
	return h.preStop(ctx, specContainer(h.pod, ctr), grace)
}

// hasPostStart says whether any container of p has a postStart hook.
func hasPostStart(p *manifests.Pod) bool {
	for _, c := range p.Spec.Containers {
		if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
			return true
		}
	}
	return false
}
