package pod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

// errReplace is an update the pod cannot take in place: nothing changed,
// and the pod is replaced instead.
var errReplace = errors.New("the pod must be replaced")

// update applies a change confined to containers (reconciler.Change with
// ScopeContainers) to the running pod: the containers to restart get their
// new image, config and cgroup limits and are restarted by the infra
// (infra.Client.Update) inside the same sandbox; those resized live only
// get their new cgroup limits. The infra, its namespaces, the pod's IP,
// its volumes and the other containers are untouched.
//
// The record is written last, with the new spec: a failure or a crash
// before leaves the old one, and the next pass plans the same update
// again. The infra leaves alone a container whose definition it already
// has, and the cgroup writes are idempotent, so the repeat converges to the
// new spec without restarting anything twice. On failure the cgroup limits
// are set back to the old spec's. It answers errReplace, having changed
// nothing, when the pod is not running (its create failed), its infra
// predates updates (infra.ErrUnsupported), or a container's new image
// cannot be had (imageUnavailable).
func (m *Manager) update(ctx context.Context, a reconciler.Action, next rollout) error {
	d := a.Desired
	id := podid.ID(d.Pod.Namespace, d.Pod.Name)
	m.mu.Lock()
	e, ok := m.pods[id]
	running := ok && !e.terminating
	m.mu.Unlock()
	if !running {
		return errReplace
	}
	old := e.rec
	u, err := newUpdate(id, e, d, a.Change, next)
	if err != nil {
		return fmt.Errorf("update pod %s/%s: %w", d.Pod.Namespace, d.Pod.Name, err)
	}
	rec := u.c.rec
	t := newPhaseTimer(m.cfg.Log, key(d.Pod))
	t.seen(d.Seen, d.Parsed)
	r := newRunner(t)
	if err := r.run(ctx, m.updateSteps(u)); err != nil {
		if uerr := r.rollback(ctx); uerr != nil {
			m.cfg.Log.Error("set the old limits back after a failed update", "pod", key(d.Pod), "err", uerr)
		}
		if u.hooksStopped {
			m.startHooks(id, e)
		}
		if errors.Is(err, infra.ErrUnsupported) {
			m.cfg.Log.Info("the pod's infra cannot update containers; replacing the pod", "pod", key(d.Pod), "err", err)
			return errReplace
		}
		if imageUnavailable(err) {
			// As a kubelet would: the pod is replaced, its create fails
			// with the image's reason, and the rollout gate returns it to
			// its last good spec. An image still being pulled is waited
			// for while the old containers run.
			m.cfg.Log.Info("a container's new image cannot be had; replacing the pod", "pod", key(d.Pod), "err", err)
			return errReplace
		}
		m.event(d.Pod, "", kube.EventWarning, kube.EventFailed, "update in place failed, the pod runs its previous spec: "+err.Error())
		return fmt.Errorf("update pod %s/%s in place: %w", d.Pod.Namespace, d.Pod.Name, err)
	}
	// The next Refresh compares the documents the new spec refers to with
	// those it last saw, and brings the volumes and the other containers'
	// next environment up to date where they differ.
	m.mu.Lock()
	e.rec = rec
	m.mu.Unlock()
	if u.hooksStopped {
		m.startHooks(id, e)
	}
	if probesChanged(old.Pod, d.Pod, u.restart) {
		m.mu.Lock()
		e.probesPending = hasProbes(d.Pod)
		m.mu.Unlock()
		m.stopProbes(e)
		m.startProbes(id, e)
	}
	for _, name := range u.resize {
		m.event(d.Pod, name, kube.EventNormal, kube.EventResized, "Container "+name+" resized in place: "+strings.Join(fieldsOf(a.Change, name), ", "))
	}
	t.containers(u.started)
	t.doneAs("pod updated in place", slog.Any("restarted", u.restart), slog.Any("resized", u.resize), slog.String("change", a.Change.String()))
	return nil
}

