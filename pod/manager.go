// Package pod runs pods: it turns a reconciler action into the steps that
// create or remove a pod (images, volumes, cgroups, infra, network,
// containers), keeps one record per pod on disk, and on daemon start
// re-attaches to the pods that still run and removes what a crash left.
//
// Decisions (container configs, environment, status) are pure functions in
// plan.go, env.go and status.go; manager.go sequences the side effects.
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

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/procstat"
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
	Exe     string
	Images  *images.Store
	Cgroups *cgroups.Manager
	Net     *netsetup.Network
	Backoff infra.BackoffConfig
	// MemoryCapacity is the host's memory in bytes, which a Burstable
	// container's oom_score_adj is relative to.
	MemoryCapacity int64
	// TimingEvents records each pod's start breakdown (the "pod created"
	// log line) as an event too, for `berth describe` and `get events`.
	TimingEvents bool
	// Objects returns the ConfigMaps and Secrets of a namespace, from the
	// manifest directory.
	Objects func(namespace string) Objects
	// Event records something that happened to a pod.
	Event func(api.Event)
	Log   *slog.Logger

	// Pull, when set, gives containers their images by imagePullPolicy
	// and pulls missing ones (registry.Resolver); without it a container
	// only runs an image the store has.
	Pull ImageSource
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
	// seccomp compiles containers' filters, once per profile and set of
	// capabilities.
	seccomp *seccomp.Compiler
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
}

type failure struct {
	pod     *manifests.Pod
	file    string
	reason  string
	message string
	at      time.Time
}

// NewManager returns a Manager; call Recover before the first reconcile.
func NewManager(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Event == nil {
		cfg.Event = func(api.Event) {}
	}
	return &Manager{
		cfg: cfg, pods: map[string]*entry{}, failed: map[string]failure{}, creating: map[string]creation{},
		seccomp: seccomp.NewCompiler(filepath.Join(cfg.StateDir, "seccomp")),
	}
}

