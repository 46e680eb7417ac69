package pod

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
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
	key, id := namespace+"/"+name, podid.ID(namespace, name)
	rc, err := m.runningContainer(ctx, namespace, name, ctr, inTeardown)
	if err != nil {
		return ExecTarget{}, err
	}
	c := rc.ctr
	env, err := rc.client.Env(ctx, c.Name)
	if err != nil && !errors.Is(err, infra.ErrUnsupported) {
		return ExecTarget{}, fmt.Errorf("pod %s: %w", key, err)
	}
	cfg, err := m.execConfig(rc.rec, rc.layout, c, env)
	if err != nil {
		return ExecTarget{}, fmt.Errorf("pod %s container %s: %w", key, c.Name, err)
	}
	procs, err := m.containerProcs(id, c)
	if err != nil {
		return ExecTarget{}, fmt.Errorf("pod %s container %s: %w", key, c.Name, err)
	}
	pid, start, err := hostPID(procs[0], rc.rec.InfraPID, rc.pid)
	if err != nil {
		return ExecTarget{}, fmt.Errorf("pod %s container %s: find its process on the host: %w", key, c.Name, err)
	}
	return execTarget(key, c.Name, pid, start, procs, cfg), nil
}

// runningCtr is a container that runs, as exec and attach find it: its pod's
// record and layout, its spec, its pod's infra and its PID in the pod's
// pid namespace.
type runningCtr struct {
	rec    *record
	layout Layout
	ctr    *manifests.Container
	client *infra.Client
	pid    int
}

// runningContainer finds container ctr of a pod ("" is the pod's only
// container) and checks with the infra that it runs. Errors wrap
// ErrNotFound for an unknown pod or container and ErrNotRunning for a
// container that does not run or a pod that is terminating (unless
// inTeardown: a preStop hook's target).
func (m *Manager) runningContainer(ctx context.Context, namespace, name, ctr string, inTeardown bool) (runningCtr, error) {
	key := namespace + "/" + name
	m.mu.Lock()
	e, ok := m.pods[podid.ID(namespace, name)]
	var rec *record
	var l Layout
	var terminating, ended bool
	if ok {
		rec, l, terminating, ended = e.rec, e.layout, e.terminating, e.ended != nil
	}
	m.mu.Unlock()
	if !ok {
		return runningCtr{}, fmt.Errorf("pod %s not found: %w", key, ErrNotFound)
	}
	if terminating && !inTeardown {
		return runningCtr{}, fmt.Errorf("pod %s is terminating: %w", key, ErrNotRunning)
	}
	if ended {
		return runningCtr{}, fmt.Errorf("pod %s ended when its infra died: %w", key, ErrNotRunning)
	}
	c, err := pickContainer(rec.Pod, ctr)
	if err != nil {
		return runningCtr{}, err
	}
	cl := infra.NewClient(l.Socket())
	st, err := cl.Status(ctx)
	if err != nil {
		return runningCtr{}, fmt.Errorf("pod %s: %w", key, err)
	}
	pid, err := runningPID(st, key, c.Name)
	if err != nil {
		return runningCtr{}, err
	}
	return runningCtr{rec: rec, layout: l, ctr: c, client: cl, pid: pid}, nil
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
	pl, err := m.cfg.Cgroups.EnsureContainer(podid.KernelID(id), c.Name, r)
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

// ErrAttachRefused is wrapped by an attach the container's spec does not
// allow (input without stdin, a terminal without tty).
var ErrAttachRefused = infra.ErrAttachRefused

// Attach opens an attach session to container ctr of a pod ("" is the
// pod's only container) through its infra: the connection carries
// internal/attachio frames until the run ends or the caller closes it.
// stdin and tty ask for input and the container's terminal. Errors wrap
// ErrNotFound, ErrNotRunning, or ErrAttachRefused with what the spec
// lacks.
func (m *Manager) Attach(ctx context.Context, namespace, name, ctr string, stdin, tty bool) (net.Conn, error) {
	key := namespace + "/" + name
	rc, err := m.runningContainer(ctx, namespace, name, ctr, false)
	if err != nil {
		return nil, err
	}
	c := rc.ctr
	conn, err := rc.client.Attach(ctx, c.Name, stdin, tty)
	if errors.Is(err, infra.ErrUnsupported) {
		return nil, fmt.Errorf("pod %s was started by an older berth whose infra cannot attach; it can once the pod is recreated: %w", key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("attach to container %s of pod %s: %w", c.Name, key, err)
	}
	return conn, nil
}
