package pod

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/netsetup"
	"github.com/berth-project/berth/reconciler"
	"github.com/berth-project/berth/seccomp"
	"github.com/berth-project/berth/volumes"
)

var _ reconciler.Runtime = (*Manager)(nil)

// Config wires a Manager to the host.
type Config struct {
	StateDir, RunDir, LogDir string
	// LogMaxSize and LogMaxFiles rotate container logs (infra.PodConfig).
	LogMaxSize  int64
	LogMaxFiles int
	// Exe is the sealed berth binary the infra runs from.
	Exe    string
	Images Images
	// Pull, when set, gives containers their images by imagePullPolicy
	// and pulls missing ones in the background; without it a container
	// only runs an image the store has.
	Pull    ImageSource
	Cgroups Cgroups
	Net     Network
	// Volumes, Infra and Processes are the host's (package volumes,
	// infra.Launch and its client, the process table) when nil.
	Volumes   Volumes
	Infra     Infra
	Processes Processes
	Backoff   infra.BackoffConfig
	// MemoryCapacity is the host's memory in bytes, which a Burstable
	// container's oom_score_adj is relative to.
	MemoryCapacity int64
	// Node is the node's allocatable resources, which resourceFieldRef
	// reads for a limit a container does not set.
	Node downward.Node
	// TimingEvents records each pod's start breakdown (the "pod created"
	// log line) as an event too, for `berth describe` and `get events`.
	TimingEvents bool
	// NoPivot roots containers by a move and chroot instead of pivot_root
	// (container.Config.NoPivot): the host's root is the initial ramfs.
	NoPivot bool
	// Objects returns the ConfigMaps and Secrets of a namespace, from the
	// manifest directory.
	Objects func(namespace string) Objects
	// ExecProbe runs an exec probe's command in a container, as `berth
	// exec` does, and returns its exit status and output; the process is
	// killed when ctx ends. Without it, exec probes cannot run.
	ExecProbe func(ctx context.Context, t ExecTarget, cmd []string) (exitCode int, output []byte, err error)
	// ExecHook runs a lifecycle hook's command as ExecProbe runs a probe's.
	// Without it, exec hooks cannot run.
	ExecHook func(ctx context.Context, t ExecTarget, cmd []string) (exitCode int, output []byte, err error)
	// Event records something that happened to a pod.
	Event func(Event)
	// InfraExited is called when a pod's infra process exits (removed,
	// or died: the daemon asks for a reconcile pass, which makes a dead
	// pod again).
	InfraExited func()
	// ProbeRun is told of every probe run.
	ProbeRun func(ProbeRun)
	Log      *slog.Logger
}

// Manager creates, observes and removes pods.
type Manager struct {
	cfg Config
	mu  sync.Mutex
	// pods are the pods that exist (created, or adopted after a restart).
	pods map[string]*entry
	// failed are pods whose last create failed, with the reason, so that
	// status can show why they do not run.
	failed map[string]failure
	// creating are pods whose creation is under way (ContainerCreating).
	creating map[string]creation
	// held are pods the planner keeps from starting (rollout.go).
	held map[string]hold
	// carried are what pods Recover found dead left to the pods their
	// manifests make again (restarted.go).
	carried map[string]*carried
	// seccomp compiles containers' filters, once per profile and set of
	// capabilities.
	seccomp *seccomp.Compiler
	// nodeName is the host's name, spec.nodeName in containers' env.
	nodeName string
}

// creation is a pod being created.
type creation struct {
	pod  *manifests.Pod
	file string
	at   time.Time
}

