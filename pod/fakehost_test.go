package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/netsetup"
	"github.com/berth-project/berth/volumes"
)

// fakeHost is the host behind every interface of host.go, in memory: it
// records each operation as one line of text, keeps what exists (cgroups,
// leases, prepared volumes, infra processes) and can fail the n-th
// operation. Files are real, in a temporary directory: the pod's
// directories, record and /etc files.
//
// Where a real operation can fail half-way, the fake fails after doing its
// work (cgroups, volumes, a Start), the worse case for the undos; the
// network's Setup undoes itself, as netsetup's does.
type fakeHost struct {
	root string

	mu     sync.Mutex
	ops    []string
	failAt int // 1-based index of the operation that fails; 0: none
	// failOn is the operation that fails, by its text; "": none. Steps
	// that run beside each other (lanes) make the index of an operation
	// vary from run to run; its text does not.
	failOn string
	// notReady makes every infra fail its start (Launching.Wait).
	notReady bool
	// portOwner holds every host port for another pod, from CheckPorts
	// on, or only from Setup on with portTakenLate (another pod claimed it
	// in between).
	portOwner     string
	portTakenLate bool
	// pulls are the images Resolve does not give, by reference, each
	// with the status reason it answers (ContainerCreating while the
	// image is pulled, ErrImagePull, ImagePullBackOff, ErrImageNeverPull).
	pulls map[string]string

	// oldInfra makes every infra refuse updates, as one started by a berth
	// before them.
	oldInfra bool

	cgroups map[string]bool // "<pod>", "<pod>/<child>"
	// memory is each cgroup's memory limit as last written (0: none).
	memory  map[string]int64
	leases  map[string]bool
	volumes map[string]bool // prepared volume dirs
	procs   map[int]*fakeProc
	nextPID int
}

// fakeProc is an infra process: it outlives the daemon, as a real one does.
type fakeProc struct {
	key, pod, socket string
	start            uint64
	alive            bool
	started          bool // its containers run
	// ctrs are the configs its Start got.
	ctrs []infra.ContainerConfig
	// silent: it accepts calls and never answers, as an infra whose loop
	// is stuck: every call fails at its deadline.
	silent bool
	// watchers are what Processes.Watch was given for it, streams its
	// status watches (WatchStatus), each holding the latest status not
	// yet taken.
	watchers []func()
	streams  []chan infra.PodStatus
}

// status is what p answers to Status and pushes on its watches.
func (p *fakeProc) status() infra.PodStatus {
	return infra.PodStatus{Version: infra.ProtocolVersion, Started: p.started}
}

// push sends p's status to its watches; the caller holds h.mu.
func (p *fakeProc) push() {
	for _, ch := range p.streams {
		select {
		case <-ch:
		default:
		}
		ch <- p.status()
	}
}

// endStreams ends p's watches, as its exit does; the caller holds h.mu.
func (p *fakeProc) endStreams() {
	for _, ch := range p.streams {
		close(ch)
	}
	p.streams = nil
}

func newFakeHost(root string) *fakeHost {
	return &fakeHost{root: root, cgroups: map[string]bool{}, memory: map[string]int64{}, leases: map[string]bool{},
		volumes: map[string]bool{}, procs: map[int]*fakeProc{}, pulls: map[string]string{}, nextPID: 100}
}

// config is a Manager's Config on h.
func (h *fakeHost) config() Config {
	return Config{
		StateDir: filepath.Join(h.root, "state"), RunDir: filepath.Join(h.root, "run"), LogDir: filepath.Join(h.root, "log"),
		Exe: "/fake/berth", Images: h, Pull: h, Cgroups: h, Net: h, Volumes: h, Infra: h, Processes: fakeProcesses{h},
	}
}

// op records an operation and fails it if it is the one to fail; the
// caller holds h.mu.
func (h *fakeHost) op(format string, args ...any) error {
	op := fmt.Sprintf(format, args...)
	h.ops = append(h.ops, op)
	if len(h.ops) == h.failAt || op == h.failOn {
		h.failOn = ""
		return fmt.Errorf("fake host: %s failed", op)
	}
	return nil
}