// stopHooksForUpdate runs the preStop hooks of the containers an update
// restarts, from the spec they run (as on a kubelet, which runs the hook
// of the container it kills), each within grace, and stops the old spec's
// hooks, so that no postStart hook of the old spec meets a new run; the
// update starts the new spec's. It returns what remains of grace for the
// stop signal.
func (m *Manager) stopHooksForUpdate(ctx context.Context, u *podUpdate, grace time.Duration) time.Duration {
	m.mu.Lock()
	h := u.e.hooks
	u.e.hooks = nil
	u.e.hooksPending = true
	m.mu.Unlock()
	u.hooksStopped = true
	if h == nil {
		return grace
	}
	left := grace
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range u.restart {
		wg.Go(func() {
			g := h.preStop(ctx, specContainer(h.pod, name), grace)
			mu.Lock()
			left = min(left, g)
			mu.Unlock()
		})
	}
	wg.Wait()
	h.stop()
	h.release()
	return left
}

// imageUnavailable reports whether err is an image that cannot be had
// (ErrImagePull, ImagePullBackOff, ErrImageNeverPull), rather than one
// being pulled or a failure of the host.
func imageUnavailable(err error) bool {
	r, ok := pullReason(err)
	return ok && r != kube.ReasonContainerCreating
}

// podUpdate is one in-place update as its steps see it.
type podUpdate struct {
	// c is the pod with its new record.
	c   *podRun
	old *manifests.Pod
	// e is the pod's entry, whose hooks run the old containers' preStop.
	e *entry
	// hooksStopped: the old spec's hooks were stopped for the restart.
	hooksStopped bool
	// restart and resize are the containers restarted and resized live.
	restart, resize []string
	// limits are the cgroup writes before and after the restarts; undo
	// the writes that set the old spec's limits back.
	limits, undo limitPlan
	cfgs         []infra.ContainerConfig
	// started is the status of the restarted containers' new runs.
	started infra.PodStatus
}

// newUpdate prepares the update of pod id (e) to d by change: its new
// record, with the rollout next (a trial begins now: the record's Created
// is the sandbox's), and the order of its cgroup writes and of their undo.
func newUpdate(id string, e *entry, d *reconciler.Desired, change reconciler.Change, next rollout) (*podUpdate, error) {
	if next.Trial && next.Since.IsZero() {
		next.Since = time.Now().UTC()
	}
	rec := *e.rec
	rec.Pod, rec.File, rec.ImageIDs, rec.Rollout = d.Pod, d.File, maps.Clone(e.rec.ImageIDs), next
	u := &podUpdate{
		c:       &podRun{id: id, rec: &rec, l: e.layout, cg: podCgroups{ctrs: map[string]cgroups.Placement{}}},
		old:     e.rec.Pod,
		e:       e,
		restart: change.Restarts(),
		resize:  change.Resizes(),
	}
	names := slices.Concat(u.restart, u.resize)
	var err error
	if u.limits, err = planLimits(u.old, d.Pod, names, u.restart); err != nil {
		return nil, err
	}
	if u.undo, err = planLimits(d.Pod, u.old, names, nil); err != nil {
		return nil, err
	}
	return u, nil
}