type entry struct {
	rec         *record
	layout      Layout
	terminating bool
	// vol and env are the last refreshes of the pod's volumes and of its
	// containers' environment from ConfigMaps and Secrets (Refresh).
	vol, env refreshState
	// files are the hostPath files of a pod with berth.io/restart-on-change:
	// hostpaths, as Refresh last saw them.
	files map[string]fileState
	// probes runs the pod's probes; nil when it has none.
	probes *prober
	// probesPending: the pod has probes and startProbes has not yet tried
	// to start them (right after its create or recovery, or while an
	// update restarts them); its probed containers show neither started
	// nor ready meanwhile (podState.probeStatuses). hooksPending is the
	// same for its postStart hooks and startHooks: a container with one
	// shows as created, not running, meanwhile (podState.postStartRuns).
	probesPending, hooksPending bool
	// ended is the final status of a pod whose infra died under
	// restartPolicy Never (infradeath.go): nothing of it is left on the
	// host, and it is not made again.
	ended *infra.PodStatus
	// reapRetry is the back-off before the teardown of a pod whose infra
	// died is tried again, after it failed.
	reapRetry time.Duration
	// removeRetry is the back-off before the teardown of a pod whose
	// removal failed is tried again (removal.go), removeAt when; removing
	// says a try is under way.
	removeRetry time.Duration
	removeAt    time.Time
	removing    bool
	// hooks runs the pod's lifecycle hooks; nil when it has none.
	hooks *hooker
	// cached is the status the pod's infra pushed last on its watch,
	// or answered to the create's Start until the watch's first push;
	// nil when there is none to trust (statuscache.go); unwatch ends the
	// watch.
	cached  *infra.PodStatus
	unwatch func()
	// feed hands what the watch receives to the prober and the hooker.
	feed statusFeed
}

// NewManager returns a Manager; call Recover before the first reconcile.
func NewManager(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Event == nil {
		cfg.Event = func(Event) {}
	}
	if cfg.InfraExited == nil {
		cfg.InfraExited = func() {}
	}
	if cfg.ProbeRun == nil {
		cfg.ProbeRun = func(ProbeRun) {}
	}
	if cfg.Volumes == nil {
		cfg.Volumes = hostVolumes{}
	}
	if cfg.Infra == nil {
		cfg.Infra = hostInfra{}
	}
	if cfg.Processes == nil {
		cfg.Processes = hostProcesses{}
	}
	node, _ := os.Hostname()
	return &Manager{
		cfg: cfg, pods: map[string]*entry{}, failed: map[string]failure{}, creating: map[string]creation{}, held: map[string]hold{}, carried: map[string]*carried{},
		seccomp:  seccomp.NewCompiler(filepath.Join(cfg.StateDir, "seccomp")),
		nodeName: node,
	}
}

// ListPods implements reconciler.Runtime. A pod whose infra died is
// removed first and not listed, so the pass makes it again (reapDead); a
// pod whose removal failed is torn down again once its back-off has
// passed (retryRemovals).
func (m *Manager) ListPods(ctx context.Context) ([]reconciler.Observed, error) {
	m.reapDead(ctx)
	m.retryRemovals(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]reconciler.Observed, 0, len(m.pods))
	for _, e := range m.pods {
		p := e.rec.Pod
		out = append(out, reconciler.Observed{
			Key: reconciler.PodKey{Namespace: p.Namespace, Name: p.Name},
			UID: e.rec.UID, File: e.rec.File, Pod: p, Terminating: e.terminating,
			Rollout: observedRollout(e.rec),
		})
	}
	out = append(out, m.failedTrials()...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out, nil
}

// rolledBack records a Replace that returned the pod to its last good
// spec.
func (m *Manager) rolledBack(a reconciler.Action) {
	if a.Rollback != "" {
		m.event(a.Desired.Pod, "", kube.EventWarning, kube.ReasonRolledBack,
			fmt.Sprintf("Returned to the last good spec from %s: %s", a.Desired.File, a.Rollback))
	}
}

// Apply implements reconciler.Runtime.
func (m *Manager) Apply(ctx context.Context, a reconciler.Action) error {
	switch a.Kind {
	case reconciler.Create:
		return m.create(ctx, a.Desired, createRollout(a))
	case reconciler.Delete:
		return m.remove(ctx, a.Observed)
	case reconciler.Replace:
		next := nextRollout(a)
		if !a.Change.Replaces() {
			err := m.update(ctx, a, next)
			if err == nil {
				m.rolledBack(a)
			}
			if !errors.Is(err, errReplace) {
				return err
			}
		}
		if err := m.remove(ctx, a.Observed); err != nil {
			return err
		}
		if err := m.create(ctx, a.Desired, next); err != nil {
			return err
		}
		m.rolledBack(a)
		return nil
	case reconciler.UpdateMetadata:
		return m.updateMetadata(a.Desired)
	case reconciler.Hold:
		m.hold(a)
		return nil
	case reconciler.Accept:
		return m.accept(a)
	}
	return fmt.Errorf("unknown action %v", a)
}