// log returns the operations recorded since the last call.
func (h *fakeHost) log() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.ops
	h.ops = nil
	h.failAt = 0
	h.failOn = ""
	return out
}

func (h *fakeHost) rel(path string) string {
	if r, err := filepath.Rel(h.root, path); err == nil {
		return r
	}
	return path
}

// leftovers lists what exists on the host: cgroups, leases, volumes, live
// infras, and files below the state, run and log directories.
func (h *fakeHost) leftovers() []string {
	h.mu.Lock()
	var out []string
	for cg := range h.cgroups {
		out = append(out, "cgroup "+cg)
	}
	for l := range h.leases {
		out = append(out, "lease "+l)
	}
	for v := range h.volumes {
		out = append(out, "volumes "+h.rel(v))
	}
	for pid, p := range h.procs {
		if p.alive {
			out = append(out, fmt.Sprintf("infra %d (%s)", pid, p.key))
		}
	}
	h.mu.Unlock()
	for _, d := range []string{"state/pods", "run/pods", "log"} {
		filepath.WalkDir(filepath.Join(h.root, d), func(path string, e fs.DirEntry, err error) error {
			if err == nil && path != filepath.Join(h.root, d) {
				out = append(out, "file "+h.rel(path))
			}
			return nil
		})
	}
	sort.Strings(out)
	return out
}

// Images.

func (h *fakeHost) Get(ref string) (images.Image, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("image get %s", ref); err != nil {
		return images.Image{}, err
	}
	return fakeImage(ref), nil
}

// Resolve is the ImageSource: it gives every image but those in h.pulls.
func (h *fakeHost) Resolve(namespace, pod, ref, policy string) (images.Image, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("image resolve %s/%s %s %s", namespace, pod, ref, policy); err != nil {
		return images.Image{}, err
	}
	if reason, ok := h.pulls[ref]; ok {
		return images.Image{}, reasonedErr{image: ref, reason: reason}
	}
	return fakeImage(ref), nil
}

func fakeImage(ref string) images.Image {
	return images.Image{ID: "sha256:1d", Refs: []string{ref}, Layers: []string{"/images/layers/1d"},
		Config: images.ImageConfig{Cmd: []string{"/bin/demo", "sleep"}}}
}

// Cgroups.

func (h *fakeHost) ensure(cg string, memory int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cgroups[cg] = true
	h.memory[cg] = memory
	return h.op("cgroup ensure %s", cg)
}

func (h *fakeHost) EnsurePod(pod string, r cgroups.Resources) error {
	return h.ensure(pod, r.MemoryMax)
}

func (h *fakeHost) EnsureInfra(pod string) (cgroups.Placement, error) {
	return cgroups.Placement{Dir: "/cgroup/" + pod + "/_infra"}, h.ensure(pod+"/_infra", 0)
}

func (h *fakeHost) EnsureContainer(pod, ctr string, r cgroups.Resources) (cgroups.Placement, error) {
	return cgroups.Placement{Dir: "/cgroup/" + pod + "/" + ctr}, h.ensure(pod+"/"+ctr, r.MemoryMax)
}

// memoryOf is the memory limit last written to cgroup cg.
func (h *fakeHost) memoryOf(cg string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.memory[cg]
}

func (h *fakeHost) OOMEventsFile(pod, ctr string) (string, string) {
	return "/cgroup/" + pod + "/" + ctr + "/memory.events", "v2"
}

// Kill kills every process in the pod's cgroups.
func (h *fakeHost) Kill(pod string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("cgroup kill %s", pod); err != nil {
		return err
	}
	for _, p := range h.procs {
		if p.pod == pod {
			p.alive = false
		}
	}
	return nil
}