// updateSteps are an update's steps; only the cgroups have an undo (the
// old spec's limits): a restarted container cannot be un-restarted, and
// the record is written last.
func (m *Manager) updateSteps(u *podUpdate) []step {
	c := u.c
	p := c.rec.Pod
	restoreOld := func(context.Context) error {
		return errors.Join(m.writeLimits(c, u.undo.before), m.writeLimits(c, u.undo.after))
	}
	steps := []step{
		{name: "images", phase: "images", do: func(context.Context) error { return m.resolveUpdated(c, u.restart) }},
		{name: "volumes", phase: "volumes", do: func(context.Context) error { return m.updateVolumes(c, u.restart) }},
		{name: "cgroups", phase: "cgroups", do: func(context.Context) error { return m.writeLimits(c, u.limits.before) }, undo: restoreOld},
		{name: "configs", phase: "configs", do: func(context.Context) (err error) { u.cfgs, err = m.updatedConfigs(c, u.restart); return err }},
	}
	if len(u.restart) > 0 {
		steps = append(steps, step{name: "containers", phase: "containers", do: func(ctx context.Context) error {
			grace := m.stopHooksForUpdate(ctx, u, gracePeriod(p))
			st, err := m.cfg.Infra.Update(ctx, c.l.Socket(), u.cfgs, grace)
			if err != nil {
				return fmt.Errorf("restart containers %s: %w", strings.Join(u.restart, ", "), err)
			}
			st.InitContainers = nil
			st.Containers = slices.DeleteFunc(st.Containers, func(cs infra.ContainerStatus) bool { return !slices.Contains(u.restart, cs.Name) })
			u.started = st
			return nil
		}})
	}
	if len(u.limits.after) > 0 {
		steps = append(steps, step{name: "cgroups-tightened", phase: "cgroups-tightened", do: func(context.Context) error { return m.writeLimits(c, u.limits.after) }, undo: restoreOld})
	}
	return append(steps, step{name: "record", phase: "record", do: func(context.Context) error { return writeRecord(c.l.State, c.rec) }})
}

// limitWrite is one cgroup's limits to write: a container's, or the pod
// cgroup's (ctr empty).
type limitWrite struct {
	ctr string
	res cgroups.Resources
}

// limitPlan orders an update's cgroup writes so that a child's limit never
// exceeds its parent's (v1 refuses a cpu quota above the parent's) and no
// running process gets a memory limit below what it may use: before the
// restarts, the pod cgroup gets the looser of its old and new limits, then
// each container its new ones, except a restarted container whose new
// limits are tighter, which keeps the looser ones while its old run ends;
// after the restarts, those containers get their new limits, then the pod
// cgroup its own, if they are tighter.
type limitPlan struct{ before, after []limitWrite }

// planLimits is the limitPlan of going from old to new for the named
// containers, of which restart are restarted.
func planLimits(old, new *manifests.Pod, names, restart []string) (limitPlan, error) {
	oldPod, err := podResources(old)
	if err != nil {
		return limitPlan{}, err
	}
	newPod, err := podResources(new)
	if err != nil {
		return limitPlan{}, err
	}
	var lp limitPlan
	lp.before = append(lp.before, limitWrite{res: loosest(oldPod, newPod)})
	for i := range new.Spec.Containers {
		n := &new.Spec.Containers[i]
		if !slices.Contains(names, n.Name) {
			continue
		}
		nr, err := Resources(n)
		if err != nil {
			return limitPlan{}, err
		}
		w := limitWrite{ctr: n.Name, res: nr}
		if o := specContainer(old, n.Name); o != nil && slices.Contains(restart, n.Name) {
			or, err := Resources(o)
			if err != nil {
				return limitPlan{}, err
			}
			if l := loosest(or, nr); l != nr {
				w.res = l
				lp.after = append(lp.after, limitWrite{ctr: n.Name, res: nr})
			}
		}
		lp.before = append(lp.before, w)
	}
	if lp.before[0].res != newPod {
		lp.after = append(lp.after, limitWrite{res: newPod})
	}
	return lp, nil
}

// loosest is the looser of two cgroups' limits, value by value (0 is no
// limit); the rest is b's.
func loosest(a, b cgroups.Resources) cgroups.Resources {
	looser := func(x, y int64) int64 {
		if x == 0 || y == 0 {
			return 0
		}
		return max(x, y)
	}
	out := b
	out.MemoryMax = looser(a.MemoryMax, b.MemoryMax)
	out.PidsMax = looser(a.PidsMax, b.PidsMax)
	if a.CPUPeriod == b.CPUPeriod {
		out.CPUQuota = looser(a.CPUQuota, b.CPUQuota)
	} else if a.CPUQuota == 0 || b.CPUQuota == 0 {
		out.CPUQuota = 0
	}
	return out
}

