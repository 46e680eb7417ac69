package pod

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/manifests"
)

var (
	// ErrNotFound is wrapped by errors about a pod or container that does
	// not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotRunning is wrapped by errors about a container that exists but
	// does not run.
	ErrNotRunning = errors.New("container is not running")
)

// ExecTarget is what `berth exec` needs to enter a running container: the
// process to take the namespaces of, the cgroup to join, and how the
// container's own process runs.
type ExecTarget struct {
	// Pod is "namespace/name"; Container the container chosen.
	Pod       string
	Container string
	// PID is the container's init process in the host pid namespace and
	// StartTime its start time (clock ticks since boot): together they name
	// the process, a bare PID could be reused.
	PID       int
	StartTime uint64
	// CgroupProcs are the cgroup.procs files of the container's cgroup.
	CgroupProcs []string

	// Process is the container's (container.Config's).
	container.Process
}

// ExecTarget tells `berth exec` how to enter container ctr of a pod ("" is
// the pod's only container): the container's init process on the host
// (PID plus start time), its cgroup, and the user, capabilities and working
// directory its own process got, computed by the same pure code
// (ContainerConfig) from the pod record, and the environment it was started
// with, from the infra.
//
// Errors wrap ErrNotFound for an unknown pod or container and
// ErrNotRunning for a container that does not run.
func (m *Manager) ExecTarget(ctx context.Context, namespace, name, ctr string) (ExecTarget, error) {
	return m.execTarget(ctx, namespace, name, ctr, false)
}

// execTarget is ExecTarget; inTeardown also finds a container of a pod
// being removed, for its preStop hook.
func (m *Manager) execTarget(ctx context.Context, namespace, name, ctr string, inTeardown bool) (ExecTarget, error) {
	key := namespace + "/" + name
	id := ID(namespace, name)
	m.mu.Lock()
	e, ok := m.pods[id]
	var rec *record
	var l Layout
	var terminating bool
	if ok {
		rec, l, terminating = e.rec, e.layout, e.terminating
	}
	m.mu.Unlock()
	if !ok {
		return ExecTarget{}, fmt.Errorf("pod %s not found: %w", key, ErrNotFound)
	}
	if terminating && !inTeardown {
		return ExecTarget{}, fmt.Errorf("pod %s is terminating: %w", key, ErrNotRunning)
	}
	c, err := pickContainer(rec.Pod, ctr)
	if err != nil {
		return ExecTarget{}, err
	}
	cl := infra.NewClient(l.Socket())
	st, err := cl.Status(ctx)
	if err != nil {
		return ExecTarget{}, fmt.Errorf("pod %s: %w", key, err)
	}
	podPID, err := runningPID(st, key, c.Name)
	if err != nil {
		return ExecTarget{}, err
	}
	env, err := cl.Env(ctx, c.Name)
	if err != nil && !errors.Is(err, infra.ErrUnsupported) {
		return ExecTarget{}, fmt.Errorf("pod %s: %w", key, err)
	}
	cfg, err := m.execConfig(rec, l, c, env)
	if err != nil {
		return ExecTarget{}, fmt.Errorf("pod %s container %s: %w", key, c.Name, err)
	}
	procs, err := m.containerProcs(id, c)
	if err != nil {
		return ExecTarget{}, fmt.Errorf("pod %s container %s: %w", key, c.Name, err)
	}
	pid, start, err := hostPID(procs[0], rec.InfraPID, podPID)
	if err != nil {
		return ExecTarget{}, fmt.Errorf("pod %s container %s: find its process on the host: %w", key, c.Name, err)
	}
	return execTarget(key, c.Name, pid, start, procs, cfg), nil
}

// execConfig recomputes the container's init config from the record and
// the image it runs, with env, the environment the container was started
// with. A nil env (an infra too old to tell) is recomputed from the
// namespace's current ConfigMaps and Secrets.
func (m *Manager) execConfig(rec *record, l Layout, c *manifests.Container, env []string) (container.Config, error) {
	img, err := m.imageOf(rec, c)
	if err != nil {
		return container.Config{}, err
	}
	if env == nil {
		if env, err = rec.env(c, img, m.objects(rec.Pod.Namespace), m.nodeName, m.cfg.Node); err != nil {
			return container.Config{}, err
		}
	}
	return m.containerConfig(ContainerInput{Pod: rec.Pod, Container: c, Image: img, Env: env, Layout: l, OOMScoreAdj: m.oomScoreAdj(rec.Pod, c)})
}

