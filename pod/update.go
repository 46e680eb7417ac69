package pod

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
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
// nothing, when the pod is not running (its create failed) or its infra
// predates updates (infra.ErrUnsupported).
func (m *Manager) update(ctx context.Context, a reconciler.Action) error {
	d := a.Desired
	id := ID(d.Pod.Namespace, d.Pod.Name)
	m.mu.Lock()
	e, ok := m.pods[id]
	running := ok && !e.terminating
	m.mu.Unlock()
	if !running {
		return errReplace
	}
	old := e.rec
	rec := *old
	rec.Pod, rec.File, rec.ImageIDs = d.Pod, d.File, maps.Clone(old.ImageIDs)
	u := &podUpdate{
		c:       &podRun{id: id, rec: &rec, l: e.layout, cg: podCgroups{ctrs: map[string]cgroups.Placement{}}},
		old:     old.Pod,
		restart: a.Change.Restarts(),
		resize:  a.Change.Resizes(),
	}
	var err error
	if u.lowers, err = lowersMemory(old.Pod, d.Pod, slices.Concat(u.restart, u.resize)); err != nil {
		return fmt.Errorf("update pod %s/%s: %w", d.Pod.Namespace, d.Pod.Name, err)
	}
	r := newRunner(nil)
	if err := r.run(ctx, m.updateSteps(u)); err != nil {
		if uerr := r.rollback(ctx); uerr != nil {
			m.cfg.Log.Error("set the old limits back after a failed update", "pod", key(d.Pod), "err", uerr)
		}
		if errors.Is(err, infra.ErrUnsupported) {
			m.cfg.Log.Info("the pod's infra cannot update containers; replacing the pod", "pod", key(d.Pod), "err", err)
			return errReplace
		}
		return fmt.Errorf("update pod %s/%s in place: %w", d.Pod.Namespace, d.Pod.Name, err)
	}
	objs := u.c.objs
	m.mu.Lock()
	e.rec = &rec
	e.vol.refs, e.env.refs = volumeRefs(d.Pod, objs), envRefs(d.Pod, objs)
	m.mu.Unlock()
	if probesChanged(old.Pod, d.Pod, u.restart) {
		m.stopProbes(e)
		m.startProbes(id, e)
	}
	for _, name := range u.resize {
		m.event(d.Pod, name, kube.EventNormal, kube.EventResized, "Container "+name+" resized in place: "+strings.Join(fieldsOf(a.Change, name), ", "))
	}
	m.cfg.Log.Info("pod updated in place", "pod", key(d.Pod), "restarted", u.restart, "resized", u.resize, "change", a.Change.String())
	return nil
}

// podUpdate is one in-place update as its steps see it.
type podUpdate struct {
	// c is the pod with its new record.
	c   *podRun
	old *manifests.Pod
	// restart and resize are the containers restarted and resized live.
	restart, resize []string
	// lowers: a memory limit goes down, so the new limits are written
	// only once the restarted containers' old runs ended.
	lowers bool
	cfgs   []infra.ContainerConfig
}

// updateSteps are an update's steps; only the cgroups have an undo (the
// old spec's limits): a restarted container cannot be un-restarted, and
// the record is written last.
func (m *Manager) updateSteps(u *podUpdate) []step {
	c := u.c
	p := c.rec.Pod
	names := slices.Concat(u.restart, u.resize)
	// Undoing a raise lowers, and the other way round.
	restoreOld := func(context.Context) error { return m.setLimits(c, u.old, names, !u.lowers) }
	steps := []step{
		{name: "images", do: func(context.Context) error { return m.resolveUpdated(c, u.restart) }},
		{name: "volumes", do: func(context.Context) error { return m.updateVolumes(c, u.restart) }},
	}
	limits := p
	if u.lowers {
		// The placements, with the limits the old runs have.
		limits = u.old
	}
	steps = append(steps,
		step{name: "cgroups", do: func(context.Context) error { return m.setLimits(c, limits, names, false) }, undo: restoreOld},
		step{name: "configs", do: func(context.Context) (err error) { u.cfgs, err = m.updatedConfigs(c, u.restart); return err }},
	)
	if len(u.restart) > 0 {
		steps = append(steps, step{name: "containers", do: func(ctx context.Context) error {
			if _, err := m.cfg.Infra.Update(ctx, c.l.Socket(), u.cfgs, gracePeriod(p)); err != nil {
				return fmt.Errorf("restart containers %s: %w", strings.Join(u.restart, ", "), err)
			}
			return nil
		}})
	}
	if u.lowers {
		steps = append(steps, step{name: "cgroups-lowered", do: func(context.Context) error { return m.setLimits(c, p, names, true) }, undo: restoreOld})
	}
	return append(steps, step{name: "record", do: func(context.Context) error { return writeRecord(c.l.State, c.rec) }})
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

// setLimits writes the cgroup limits of p's named containers and of its
// pod cgroup, and notes the containers' placements. Raising, the pod's
// limit goes first so that a container's can fit in it; lowering, last.
func (m *Manager) setLimits(c *podRun, p *manifests.Pod, names []string, lowering bool) error {
	podRes, err := podResources(p)
	if err != nil {
		return err
	}
	kid := KernelID(c.id)
	setPod := func() error {
		if err := m.cfg.Cgroups.EnsurePod(kid, podRes); err != nil {
			return fmt.Errorf("set the pod cgroup's limits: %w", err)
		}
		return nil
	}
	if !lowering {
		if err := setPod(); err != nil {
			return err
		}
	}
	for i := range p.Spec.Containers {
		ctr := &p.Spec.Containers[i]
		if !slices.Contains(names, ctr.Name) {
			continue
		}
		r, err := Resources(ctr)
		if err != nil {
			return err
		}
		pl, err := m.cfg.Cgroups.EnsureContainer(kid, ctr.Name, r)
		if err != nil {
			return fmt.Errorf("set the limits of container %s: %w", ctr.Name, err)
		}
		c.cg.ctrs[ctr.Name] = pl
	}
	if lowering {
		return setPod()
	}
	return nil
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

// lowersMemory reports whether going from old to new lowers a memory
// limit, of the pod cgroup or of one of the named containers: a limit set
// where there was none, or a smaller one. Such a limit is written once the
// restarted containers' old runs ended, which may use more than it allows
// (a lowered limit on a container resized live is a restart: the planner
// never resizes memory down live).
func lowersMemory(old, new *manifests.Pod, names []string) (bool, error) {
	oldPod, err := podResources(old)
	if err != nil {
		return false, err
	}
	newPod, err := podResources(new)
	if err != nil {
		return false, err
	}
	if lowered(oldPod.MemoryMax, newPod.MemoryMax) {
		return true, nil
	}
	for _, name := range names {
		o, n := containerNamed(old, name), containerNamed(new, name)
		if o == nil || n == nil {
			continue
		}
		or, err := Resources(o)
		if err != nil {
			return false, err
		}
		nr, err := Resources(n)
		if err != nil {
			return false, err
		}
		if lowered(or.MemoryMax, nr.MemoryMax) {
			return true, nil
		}
	}
	return false, nil
}

// lowered: a memory limit (0: none) goes from old to something smaller.
func lowered(old, new int64) bool { return new > 0 && (old == 0 || new < old) }

func containerNamed(p *manifests.Pod, name string) *manifests.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}

// probesChanged reports whether the probes of a restarted container, or
// the ports they may name, differ: the pod's prober then starts afresh
// from the new spec.
func probesChanged(old, new *manifests.Pod, restart []string) bool {
	for _, name := range restart {
		o, n := containerNamed(old, name), containerNamed(new, name)
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