// writeLimits writes ws in order, and notes the containers' placements.
func (m *Manager) writeLimits(c *podRun, ws []limitWrite) error {
	kid := podid.KernelID(c.id)
	for _, w := range ws {
		if w.ctr == "" {
			if err := m.cfg.Cgroups.EnsurePod(kid, w.res); err != nil {
				return fmt.Errorf("set the pod cgroup's limits: %w", err)
			}
			continue
		}
		pl, err := m.cfg.Cgroups.EnsureContainer(kid, w.ctr, w.res)
		if err != nil {
			return fmt.Errorf("set the limits of container %s: %w", w.ctr, err)
		}
		c.cg.ctrs[w.ctr] = pl
	}
	return nil
}

// resolveUpdated finds the images of the containers to restart and
// records their IDs; the others keep theirs.
func (m *Manager) resolveUpdated(c *podRun, restart []string) error {
	p := c.rec.Pod
	c.imgs = map[string]images.Image{}
	for _, ctr := range p.Spec.Containers {
		if !slices.Contains(restart, ctr.Name) {
			continue
		}
		img, ok := c.imgs[ctr.Image]
		if !ok {
			var err error
			if img, err = m.image(p, &ctr); err != nil {
				return &imageError{container: ctr.Name, image: ctr.Image, err: err}
			}
			c.imgs[ctr.Image] = img
		}
		c.rec.ImageIDs[ctr.Name] = img.ID
	}
	return nil
}

// updateVolumes gives the containers to restart the pod's volumes, which
// the change did not touch (a volume changed is a pod-level change):
// preparing them again finds them made and changes nothing but what a
// refresh would.
func (m *Manager) updateVolumes(c *podRun, restart []string) error {
	if len(restart) == 0 {
		c.objs = m.objects(c.rec.Pod.Namespace)
		return nil
	}
	return m.prepareVolumes(c)
}

// updatedConfigs computes what the infra runs for the containers to
// restart, as a create computes it.
func (m *Manager) updatedConfigs(c *podRun, restart []string) ([]infra.ContainerConfig, error) {
	var out []infra.ContainerConfig
	p := c.rec.Pod
	for i := range p.Spec.Containers {
		ctr := &p.Spec.Containers[i]
		if !slices.Contains(restart, ctr.Name) {
			continue
		}
		cfg, err := m.infraContainer(c.rec, c.l, ctr, c.imgs[ctr.Image], c.vols, c.objs, c.cg.ctrs[ctr.Name])
		if err != nil {
			return nil, err
		}
		out = append(out, cfg)
	}
	return out, nil
}

// podResources are the pod cgroup's values for p's containers.
func podResources(p *manifests.Pod) (cgroups.Resources, error) {
	var spec []cgroups.Container
	for _, ctr := range p.Spec.Containers {
		spec = append(spec, cgroupContainer(&ctr))
	}
	r, err := cgroups.ForPod(spec)
	if err != nil {
		return cgroups.Resources{}, fmt.Errorf("pod resources: %w", err)
	}
	return r, nil
}

// probesChanged reports whether the probes of a restarted container, or
// the ports they may name, differ: the pod's prober then starts afresh
// from the new spec.
func probesChanged(old, new *manifests.Pod, restart []string) bool {
	for _, name := range restart {
		o, n := specContainer(old, name), specContainer(new, name)
		if o == nil || n == nil {
			return true
		}
		if !reflect.DeepEqual(o.LivenessProbe, n.LivenessProbe) || !reflect.DeepEqual(o.ReadinessProbe, n.ReadinessProbe) ||
			!reflect.DeepEqual(o.StartupProbe, n.StartupProbe) || !reflect.DeepEqual(o.Ports, n.Ports) {
			return true
		}
	}
	return false
}

// fieldsOf are the paths of c that changed in container name.
func fieldsOf(c reconciler.Change, name string) []string {
	for _, cc := range c.Containers {
		if cc.Name == name {
			return cc.Fields
		}
	}
	return nil
}