// Remove fails, as rmdir does, while a process is in the pod's cgroups.
func (h *fakeHost) Remove(pod string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("cgroup remove %s", pod); err != nil {
		return err
	}
	for pid, p := range h.procs {
		if p.pod == pod && p.alive && h.cgroups[pod] {
			return fmt.Errorf("remove cgroup %s: process %d in it: %w", pod, pid, fs.ErrExist)
		}
	}
	for cg := range h.cgroups {
		if cg == pod || strings.HasPrefix(cg, pod+"/") {
			delete(h.cgroups, cg)
		}
	}
	return nil
}

func (h *fakeHost) Pods() ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("cgroup list"); err != nil {
		return nil, err
	}
	var out []string
	for cg := range h.cgroups {
		if !strings.Contains(cg, "/") {
			out = append(out, cg)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Network.

func (h *fakeHost) Gateway() net.IP { return net.IPv4(10, 88, 0, 1) }

func (h *fakeHost) CheckPorts(podID string, ports []netsetup.PortMapping) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ps []string
	for _, p := range ports {
		ps = append(ps, fmt.Sprintf("%d/%s", p.HostPort, p.Protocol))
	}
	if err := h.op("net check-ports %s %s", podID, strings.Join(ps, ",")); err != nil {
		return err
	}
	return h.conflict(ports, !h.portTakenLate)
}

// conflict is the error of a claim of ports while h.portOwner holds them;
// the caller holds h.mu.
func (h *fakeHost) conflict(ports []netsetup.PortMapping, held bool) error {
	if h.portOwner == "" || !held || len(ports) == 0 {
		return nil
	}
	return &netsetup.PortConflictError{Port: ports[0].HostPort, Proto: ports[0].Protocol, Owner: h.portOwner}
}

func (h *fakeHost) Setup(podID, netnsPath string, ports []netsetup.PortMapping) (netsetup.PodNet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("net setup %s", podID); err != nil {
		return netsetup.PodNet{}, err
	}
	// The check and the lease are one step under one lock.
	if err := h.conflict(ports, true); err != nil {
		return netsetup.PodNet{}, err
	}
	h.leases[podID] = true
	return netsetup.PodNet{IP: net.IPv4(10, 88, 0, 2), Gateway: net.IPv4(10, 88, 0, 1), PrefixLen: 16,
		IPAM: time.Millisecond, Link: 2 * time.Millisecond}, nil
}

func (h *fakeHost) Teardown(podID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("net teardown %s", podID); err != nil {
		return err
	}
	delete(h.leases, podID)
	return nil
}

func (h *fakeHost) GC(live map[string]bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("net gc"); err != nil {
		return err
	}
	for l := range h.leases {
		if !live[l] {
			delete(h.leases, l)
		}
	}
	return nil
}

// Volumes.

func (h *fakeHost) Prepare(dir string, p *manifests.Pod, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret, _ string, _ downward.Node) (volumes.Set, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	h.volumes[dir] = true
	if err := h.op("volumes prepare %s", h.rel(dir)); err != nil {
		return nil, err
	}
	set := volumes.Set{}
	for _, v := range p.Spec.Volumes {
		if v.Image == nil {
			set[v.Name] = volumes.Prepared{Name: v.Name, Path: filepath.Join(dir, v.Name), Kind: volumes.KindEmptyDir}
		}
	}
	return set, nil
}

func (h *fakeHost) MountImage(dir, name string, layers []string) (volumes.Prepared, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	path := filepath.Join(dir, "image", name)
	h.volumes[path] = true
	if err := h.op("volumes mount-image %s %s", h.rel(path), strings.Join(layers, ":")); err != nil {
		return volumes.Prepared{}, err
	}
	return volumes.Prepared{Name: name, Path: path, Kind: volumes.KindImage, ReadOnly: true}, nil
}

// PrepareClaims leaves the claims to Prepare, which makes every volume.
func (h *fakeHost) PrepareClaims(string, *manifests.Pod, map[string]*manifests.PersistentVolumeClaim) (volumes.Set, volumes.ClaimNotes, error) {
	return volumes.Set{}, volumes.ClaimNotes{}, nil
}

func (h *fakeHost) Cleanup(dir string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("volumes cleanup %s", h.rel(dir)); err != nil {
		return err
	}
	for v := range h.volumes {
		if v == dir || strings.HasPrefix(v, dir+"/") {
			delete(h.volumes, v)
		}
	}
	return os.RemoveAll(dir)
}

// Infra.

func (h *fakeHost) Launch(cfg infra.PodConfig, opt infra.LaunchOptions) (Launching, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("infra launch %s", cfg.Key); err != nil {
		return nil, err
	}
	pid := h.nextPID
	h.nextPID++
	// Cloned into its cgroup, as on v2.
	pod := strings.TrimSuffix(strings.TrimPrefix(opt.CgroupDir, "/cgroup/"), "/_infra")
	h.procs[pid] = &fakeProc{key: cfg.Key, pod: pod, socket: cfg.Socket, start: uint64(pid) * 7, alive: true}
	return fakeLaunching{h: h, pid: pid}, nil
}

// fakeLaunching records nothing: Wait runs beside the network's set-up, in
// no fixed order with it.
type fakeLaunching struct {
	h   *fakeHost
	pid int
}

func (l fakeLaunching) Pid() int { return l.pid }

func (l fakeLaunching) Wait() error {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	if l.h.notReady {
		l.h.procs[l.pid].alive = false
		return errors.New("fake infra: no ready record")
	}
	return nil
}

func (l fakeLaunching) Reap() {}

// infraAt is the live infra listening on socket; the caller holds h.mu.
// A silent one is returned with the error its call ends with.
func (h *fakeHost) infraAt(socket string) (*fakeProc, error) {
	for _, p := range h.procs {
		if p.socket == socket && p.alive {
			if p.silent {
				return p, fmt.Errorf("infra %s: no answer: %w", socket, context.DeadlineExceeded)
			}
			return p, nil
		}
	}
	return nil, fmt.Errorf("dial %s: %w", socket, fs.ErrNotExist)
}

func (h *fakeHost) Start(ctx context.Context, socket string, ready func() error, inits, ctrs []infra.ContainerConfig) (infra.PodStatus, error) {
	if ready != nil {
		if err := ready(); err != nil {
			return infra.PodStatus{}, err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return infra.PodStatus{}, err
	}
	var names []string
	for _, c := range slices.Concat(inits, ctrs) {
		names = append(names, c.Name)
	}
	p.started, p.ctrs = true, slices.Concat(inits, ctrs)
	p.push()
	if err := h.op("infra start %s %s", p.key, strings.Join(names, ",")); err != nil {
		return infra.PodStatus{}, err
	}
	return infra.PodStatus{Started: true}, nil
}

func (h *fakeHost) Status(ctx context.Context, socket string) (infra.PodStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return infra.PodStatus{}, err
	}
	return p.status(), nil
}

// WatchStatus answers as an infra of this protocol: the status at once and
// after each Start or Stop, until the infra exits or ctx ends. With
// oldInfra it answers as an infra of protocol 7 would.
func (h *fakeHost) WatchStatus(ctx context.Context, socket string, fn func(infra.PodStatus)) error {
	h.mu.Lock()
	if h.oldInfra {
		h.mu.Unlock()
		return fmt.Errorf("watch: infra protocol 7: %w", infra.ErrUnsupported)
	}
	p, err := h.infraAt(socket)
	if err != nil {
		h.mu.Unlock()
		return err
	}
	ch := make(chan infra.PodStatus, 1)
	ch <- p.status()
	p.streams = append(p.streams, ch)
	h.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			p.streams = slices.DeleteFunc(p.streams, func(c chan infra.PodStatus) bool { return c == ch })
			h.mu.Unlock()
			return ctx.Err()
		case st, ok := <-ch:
			if !ok {
				return fmt.Errorf("infra %s watch: %w", socket, io.EOF)
			}
			fn(st)
		}
	}
}