func (m *Manager) layout(p *manifests.Pod, uid string) Layout {
	return NewLayout(m.cfg.StateDir, m.cfg.RunDir, m.cfg.LogDir, p.Namespace, p.Name, uid)
}

// create runs every step of a pod's creation; on failure every step begun
// is undone, last first, and the failure is kept for status. ro is the
// gate's state the pod's record starts with.
func (m *Manager) create(ctx context.Context, d *reconciler.Desired, ro rollout) error {
	p := d.Pod
	id := podid.ID(p.Namespace, p.Name)
	t := newPhaseTimer(m.cfg.Log, key(p))
	t.seen(d.Seen, d.Parsed)
	uid := newUID()
	cr := m.carriedFor(id, p)
	if cr != nil {
		uid = cr.uid
	} else if err := m.dropCarried(id, false); err != nil {
		m.cfg.Log.Warn("remove the logs of the pod's previous spec", "pod", key(p), "err", err)
	}
	l := m.layout(p, uid)
	rec := &record{UID: uid, File: d.File, Pod: p, Created: time.Now().UTC(), HostIP: m.hostIP(), Rollout: ro}
	if ro.Trial && ro.Since.IsZero() {
		rec.Rollout.Since = rec.Created
	}
	m.mu.Lock()
	delete(m.held, id)
	m.creating[id] = creation{pod: p, file: d.File, at: rec.Created}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.creating, id)
		m.mu.Unlock()
	}()
	c := &podRun{id: id, rec: rec, l: l, carried: cr, keepLogs: cr != nil}
	r := newRunner(t)
	if err := r.run(ctx, m.createSteps(c)); err != nil {
		if uerr := r.rollback(ctx); uerr != nil {
			m.cfg.Log.Error("clean up after failed create", "pod", key(p), "err", uerr)
		}
		m.setFailed(p, d.File, rec.Rollout, err)
		return fmt.Errorf("create pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	m.mu.Lock()
	// The volumes and environment were made from c.objs: Refresh has
	// nothing to do until one of those documents changes.
	e := &entry{rec: rec, layout: l, cached: startReplyStatus(c.status), probesPending: hasProbes(p), hooksPending: hasHooks(p),
		vol: refreshState{refs: volumeRefs(p, c.objs)}, env: refreshState{refs: envRefs(p, c.objs)}}
	m.pods[id] = e
	delete(m.failed, id)
	m.mu.Unlock()
	if cr != nil {
		m.dropCarried(id, true)
	}
	// Hooks first: the probes of a run wait for its postStart hook.
	m.startHooks(id, e)
	m.startProbes(id, e)
	m.watchInfra(e)
	t.containers(c.status)
	t.done()
	m.event(p, "", kube.EventNormal, kube.EventCreated, "Created pod from "+d.File)
	if m.cfg.TimingEvents {
		m.event(p, "", kube.EventNormal, kube.EventStartTimings, t.summary())
	}
	return nil
}

// podRun is one pod as its steps see it: who it is, and what the steps
// made so far. A teardown knows only the first part (rec is nil when the
// pod's record is unreadable).
type podRun struct {
	id  string
	rec *record
	l   Layout
	// grace is what the containers get to stop before they are killed.
	grace time.Duration

	objs           Objects
	imgs           map[string]images.Image
	volImgs        map[string]images.Image // image volumes' images, by volume name
	vols           volumes.Set
	cg             podCgroups
	la             Launching
	initCtrs, ctrs []infra.ContainerConfig
	net            netsetup.PodNet
	status         infra.PodStatus
	// stopped: the infra stopped the containers and can be asked to exit.
	stopped bool
	// carried is what a dead predecessor left (restarted.go); keepLogs
	// spares the log directory in the undo of dirs, for it.
	carried  *carried
	keepLogs bool
}

// createSteps is a pod's creation, one short idempotent step each
// (docs/design.md, "Steps are idempotent"), with the undo of each; read
// backwards it is the pod's teardown, in kubelet's order: containers stop
// within the grace period, the network goes while the netns still exists
// (deleting the veth synchronously, so that a replacement pod can reuse
// its name at once), then the infra exits and the cgroups, volumes and
// directories are removed. The record comes first and goes last, with its
// directory, so that a crash at any point leaves the pod for Recover to
// find and finish.
//
// Steps that need nothing of each other run in lanes, side by side: the
// pod's cgroups are made while its directories and volumes are; the
// network is set up, the containers' cgroups and configs made, and the
// Start sent, while the infra finishes its start (its net namespace exists
// from the clone, only its own cgroup must exist before it, the pod's
// removal removes the containers' with it, and the Start waits on the
// control socket until the infra serves it); the record names the infra
// once it is ready and the network is set up, while the containers start
// (a crash in between leaves a record without it: a half-made pod, which
// Recover removes, containers and all, by the pod's cgroups).
func (m *Manager) createSteps(c *podRun) []step {
	// The record names the pod's IP as well as its infra: its step waits
	// for the network's, in the other lane.
	networked := make(chan error, 1)
	return []step{
		{name: "images", phase: "images", do: func(context.Context) error { return m.resolveImages(c) }},
		{name: "ports", phase: "images", do: func(context.Context) error { return m.checkPorts(c) }},
		{name: "record",
			do:   func(context.Context) error { return createRecord(c.l.State, c.rec) },
			undo: func(context.Context) error { return m.removeRecord(c) }},
		{name: "dirs+cgroups", phase: "cgroups", lanes: [][]step{
			{
				{name: "dirs", phase: "volumes",
					do:   func(context.Context) error { return makeDirs(c.l, c.rec.Pod) },
					undo: func(context.Context) error { return removeDirs(c.l, c.keepLogs) }},
				{name: "volumes", phase: "volumes",
					do:   func(context.Context) error { return m.prepareVolumes(c) },
					undo: func(context.Context) error { return m.removeVolumes(c) }},
			},
			{{name: "cgroups",
				do:   func(context.Context) error { return m.ensureCgroups(c) },
				undo: func(context.Context) error { return m.removeCgroups(c) }}},
		}},
		{name: "infra", phase: "infra",
			do:   func(context.Context) error { return m.launchInfra(c) },
			undo: func(ctx context.Context) error { return m.stopInfra(ctx, c) }},
		{name: "network+ready", lanes: [][]step{
			{
				{name: "network", phase: "network",
					do: func(context.Context) error {
						err := m.setupNetwork(c)
						networked <- err
						return err
					},
					undo:    func(context.Context) error { return m.teardownNetwork(c) },
					details: c.networkTimings},
				{name: "container cgroups", phase: "configs", do: func(context.Context) error { return m.ensureContainerCgroups(c) }},
				{name: "configs", phase: "configs", do: func(context.Context) error { return m.prepareContainers(c) }},
				{name: "containers", phase: "containers",
					do:   func(ctx context.Context) error { return m.startContainers(ctx, c) },
					undo: func(ctx context.Context) error { return m.stopContainers(ctx, c) }},
			},
			{
				{name: "infra-wait", do: func(context.Context) error { return m.waitInfra(c) }},
				{name: "infra-ready", do: func(context.Context) error {
					if <-networked != nil {
						return nil // the network's lane fails the create
					}
					return writeRecord(c.l.State, c.rec)
				}},
			},
		}},
	}
}

// checkPorts refuses a pod whose host port another pod holds before
// anything of it is made, on each retry; setupNetwork checks again,
// atomically with the claim.
func (m *Manager) checkPorts(c *podRun) error {
	p := c.rec.Pod
	if p.Spec.HostNetwork {
		return nil
	}
	if err := m.cfg.Net.CheckPorts(podid.KernelID(c.id), portMappings(p)); err != nil {
		return fmt.Errorf("set up network: %w", err)
	}
	return nil
}

// createRecord makes the pod's state directory and writes its record
// first: from then on, whatever a crash leaves of the pod, Recover finds
// it by its record.
func createRecord(dir string, rec *record) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return writeRecord(dir, rec)
}