// imageOf returns the image container c of a created pod runs: the one
// recorded at its create (a record from before images were recorded names
// none, and the spec's reference stands in).
func (m *Manager) imageOf(rec *record, c *manifests.Container) (images.Image, error) {
	ref := rec.ImageIDs[c.Name]
	if ref == "" {
		ref = c.Image
	}
	img, err := m.cfg.Images.Get(ref)
	if err != nil {
		return images.Image{}, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

// containerProcs returns the cgroup.procs files of the container's cgroup.
// EnsureContainer is idempotent: it writes the limits the container
// already has, computed from the same spec.
func (m *Manager) containerProcs(id string, c *manifests.Container) ([]string, error) {
	r, err := Resources(c)
	if err != nil {
		return nil, err
	}
	pl, err := m.cfg.Cgroups.EnsureContainer(KernelID(id), c.Name, r)
	if err != nil {
		return nil, err
	}
	return placementProcs(pl), nil
}

// placementProcs lists the cgroup.procs files a process writes itself into
// to join a placement: every v1 hierarchy's, or the v2 cgroup's.
func placementProcs(pl cgroups.Placement) []string {
	if pl.Dir != "" {
		return []string{filepath.Join(pl.Dir, "cgroup.procs")}
	}
	return pl.Procs
}

// pickContainer finds container name (an init container too) in the pod;
// "" is accepted when the pod has exactly one container.
func pickContainer(p *manifests.Pod, name string) (*manifests.Container, error) {
	key := p.Namespace + "/" + p.Name
	if name == "" {
		if len(p.Spec.Containers) == 1 {
			return &p.Spec.Containers[0], nil
		}
		names := make([]string, len(p.Spec.Containers))
		for i, c := range p.Spec.Containers {
			names[i] = c.Name
		}
		return nil, fmt.Errorf("pod %s has %d containers (%s): name one with -c", key, len(names), strings.Join(names, ", "))
	}
	for _, c := range allContainers(p) {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("container %s not found in pod %s: %w", name, key, ErrNotFound)
}

// runningPID returns the PID (in the infra's pid namespace) of container
// name, or an error wrapping ErrNotRunning saying why it does not run.
func runningPID(st infra.PodStatus, key, name string) (int, error) {
	all := append(append([]infra.ContainerStatus{}, st.InitContainers...), st.Containers...)
	for _, cs := range all {
		if cs.Name != name {
			continue
		}
		if cs.State.Running != nil && cs.PID > 0 {
			return cs.PID, nil
		}
		why := "not started"
		switch s := cs.State; {
		case s.Terminated != nil:
			why = fmt.Sprintf("terminated (%s, exit code %d)", s.Terminated.Reason, s.Terminated.ExitCode)
		case s.Waiting != nil && s.Waiting.Reason != "":
			why = "waiting (" + s.Waiting.Reason + ")"
		}
		return 0, fmt.Errorf("container %s of pod %s is %s: %w", name, key, why, ErrNotRunning)
	}
	return 0, fmt.Errorf("container %s of pod %s has not been started: %w", name, key, ErrNotRunning)
}

// execTarget assembles the answer from the container's init config.
func execTarget(key, ctr string, pid int, start uint64, procs []string, cfg container.Config) ExecTarget {
	return ExecTarget{Pod: key, Container: ctr, PID: pid, StartTime: start, CgroupProcs: procs, Process: cfg.Process}
}

// matchNSpid picks, among the processes of a cgroup (host PID -> the
// NSpid list of /proc/PID/status, outermost first), the one whose PID at
// the infra's pid-namespace level is podPID. infraLevel is the index of
// that level: len(NSpid of the infra)-1, 0 when the infra runs in the
// host's pid namespace, 1 when it is PID 1 of a shared pod namespace.
func matchNSpid(procs map[int][]int, infraLevel, podPID int) (int, bool) {
	for host, nspid := range procs {
		if infraLevel < len(nspid) && nspid[infraLevel] == podPID {
			return host, true
		}
	}
	return 0, false
}

// parseNSpid reads the NSpid line of /proc/PID/status.
func parseNSpid(status string) ([]int, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "NSpid:")
		if !ok {
			continue
		}
		var out []int
		for _, f := range strings.Fields(rest) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("NSpid field %q: %w", f, err)
			}
			out = append(out, n)
		}
		if len(out) == 0 {
			return nil, errors.New("empty NSpid line")
		}
		return out, nil
	}
	return nil, errors.New("no NSpid line")
}