func (h *fakeHost) Stop(ctx context.Context, socket string, grace time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if p == nil {
		return err
	}
	if err := errors.Join(h.op("infra stop %s grace=%s", p.key, grace), err); err != nil {
		return err
	}
	p.started = false
	p.push()
	return nil
}

func (h *fakeHost) Shutdown(ctx context.Context, socket string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return err
	}
	if err := h.op("infra shutdown %s", p.key); err != nil {
		return err
	}
	p.alive = false
	return nil
}

func (h *fakeHost) HoldRestarts(ctx context.Context, socket string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return err
	}
	return h.op("infra hold-restarts %s", p.key)
}

func (h *fakeHost) KillContainer(ctx context.Context, socket, ctr string, grace time.Duration, message string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return err
	}
	return h.op("infra kill %s %s grace=%s", p.key, ctr, grace)
}

func (h *fakeHost) SidecarStarted(ctx context.Context, socket, ctr string, run time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return err
	}
	return h.op("infra started %s %s", p.key, ctr)
}

func (h *fakeHost) PreStopped(ctx context.Context, socket, ctr string, run time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return err
	}
	return h.op("infra prestopped %s %s", p.key, ctr)
}

// Update replaces the configs of the containers it names, then fails if it
// is the operation to fail (a timeout after the infra did it), or refuses
// them all with oldInfra.
func (h *fakeHost) Update(ctx context.Context, socket string, ctrs []infra.ContainerConfig, grace time.Duration) (infra.PodStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return infra.PodStatus{}, err
	}
	var names []string
	for _, c := range ctrs {
		names = append(names, c.Name)
	}
	if h.oldInfra {
		h.op("infra update %s %s (refused)", p.key, strings.Join(names, ","))
		return infra.PodStatus{}, fmt.Errorf("update: infra protocol 5: %w", infra.ErrUnsupported)
	}
	for _, c := range ctrs {
		for i := range p.ctrs {
			if p.ctrs[i].Name == c.Name {
				p.ctrs[i] = c
			}
		}
	}
	if err := h.op("infra update %s %s grace=%s", p.key, strings.Join(names, ","), grace); err != nil {
		return infra.PodStatus{}, err
	}
	return infra.PodStatus{Started: true}, nil
}

