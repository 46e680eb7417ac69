package pod

import (
	"encoding/json"
	"fmt"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/volumes"
)

// podCgroups are where a pod's processes go.
type podCgroups struct {
	infra cgroups.Placement
	ctrs  map[string]cgroups.Placement
}

// Resources computes a container's cgroup values from its manifest.
func Resources(c *manifests.Container) (cgroups.Resources, error) {
	r, err := cgroups.ForContainer(cgroupContainer(c))
	if err != nil {
		return cgroups.Resources{}, fmt.Errorf("container %s: resources: %w", c.Name, err)
	}
	return r, nil
}

func cgroupContainer(c *manifests.Container) cgroups.Container {
	q := func(m map[string]manifests.Quantity) cgroups.Quantities {
		var out cgroups.Quantities
		if v, ok := m["cpu"]; ok {
			out.CPUMilli = v.MilliValue()
		}
		if v, ok := m["memory"]; ok {
			out.MemoryBytes = v.Value()
		}
		return out
	}
	return cgroups.Container{
		Limits: q(c.Resources.Limits), Requests: q(c.Resources.Requests),
		Privileged: c.SecurityContext != nil && isTrue(c.SecurityContext.Privileged),
	}
}

// ensureCgroups creates the pod's cgroup, with the infra's below it.
func (m *Manager) ensureCgroups(c *podRun) error {
	p := c.rec.Pod
	podRes, err := podResources(p)
	if err != nil {
		return err
	}
	kid := podid.KernelID(c.id)
	if err := m.cfg.Cgroups.EnsurePod(kid, podRes); err != nil {
		return fmt.Errorf("create pod cgroup: %w", err)
	}
	c.cg = podCgroups{ctrs: map[string]cgroups.Placement{}}
	if c.cg.infra, err = m.cfg.Cgroups.EnsureInfra(kid); err != nil {
		return fmt.Errorf("create infra cgroup: %w", err)
	}
	return nil
}

// ensureContainerCgroups makes the cgroups of the pod's containers, below
// the pod's (ensureCgroups), whose removal removes them.
func (m *Manager) ensureContainerCgroups(c *podRun) error {
	kid := podid.KernelID(c.id)
	for _, ctr := range allContainers(c.rec.Pod) {
		r, err := Resources(ctr)
		if err != nil {
			return err
		}
		pl, err := m.cfg.Cgroups.EnsureContainer(kid, ctr.Name, r)
		if err != nil {
			return fmt.Errorf("create cgroup of container %s: %w", ctr.Name, err)
		}
		c.cg.ctrs[ctr.Name] = pl
	}
	return nil
}

// oomScoreAdj is container c's oom_score_adj from its pod's QoS class.
func (m *Manager) oomScoreAdj(p *manifests.Pod, c *manifests.Container) int {
	var all []cgroups.Container
	for _, pc := range allContainers(p) {
		all = append(all, cgroupContainer(pc))
	}
	return cgroups.OOMScoreAdj(cgroups.QOSClass(all), cgroupContainer(c), m.cfg.MemoryCapacity)
}

// containerConfigs computes what the infra runs for each container.
func (m *Manager) containerConfigs(rec *record, l Layout, imgs map[string]images.Image, vols volumes.Set, objs Objects, cg podCgroups) (initCtrs, ctrs []infra.ContainerConfig, err error) {
	p := rec.Pod
	build := func(list []manifests.Container) ([]infra.ContainerConfig, error) {
		var out []infra.ContainerConfig
		for i := range list {
			cfg, err := m.infraContainer(rec, l, &list[i], imgs[list[i].Image], vols, objs, cg.ctrs[list[i].Name])
			if err != nil {
				return nil, err
			}
			out = append(out, cfg)
		}
		return out, nil
	}
	if initCtrs, err = build(p.Spec.InitContainers); err != nil {
		return nil, nil, err
	}
	if ctrs, err = build(p.Spec.Containers); err != nil {
		return nil, nil, err
	}
	return initCtrs, ctrs, nil
}

// infraContainer computes what the infra runs for container c of the pod
// of rec, from its image, the pod's volumes and its cgroup placement.
// sidecarWaits says whether c is a sidecar, and what the infra waits for
// the daemon to say of it: that a run started (its postStart hook
// succeeded and its startupProbe passed), and, at its turn to stop when
// the pod ends, that its preStop hook ended.
func sidecarWaits(c *manifests.Container) (sidecar, waitStarted, preStopHook bool) {
	if !manifests.IsSidecar(c) {
		return false, false, false
	}
	l := c.Lifecycle
	return true, c.StartupProbe != nil || (l != nil && l.PostStart != nil), l != nil && l.PreStop != nil
}

func (m *Manager) infraContainer(rec *record, l Layout, c *manifests.Container, img images.Image, vols volumes.Set, objs Objects, pl cgroups.Placement) (infra.ContainerConfig, error) {
	p := rec.Pod
	env, vars, err := rec.envVars(c, img, objs, m.nodeName, m.cfg.Node)
	if err != nil {
		return infra.ContainerConfig{}, fmt.Errorf("container %s: %w", c.Name, err)
	}
	mounts, err := volumes.Mounts(ExpandSubPaths(c, vars), vols)
	if err != nil {
		return infra.ContainerConfig{}, fmt.Errorf("container %s: %w", c.Name, err)
	}
	cfg, err := m.containerConfig(ContainerInput{Pod: p, Container: c, Image: img, Env: env, Mounts: mounts, Layout: l, CgroupProcs: pl.Procs,
		OOMScoreAdj: m.oomScoreAdj(p, c)})
	if err != nil {
		return infra.ContainerConfig{}, err
	}
	spec, err := json.Marshal(c)
	if err != nil {
		return infra.ContainerConfig{}, fmt.Errorf("container %s: encode spec: %w", c.Name, err)
	}
	stop, err := stopSignal(c, img)
	if err != nil {
		return infra.ContainerConfig{}, fmt.Errorf("container %s: %w", c.Name, err)
	}
	oomFile, oomFormat := m.cfg.Cgroups.OOMEventsFile(podid.KernelID(podid.ID(p.Namespace, p.Name)), c.Name)
	out := infra.ContainerConfig{
		Name: c.Name, Init: cfg, CgroupDir: pl.Dir, Spec: spec,
		OOMEventsFile: oomFile, OOMFormat: oomFormat,
		TerminationMessagePolicy: c.TerminationMessagePolicy,
		Stdin:                    c.Stdin, StdinOnce: c.StdinOnce, TTY: c.TTY,
		StopSignal: stop,
	}
	out.Sidecar, out.WaitStarted, out.PreStopHook = sidecarWaits(c)
	if c.TerminationMessagePath != "" {
		out.TerminationMessageFile = l.TerminationMessageFile(c.Name)
	}
	return out, nil
}