// ListPods implements reconciler.Runtime.
func (m *Manager) ListPods(context.Context) ([]reconciler.Observed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]reconciler.Observed, 0, len(m.pods))
	for _, e := range m.pods {
		p := e.rec.Pod
		out = append(out, reconciler.Observed{
			Key: reconciler.PodKey{Namespace: p.Namespace, Name: p.Name},
			UID: e.rec.UID, File: e.rec.File, Pod: p, Terminating: e.terminating,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out, nil
}

// Apply implements reconciler.Runtime.
func (m *Manager) Apply(ctx context.Context, a reconciler.Action) error {
	switch a.Kind {
	case reconciler.Create:
		return m.create(ctx, a.Desired)
	case reconciler.Delete:
		return m.remove(ctx, a.Observed)
	case reconciler.Replace:
		if err := m.remove(ctx, a.Observed); err != nil {
			return err
		}
		return m.create(ctx, a.Desired)
	case reconciler.UpdateMetadata:
		return m.updateMetadata(a.Desired)
	}
	return fmt.Errorf("unknown action %v", a)
}

func (m *Manager) layout(p *manifests.Pod, uid string) Layout {
	return NewLayout(m.cfg.StateDir, m.cfg.RunDir, m.cfg.LogDir, p.Namespace, p.Name, uid)
}

// create runs every step of a pod's creation; on failure everything made so
// far is removed (teardown is idempotent and keyed by the pod's identity) and
// the failure is kept for status.
func (m *Manager) create(ctx context.Context, d *reconciler.Desired) error {
	p := d.Pod
	id := ID(p.Namespace, p.Name)
	t := newPhaseTimer(m.cfg.Log, id)
	t.seen(d.Seen, d.Parsed)
	uid := newUID()
	l := m.layout(p, uid)
	rec := &record{UID: uid, File: d.File, Pod: p, Created: time.Now().UTC()}
	m.mu.Lock()
	m.creating[id] = creation{pod: p, file: d.File, at: rec.Created}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.creating, id)
		m.mu.Unlock()
	}()
	objs, err := m.build(ctx, rec, l, t)
	if err != nil {
		if terr := m.teardown(ctx, id, rec, l, 0); terr != nil {
			m.cfg.Log.Error("clean up after failed create", "pod", id, "err", terr)
		}
		m.setFailed(p, d.File, err)
		return fmt.Errorf("create pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	m.mu.Lock()
	// The volumes and environment were made from objs: Refresh has
	// nothing to do until one of those documents changes.
	m.pods[id] = &entry{rec: rec, layout: l,
		vol: refreshState{refs: volumeRefs(p, objs)}, env: refreshState{refs: envRefs(p, objs)}}
	delete(m.failed, id)
	m.mu.Unlock()
	t.done()
	m.event(p, "", api.EventNormal, api.EventCreated, "Created pod from "+d.File)
	if m.cfg.TimingEvents {
		m.event(p, "", api.EventNormal, api.EventStartTimings, t.summary())
	}
	return nil
}

// build makes the pod, one short idempotent step each
// (docs/design.md, "Steps are idempotent").
// It returns the ConfigMaps and Secrets it used.
func (m *Manager) build(ctx context.Context, rec *record, l Layout, t *phaseTimer) (Objects, error) {
	p := rec.Pod
	id := ID(p.Namespace, p.Name)
	imgs, err := m.resolveImages(p)
	if err != nil {
		return Objects{}, err
	}
	t.mark("images")
	if !p.Spec.HostNetwork {
		// A pod whose host port another pod holds starts nothing, on each
		// retry; setupNetwork checks again, atomically with the claim.
		if err := m.cfg.Net.CheckPorts(KernelID(id), portMappings(p)); err != nil {
			return Objects{}, fmt.Errorf("set up network: %w", err)
		}
	}
	rec.ImageIDs = map[string]string{}
	for _, c := range allContainers(p) {
		rec.ImageIDs[c.Name] = imgs[c.Image].ID
	}
	if err := makeDirs(l, p); err != nil {
		return Objects{}, err
	}
	if err := writeRecord(l.State, rec); err != nil {
		return Objects{}, err
	}
	objs := m.objects(p.Namespace)
	vols, err := volumes.Prepare(l.VolumesDir(), p, objs.ConfigMaps, objs.Secrets)
	if err != nil {
		return Objects{}, fmt.Errorf("prepare volumes: %w", err)
	}
	t.mark("volumes")
	cg, err := m.ensureCgroups(id, p)
	if err != nil {
		return Objects{}, err
	}
	t.mark("cgroups")
	pcfg := m.infraConfig(rec, l)
	la, err := infra.Launch(pcfg, infra.LaunchOptions{Exe: m.cfg.Exe, CgroupDir: cg.infra.Dir, CgroupProcs: cg.infra.Procs})
	if err != nil {
		return Objects{}, fmt.Errorf("start infra: %w", err)
	}
	t.mark("infra")
	// The infra's net namespace exists from its clone: the network is set
	// up while the infra starts and joins its cgroups.
	netErr := m.setupNetwork(rec, la.Proc.Pid, t)
	t.mark("network")
	var initCtrs, ctrs []infra.ContainerConfig
	var prepErr error
	if netErr == nil {
		initCtrs, ctrs, prepErr = m.prepareContainers(rec, l, imgs, vols, objs, cg)
		t.mark("configs")
	}
	if err := la.Wait(); err != nil {
		return Objects{}, errors.Join(fmt.Errorf("start infra: %w", err), netErr, prepErr)
	}
	go func() {
		// Reap our child when it exits (after a restart init does), but
		// not before its pid was written to its cgroups.
		la.Joined()
		la.Proc.Wait()
	}()
	rec.InfraPID = la.Proc.Pid
	if rec.InfraStart, err = procstat.StartTime(la.Proc.Pid); err != nil {
		return Objects{}, errors.Join(fmt.Errorf("read infra start time: %w", err), netErr, prepErr)
	}
	if err := errors.Join(netErr, prepErr); err != nil {
		return Objects{}, err
	}
	if err := writeRecord(l.State, rec); err != nil {
		return Objects{}, err
	}
	t.mark("infra-ready")
	// One exchange: a failure to reach the infra shows as Start's error.
	// The infra answers once the first starts are recorded or after
	// infra.StartReplyWait: a container whose init stage hangs holds
	// neither this create nor the reconcile pass (it shows as
	// CreateContainerError when the infra gives up on it).
	st, err := infra.NewClient(l.Socket()).Start(ctx, initCtrs, ctrs)
	if err != nil {
		return Objects{}, fmt.Errorf("start containers: %w", err)
	}
	t.mark("containers")
	t.containers(st)
	// Usually long done: the containers' own v1 joins waited for the same
	// grace period.
	if err := la.Joined(); err != nil {
		return Objects{}, fmt.Errorf("move infra into its cgroups: %w", err)
	}
	return objs, nil
}

// prepareContainers writes the pod's /etc files and computes what the infra
// runs for each container; both need the pod's IP.
func (m *Manager) prepareContainers(rec *record, l Layout, imgs map[string]images.Image, vols volumes.Set, objs Objects, cg podCgroups) (initCtrs, ctrs []infra.ContainerConfig, err error) {
	p := rec.Pod
	warnings, err := writeEtcFiles(l, p, rec.IP)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range warnings {
		m.event(p, "", api.EventWarning, api.EventDNSConfigForming, w)
	}
	return m.containerConfigs(rec, l, imgs, vols, objs, cg)
}

func (m *Manager) objects(ns string) Objects {
	if m.cfg.Objects == nil {
		return Objects{}
	}
	return m.cfg.Objects(ns)
}

func (m *Manager) resolveImages(p *manifests.Pod) (map[string]images.Image, error) {
	out := map[string]images.Image{}
	for _, c := range allContainers(p) {
		if _, ok := out[c.Image]; ok {
			continue
		}
		img, err := m.image(p, c)
		if err != nil {
			return nil, &imageError{container: c.Name, image: c.Image, err: err}
		}
		out[c.Image] = img
	}
	return out, nil
}

// imageError is an image a container cannot have (yet).
type imageError struct {
	container, image string
	err              error
}

func (e *imageError) Error() string {
	if _, ok := pullReason(e.err); ok {
		return fmt.Sprintf("container %s: %v", e.container, e.err)
	}
	return fmt.Sprintf("container %s: image %q is not in the local store: import it with `berth image import` (%v)", e.container, e.image, e.err)
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
	}
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

// setupNetwork wires the pod's net namespace, and records how long the
// IP lease and the link set-up took.
func (m *Manager) setupNetwork(rec *record, infraPID int, t *phaseTimer) error {
	p := rec.Pod
	if p.Spec.HostNetwork {
		return nil
	}
	id := ID(p.Namespace, p.Name)
	pn, err := m.cfg.Net.Setup(KernelID(id), fmt.Sprintf("/proc/%d/ns/net", infraPID), portMappings(p))
	if err != nil {
		return fmt.Errorf("set up network: %w", err)
	}
	rec.IP = pn.IP.String()
	t.detail("net_ipam", pn.IPAM)
	t.detail("net_link", pn.Link)
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

// remove tears a pod down gracefully: its containers get SIGTERM and the
// pod's grace period, then everything it held goes.
func (m *Manager) remove(ctx context.Context, o *reconciler.Observed) error {
	id := ID(o.Key.Namespace, o.Key.Name)
	m.mu.Lock()
	e, ok := m.pods[id]
	if ok {
		e.terminating = true
	}
	m.mu.Unlock()
	if !ok {
		return nil
	}
	m.event(e.rec.Pod, "", api.EventNormal, api.EventKilling, "Stopping pod")
	if err := m.teardown(ctx, id, e.rec, e.layout, gracePeriod(e.rec.Pod)); err != nil {
		return fmt.Errorf("remove pod %s: %w", o.Key, err)
	}
	m.mu.Lock()
	delete(m.pods, id)
	m.mu.Unlock()
	m.event(e.rec.Pod, "", api.EventNormal, api.EventDeleted, "Pod removed")
	return nil
}

// teardown removes everything of pod id, in kubelet's order: containers
// stop within the grace period, then the network goes while the netns still
// exists (deleting the veth synchronously, so a replacement pod can reuse its
// name at once), then the infra exits and the cgroups, volumes and
// directories are removed. It is idempotent and needs no more than the
// pod's identity and layout, so it also cleans up after a crash.
func (m *Manager) teardown(ctx context.Context, id string, rec *record, l Layout, grace time.Duration) error {
	var errs []error
	var c *infra.Client
	if rec != nil && alive(rec.InfraPID, rec.InfraStart) {
		var err error
		if c, err = m.stopContainers(ctx, l, grace); err != nil {
			m.cfg.Log.Warn("infra did not stop its containers; killing the pod", "pod", id, "pid", rec.InfraPID, "err", err)
			c = nil
		}
	}
	if err := m.cfg.Net.Teardown(KernelID(id)); err != nil {
		errs = append(errs, fmt.Errorf("tear down network: %w", err))
	}
	if rec != nil && alive(rec.InfraPID, rec.InfraStart) {
		if c == nil || c.Shutdown(ctx) != nil {
			errs = append(errs, killProcess(rec.InfraPID, rec.InfraStart))
		}
		if err := waitExit(rec.InfraPID, rec.InfraStart, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.cfg.Cgroups.Kill(KernelID(id)); err != nil {
		errs = append(errs, fmt.Errorf("kill cgroup: %w", err))
	}
	if err := m.cfg.Cgroups.Remove(KernelID(id)); err != nil {
		errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
	}
	if err := volumes.Cleanup(l.State); err != nil {
		errs = append(errs, fmt.Errorf("clean up volumes: %w", err))
	}
	for _, d := range []string{l.Run, l.Logs} {
		if d == "" {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopContainers asks the infra to stop its containers: SIGTERM, then
// SIGKILL after grace (the call's deadline is grace plus
// infra.CallTimeout). It returns the client for the Shutdown that follows.
func (m *Manager) stopContainers(ctx context.Context, l Layout, grace time.Duration) (*infra.Client, error) {
	c := infra.NewClient(l.Socket())
	if err := c.Stop(ctx, grace); err != nil {
		return nil, err
	}
	return c, nil
}

func (m *Manager) updateMetadata(d *reconciler.Desired) error {
	id := ID(d.Pod.Namespace, d.Pod.Name)
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

func (m *Manager) setFailed(p *manifests.Pod, file string, err error) {
	m.mu.Lock()
	m.failed[ID(p.Namespace, p.Name)] = failure{pod: p, file: file, reason: failureReason(err), message: err.Error(), at: time.Now()}
	m.mu.Unlock()
	if r := failedEventReason(failureReason(err)); r != "" {
		m.event(p, "", api.EventWarning, r, err.Error())
	}
}

// failureReason is the status reason of a failed create: specific where the
// user can act on the cause, CreateContainerError otherwise.
func failureReason(err error) string {
	var ie *imageError
	if r, ok := pullReason(err); ok {
		return r
	}
	switch {
	case errors.As(err, &ie):
		return api.ReasonImageNotFound
	case errors.Is(err, netsetup.ErrHostPortInUse):
		return api.ReasonHostPortInUse
	case errors.Is(err, netsetup.ErrRangeExhausted):
		return api.ReasonNoPodIP
	case errors.Is(err, cgroups.ErrControllerMissing):
		return api.ReasonControllerMissing
	}
	return api.ReasonCreateFailed
}

// Forget drops the recorded create failure of a pod that is no longer
// desired.
func (m *Manager) Forget(keep func(namespace, name string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, f := range m.failed {
		if !keep(f.pod.Namespace, f.pod.Name) {
			delete(m.failed, id)
		}
	}
}

func (m *Manager) event(p *manifests.Pod, ctr, typ, reason, msg string) {
	m.cfg.Event(api.Event{
		Time: time.Now().UTC(), Type: typ, Reason: reason,
		Object: api.PodObject(p.Namespace, p.Name), Container: ctr, Message: msg,
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

// podDirs lists the pod directories under the state directory.
func podDirs(stateDir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(stateDir, "pods"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