// removeRecord removes the pod's state directory with its record,
// unmounting anything still mounted below it.
func (m *Manager) removeRecord(c *podRun) error {
	if err := m.cfg.Volumes.Cleanup(c.l.State); err != nil {
		return fmt.Errorf("clean up volumes: %w", err)
	}
	return nil
}

// removeDirs removes the pod's runtime directory and, unless keepLogs,
// its logs; the rest is in its state directory (removeRecord).
func removeDirs(l Layout, keepLogs bool) error {
	var errs []error
	for _, d := range []string{l.Run, l.Logs} {
		if d == "" || keepLogs && d == l.Logs {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) prepareVolumes(c *podRun) error {
	p := c.rec.Pod
	c.objs = m.objects(p.Namespace)
	var err error
	if c.vols, err = m.cfg.Volumes.Prepare(c.l.VolumesDir(), p, c.objs.ConfigMaps, c.objs.Secrets, c.rec.UID, m.cfg.Node); err != nil {
		return fmt.Errorf("prepare volumes: %w", err)
	}
	for _, v := range p.Spec.Volumes {
		if v.Image == nil {
			continue
		}
		if c.vols[v.Name], err = m.cfg.Volumes.MountImage(c.l.VolumesDir(), v.Name, c.volImgs[v.Name].Layers); err != nil {
			return fmt.Errorf("prepare volumes: %w", err)
		}
	}
	return m.prepareClaims(c)
}

func (m *Manager) removeVolumes(c *podRun) error {
	if err := m.cfg.Volumes.Cleanup(c.l.VolumesDir()); err != nil {
		return fmt.Errorf("clean up volumes: %w", err)
	}
	return nil
}

func (m *Manager) removeCgroups(c *podRun) error {
	var errs []error
	if err := m.cfg.Cgroups.Kill(podid.KernelID(c.id)); err != nil {
		errs = append(errs, fmt.Errorf("kill cgroup: %w", err))
	}
	if err := m.cfg.Cgroups.Remove(podid.KernelID(c.id)); err != nil {
		errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
	}
	return errors.Join(errs...)
}

// launchInfra clones the infra and returns: sending its config and reading
// its ready record (waitInfra) go on in the background. On v2 it is cloned
// into its cgroup; on v1 it joins its cgroups itself, before it starts the
// containers, so the daemon never moves a process (see infra.Launch).
func (m *Manager) launchInfra(c *podRun) error {
	cfg := m.infraConfig(c.rec, c.l)
	cfg.CgroupProcs = c.cg.infra.Procs
	la, err := m.cfg.Infra.Launch(cfg, infra.LaunchOptions{Exe: m.cfg.Exe, CgroupDir: c.cg.infra.Dir})
	if err != nil {
		return fmt.Errorf("start infra: %w", err)
	}
	c.la = la
	return nil
}

// waitInfra waits for the infra's ready record and notes which process
// it is. A failed start killed and reaped it.
func (m *Manager) waitInfra(c *podRun) error {
	la := c.la
	if err := la.Wait(); err != nil {
		return fmt.Errorf("start infra: %w", err)
	}
	// Reap our child when it exits (after a restart init does).
	go la.Reap()
	c.rec.InfraPID = la.Pid()
	var err error
	if c.rec.InfraStart, err = m.cfg.Processes.StartTime(la.Pid()); err != nil {
		return fmt.Errorf("read infra start time: %w", err)
	}
	return nil
}

// infraAlive reports whether the pod's infra, as its record names it,
// still runs.
func (m *Manager) infraAlive(c *podRun) bool {
	return c.rec != nil && m.cfg.Processes.Alive(c.rec.InfraPID, c.rec.InfraStart)
}

// stopInfra makes the infra exit: asked to when it stopped its containers,
// killed otherwise, and waits for it.
func (m *Manager) stopInfra(ctx context.Context, c *podRun) error {
	if !m.infraAlive(c) {
		return nil
	}
	pid, start := c.rec.InfraPID, c.rec.InfraStart
	var errs []error
	if !c.stopped || m.cfg.Infra.Shutdown(ctx, c.l.Socket()) != nil {
		errs = append(errs, m.cfg.Processes.Kill(pid, start))
	}
	if err := m.cfg.Processes.WaitExit(pid, start, 10*time.Second); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// startContainers is one exchange: a failure to reach the infra shows as
// Start's error, and an infra that did not start as its launch's. The
// request goes as soon as the configs are made, while the infra finishes
// its start, and waits on its socket until it serves. The infra answers
// once the first starts are recorded or after infra.StartReplyWait: a
// container whose init stage hangs holds neither this create nor the
// reconcile pass (it shows as CreateContainerError when the infra gives up
// on it).
func (m *Manager) startContainers(ctx context.Context, c *podRun) error {
	st, err := m.cfg.Infra.Start(ctx, c.l.Socket(), c.la.Wait, c.initCtrs, c.ctrs)
	if err != nil && c.la.Wait() != nil {
		// The infra did not start: infra-wait, beside, says why, once.
		return nil
	}
	if err != nil {
		return fmt.Errorf("start containers: %w", err)
	}
	c.status = st
	return nil
}

// stopContainers asks the infra to stop its containers: SIGTERM, then
// SIGKILL after the grace period (the call's deadline is the grace period
// plus infra.CallTimeout). An infra that does not answer is killed with
// its pod (stopInfra, and the cgroup's kill).
func (m *Manager) stopContainers(ctx context.Context, c *podRun) error {
	if !m.infraAlive(c) {
		return nil
	}
	if err := m.cfg.Infra.Stop(ctx, c.l.Socket(), c.grace); err != nil {
		m.cfg.Log.Warn("infra did not stop its containers; killing the pod", "pod", key(c.rec.Pod), "pid", c.rec.InfraPID, "err", err)
		return nil
	}
	c.stopped = true
	return nil
}

// prepareContainers writes the pod's /etc files and computes what the infra
// runs for each container; both need the pod's IP.
func (m *Manager) prepareContainers(c *podRun) error {
	p := c.rec.Pod
	warnings, err := writeEtcFiles(c.l, p, c.rec.IP)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		m.event(p, "", kube.EventWarning, kube.EventDNSConfigForming, w)
	}
	c.initCtrs, c.ctrs, err = m.containerConfigs(c.rec, c.l, c.imgs, c.vols, c.objs, c.cg)
	if err != nil {
		return err
	}
	if c.carried != nil {
		c.carried.apply(c.initCtrs)
		c.carried.apply(c.ctrs)
	}
	return writeFilterFiles(c.l, c.initCtrs, c.ctrs)
}

func (m *Manager) objects(ns string) Objects {
	if m.cfg.Objects == nil {
		return Objects{}
	}
	return m.cfg.Objects(ns)
}

// resolveImages finds every container's image and records its ID. With
// Config.Pull it may start a pull and fail with its reason, before
// anything of the pod is made: the pod is created again once the pull
// is done.
func (m *Manager) resolveImages(c *podRun) error {
	p := c.rec.Pod
	c.imgs = map[string]images.Image{}
	c.rec.ImageIDs = map[string]string{}
	for _, ctr := range allContainers(p) {
		img, ok := c.imgs[ctr.Image]
		if !ok {
			var err error
			if img, err = m.image(p, ctr); err != nil {
				return &imageError{container: ctr.Name, image: ctr.Image, err: err}
			}
			c.imgs[ctr.Image] = img
		}
		c.rec.ImageIDs[ctr.Name] = img.ID
	}
	return m.resolveVolumeImages(c)
}

// resolveVolumeImages finds every image volume's image, by the volume's
// pullPolicy, and records its ID, so that image garbage collection spares
// it while the pod exists.
func (m *Manager) resolveVolumeImages(c *podRun) error {
	p := c.rec.Pod
	c.volImgs = map[string]images.Image{}
	c.rec.VolumeImageIDs = nil
	for _, v := range p.Spec.Volumes {
		if v.Image == nil {
			continue
		}
		img, err := m.volumeImage(p, v.Image)
		if err != nil {
			return &imageError{volume: v.Name, image: v.Image.Reference, err: err}
		}
		c.volImgs[v.Name] = img
		if c.rec.VolumeImageIDs == nil {
			c.rec.VolumeImageIDs = map[string]string{}
		}
		c.rec.VolumeImageIDs[v.Name] = img.ID
	}
	return nil
}

// imageError is an image a container or an image volume cannot have
// (yet).
type imageError struct {
	container, volume, image string
	err                      error
}

func (e *imageError) Error() string {
	who := "container " + e.container
	if e.volume != "" {
		who = "volume " + e.volume
	}
	if _, ok := pullReason(e.err); ok {
		return fmt.Sprintf("%s: %v", who, e.err)
	}
	if !errors.Is(e.err, images.ErrNotFound) {
		// The store could not be read (out of fds, a broken disk): saying
		// the image is missing would send the user to import it again.
		return fmt.Sprintf("%s: image %q: read the local store: %v", who, e.image, e.err)
	}
	return fmt.Sprintf("%s: image %q is not in the local store: import it with `berth image import` (%v)", who, e.image, e.err)
}

func (e *imageError) Unwrap() error { return e.err }

// makeDirs creates the pod's directories, and each container's overlay
// upper, work and mount-point directories.
func makeDirs(l Layout, p *manifests.Pod) error {
	dirs := []string{l.State, l.EtcDir(), l.Run}
	for _, c := range allContainers(p) {
		d := l.ContainerDir(c.Name)
		dirs = append(dirs, filepath.Join(d, "upper"), filepath.Join(d, "work"), filepath.Join(d, "rootfs"))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	// The root of an overlay mount takes the upper dir's mode: 0755, as an
	// image's root is, or a non-root user could not enter "/". The pod's
	// state dir above stays 0700.
	for _, c := range allContainers(p) {
		upper := filepath.Join(l.ContainerDir(c.Name), "upper")
		if err := os.Chmod(upper, 0o755); err != nil {
			return fmt.Errorf("chmod %s: %w", upper, err)
		}
	}
	if err := os.MkdirAll(l.Logs, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", l.Logs, err)
	}
	return nil
}

func (m *Manager) infraConfig(rec *record, l Layout) infra.PodConfig {
	p := rec.Pod
	host := Hostname(p)
	return infra.PodConfig{
		Key:           p.Namespace + "/" + p.Name,
		UID:           rec.UID,
		Hostname:      host,
		Socket:        l.Socket(),
		LogDir:        l.Logs,
		LogMaxSize:    m.cfg.LogMaxSize,
		LogMaxFiles:   m.cfg.LogMaxFiles,
		HostNetwork:   p.Spec.HostNetwork,
		HostIPC:       p.Spec.HostIPC,
		HostPID:       p.Spec.HostPID,
		SharePID:      isTrue(p.Spec.ShareProcessNamespace),
		RestartPolicy: p.Spec.RestartPolicy,
		Backoff:       m.cfg.Backoff,
		GracePeriod:   gracePeriod(p),
		Sysctls:       sysctls(p),
		// Timed by the infra from its Start (status.startTime), so that
		// it holds while the daemon is down or restarts.
		ActiveDeadline: activeDeadline(p),
	}
}

// activeDeadline is the pod's spec.activeDeadlineSeconds, 0 for none.
func activeDeadline(p *manifests.Pod) time.Duration {
	if d := p.Spec.ActiveDeadlineSeconds; d != nil {
		return time.Duration(*d) * time.Second
	}
	return 0
}

// sysctls are the pod's securityContext.sysctls as the infra writes them.
func sysctls(p *manifests.Pod) []infra.Sysctl {
	if p.Spec.SecurityContext == nil {
		return nil
	}
	var out []infra.Sysctl
	for _, s := range p.Spec.SecurityContext.Sysctls {
		name := manifests.NormalizeSysctlName(s.Name)
		ns, _ := manifests.SysctlNamespace(name) // validation refused the others
		out = append(out, infra.Sysctl{Name: name, Path: manifests.SysctlPath(s.Name), Value: s.Value, Namespace: ns})
	}
	return out
}

// setupNetwork leases the pod's IP, installs its hostPort rules and wires
// its net namespace, which exists from the infra's clone.
func (m *Manager) setupNetwork(c *podRun) error {
	p := c.rec.Pod
	if p.Spec.HostNetwork {
		return nil
	}
	pn, err := m.cfg.Net.Setup(podid.KernelID(c.id), fmt.Sprintf("/proc/%d/ns/net", c.la.Pid()), portMappings(p))
	if err != nil {
		return fmt.Errorf("set up network: %w", err)
	}
	c.net = pn
	c.rec.IP = pn.IP.String()
	return nil
}

// networkTimings breaks the network phase down: the IP lease (with the
// hostPort rules) and the link set-up.
func (c *podRun) networkTimings() []slog.Attr {
	if c.rec.Pod.Spec.HostNetwork {
		return nil
	}
	return []slog.Attr{slog.Duration("net_ipam", c.net.IPAM), slog.Duration("net_link", c.net.Link)}
}

// teardownNetwork removes the pod's veth, hostPort rules and lease; a host
// network pod has none, and that is not an error.
func (m *Manager) teardownNetwork(c *podRun) error {
	if err := m.cfg.Net.Teardown(podid.KernelID(c.id)); err != nil {
		return fmt.Errorf("tear down network: %w", err)
	}
	return nil
}

func portMappings(p *manifests.Pod) []netsetup.PortMapping {
	var out []netsetup.PortMapping
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			out = append(out, netsetup.PortMapping{
				HostIP: port.HostIP, HostPort: int(port.HostPort),
				ContainerPort: int(port.ContainerPort), Protocol: port.Protocol,
			})
		}
	}
	return out
}

func allContainers(p *manifests.Pod) []*manifests.Container {
	var out []*manifests.Container
	for i := range p.Spec.InitContainers {
		out = append(out, &p.Spec.InitContainers[i])
	}
	for i := range p.Spec.Containers {
		out = append(out, &p.Spec.Containers[i])
	}
	return out
}

func gracePeriod(p *manifests.Pod) time.Duration {
	if g := p.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// remove tears a pod down gracefully: the preStop hooks of its running
// containers run within the pod's grace period, then the containers get
// their stop signal and what remains of it (hooks.go), then everything the
// pod held goes.
func (m *Manager) remove(ctx context.Context, o *reconciler.Observed) error {
	id := podid.ID(o.Key.Namespace, o.Key.Name)
	m.mu.Lock()
	e, ok := m.pods[id]
	if ok {
		e.terminating = true
	}
	m.mu.Unlock()
	if !ok {
		return nil
	}
	m.event(e.rec.Pod, "", kube.EventNormal, kube.EventKilling, "Stopping pod")
	m.stopProbes(e)
	m.stopWatch(e)
	grace, hooksDone := m.stopHooks(ctx, e, gracePeriod(e.rec.Pod))
	err := m.teardown(ctx, id, e.rec, e.layout, grace)
	hooksDone()
	if err != nil {
		m.removalFailed(e)
		return fmt.Errorf("remove pod %s: %w", o.Key, err)
	}
	m.mu.Lock()
	delete(m.pods, id)
	m.mu.Unlock()
	m.event(e.rec.Pod, "", kube.EventNormal, kube.EventDeleted, "Pod removed")
	return nil
}

// teardown removes everything of pod id: the undo of every step of its
// creation, last first (createSteps). It is idempotent and needs no more
// than the pod's identity and layout, so it also cleans up after a crash.
func (m *Manager) teardown(ctx context.Context, id string, rec *record, l Layout, grace time.Duration) error {
	return undoAll(ctx, m.createSteps(&podRun{id: id, rec: rec, l: l, grace: grace}))
}

func (m *Manager) updateMetadata(d *reconciler.Desired) error {
	id := podid.ID(d.Pod.Namespace, d.Pod.Name)
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.pods[id]
	if !ok {
		return nil
	}
	rec := *e.rec
	pod := *rec.Pod
	pod.Labels, pod.Annotations = d.Pod.Labels, d.Pod.Annotations
	rec.Pod, rec.File = &pod, d.File
	if err := writeRecord(e.layout.State, &rec); err != nil {
		return err
	}
	e.rec = &rec
	return nil
}

func (m *Manager) event(p *manifests.Pod, ctr, typ, reason, msg string) {
	m.cfg.Event(Event{
		Time: time.Now().UTC(), Type: typ, Reason: reason,
		Namespace: p.Namespace, Name: p.Name, Container: ctr, Message: msg,
	})
}

func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