// ctrConfig is the config the live infra on socket runs container name
// with.
func (h *fakeHost) ctrConfig(socket, name string) (infra.ContainerConfig, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.infraAt(socket)
	if err != nil {
		return infra.ContainerConfig{}, false
	}
	for _, c := range p.ctrs {
		if c.Name == name {
			return c, true
		}
	}
	return infra.ContainerConfig{}, false
}

// Processes, apart: Kill is also a method of Cgroups.

type fakeProcesses struct{ *fakeHost }

// StartTime records nothing: it runs beside the network's set-up.
func (h fakeProcesses) StartTime(pid int) (uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.procs[pid]; ok && p.alive {
		return p.start, nil
	}
	return 0, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
}

func (h fakeProcesses) Alive(pid int, start uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.procs[pid]
	return ok && p.alive && p.start == start
}

func (h fakeProcesses) Kill(pid int, start uint64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("proc kill %d", pid); err != nil {
		return err
	}
	if p, ok := h.procs[pid]; ok && p.start == start {
		p.alive = false
		p.endStreams()
	}
	return nil
}

func (h fakeProcesses) WaitExit(pid int, start uint64, timeout time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.op("proc wait-exit %d", pid); err != nil {
		return err
	}
	if p, ok := h.procs[pid]; ok && p.start == start && p.alive {
		return fmt.Errorf("process %d still runs after %s", pid, timeout)
	}
	return nil
}

func (h fakeProcesses) Watch(pid int, start uint64, exited func()) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.procs[pid]; ok && p.start == start && p.alive {
		p.watchers = append(p.watchers, exited)
		return nil
	}
	go exited()
	return nil
}

// die ends the infra pid as SIGKILL would, and tells its watchers.
func (h *fakeHost) die(pid int) {
	h.mu.Lock()
	p := h.procs[pid]
	p.alive = false
	p.endStreams()
	w := p.watchers
	p.watchers = nil
	h.mu.Unlock()
	for _, f := range w {
		f()
	}
}
