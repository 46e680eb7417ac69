package pod

import (
	"context"
	"net"
	"time"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/procstat"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/netsetup"
	"github.com/berth-project/berth/volumes"
)

// The host, as a pod's create and teardown see it: small interfaces that
// today's packages satisfy (*images.Store, *registry.Resolver,
// *cgroups.Manager, *netsetup.Network) or that thin adapters below implement over them
// (package volumes, infra.Launch and infra.Client, the process table).
// Tests put a fake host behind them.

// Images resolves image references in the local store.
type Images interface {
	Get(ref string) (images.Image, error)
}

// ImageSource gives a container its image by its imagePullPolicy, pulling
// one the store lacks (registry.Resolver). It never waits for a download:
// an image being pulled is an error whose Reason() is ContainerCreating,
// and the pod is created again when the pull is done. Its other errors'
// reasons are ErrImagePull, ImagePullBackOff and ErrImageNeverPull.
type ImageSource interface {
	Resolve(namespace, pod, image, policy string) (images.Image, error)
}

// Cgroups makes, finds, kills and removes pods' cgroups, by the pod's
// KernelID.
type Cgroups interface {
	EnsurePod(pod string, r cgroups.Resources) error
	EnsureInfra(pod string) (cgroups.Placement, error)
	EnsureContainer(pod, ctr string, r cgroups.Resources) (cgroups.Placement, error)
	OOMEventsFile(pod, ctr string) (file, format string)
	Kill(pod string) error
	Remove(pod string) error
	Pods() ([]string, error)
}

// Network wires pods into the bridge and holds their IP leases and
// hostPort rules, by the pod's KernelID.
type Network interface {
	CheckPorts(podID string, ports []netsetup.PortMapping) error
	Setup(podID, netnsPath string, ports []netsetup.PortMapping) (netsetup.PodNet, error)
	Teardown(podID string) error
	GC(live map[string]bool) error
	// Gateway is the host's address on the pod network.
	Gateway() net.IP
}

// Volumes prepares a pod's volumes below its directory and removes them.
type Volumes interface {
	Prepare(podDir string, p *manifests.Pod, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret, uid string, node downward.Node) (volumes.Set, error)
	// PrepareClaims makes ready, below dir, the claims' volumes, which
	// outlive the pod (volumes.ClaimStore).
	PrepareClaims(dir string, p *manifests.Pod, decls map[string]*manifests.PersistentVolumeClaim) (volumes.Set, volumes.ClaimNotes, error)
	// MountImage mounts an image's layers (bottom first) read-only as
	// the image volume name, below dir.
	MountImage(dir, name string, layers []string) (volumes.Prepared, error)
	// Cleanup unmounts everything below dir and removes it.
	Cleanup(dir string) error
}

// Infra launches pods' infra processes and talks to them on their sockets.
// Every call returns by ctx's deadline or else its own (the host's is
// infra.Client's: infra.CallTimeout; Stop the grace period plus that;
// Start infra.StartReplyWait plus that); an infra that does not answer in
// time fails it with an error that wraps context.DeadlineExceeded.
type Infra interface {
	Launch(cfg infra.PodConfig, opt infra.LaunchOptions) (Launching, error)
	// Start starts the pod's containers (infra.Client.Start): the request
	// goes at once, and ready is the launch's Wait, after which the infra
	// answers.
	Start(ctx context.Context, socket string, ready func() error, inits, ctrs []infra.ContainerConfig) (infra.PodStatus, error)
	Status(ctx context.Context, socket string) (infra.PodStatus, error)
	Stop(ctx context.Context, socket string, grace time.Duration) error
	Shutdown(ctx context.Context, socket string) error
	// KillContainer stops one container's run (a failed liveness or
	// startup probe) with a Killing event saying why; its restart policy
	// decides what comes next. An infra too old for it fails with an error
	// wrapping infra.ErrUnsupported.
	KillContainer(ctx context.Context, socket, ctr string, grace time.Duration, message string) error
	// SidecarStarted says the startupProbe of sidecar ctr passed for its
	// run that began at run: the init containers after it may start.
	SidecarStarted(ctx context.Context, socket, ctr string, run time.Time) error
	// PreStopped says the preStop hook of sidecar ctr, whose run that began
	// at run waits for it at the pod's end, ended: it gets its stop signal.
	// An infra too old for it fails with an error wrapping
	// infra.ErrUnsupported.
	PreStopped(ctx context.Context, socket, ctr string, run time.Time) error
	// Update restarts the containers ctrs name with these definitions, each
	// stopped within grace (infra.Client.Update). An infra too old for it
	// fails with an error wrapping infra.ErrUnsupported.
	Update(ctx context.Context, socket string, ctrs []infra.ContainerConfig, grace time.Duration) (infra.PodStatus, error)
	// HoldRestarts ends the infra's restarts ahead of a Stop, while the
	// daemon runs the pod's preStop hooks. An infra too old for it fails
	// with an error wrapping infra.ErrUnsupported.
	HoldRestarts(ctx context.Context, socket string) error
	// WatchStatus calls fn with the pod's status at once and again each
	// time a container's run starts or ends (infra.Client.Watch), until
	// ctx ends or the stream breaks. An infra too old for it fails with an
	// error wrapping infra.ErrUnsupported.
	WatchStatus(ctx context.Context, socket string, fn func(infra.PodStatus)) error
}

// Launching is an infra process that exists and is finishing its start in
// the background (infra.Launching).
type Launching interface {
	Pid() int
	// Wait returns once the infra is ready, or with why not (it was then
	// killed and reaped).
	Wait() error
	// Reap waits for the process's exit; call it after Wait succeeded.
	Reap()
}

// Processes finds, kills and waits for processes by PID and start time, so
// that a reused PID is never taken for the process it once named.
type Processes interface {
	StartTime(pid int) (uint64, error)
	Alive(pid int, start uint64) bool
	Kill(pid int, start uint64) error
	WaitExit(pid int, start uint64, timeout time.Duration) error
	// Watch calls exited once the process has exited (at once when it
	// already has), from a goroutine of its own, or fails to watch it.
	Watch(pid int, start uint64, exited func()) error
}

// hostVolumes is package volumes.
type hostVolumes struct{}

func (hostVolumes) Prepare(podDir string, p *manifests.Pod, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret, uid string, node downward.Node) (volumes.Set, error) {
	return volumes.Prepare(podDir, p, cms, secrets, uid, node)
}

func (hostVolumes) PrepareClaims(dir string, p *manifests.Pod, decls map[string]*manifests.PersistentVolumeClaim) (volumes.Set, volumes.ClaimNotes, error) {
	return volumes.ClaimStore{Dir: dir}.Prepare(p, decls)
}

func (hostVolumes) MountImage(dir, name string, layers []string) (volumes.Prepared, error) {
	return volumes.MountImage(dir, name, layers)
}

func (hostVolumes) Cleanup(dir string) error { return volumes.Cleanup(dir) }

// hostInfra is infra.Launch and infra.Client.
type hostInfra struct{}

func (hostInfra) Launch(cfg infra.PodConfig, opt infra.LaunchOptions) (Launching, error) {
	la, err := infra.Launch(cfg, opt)
	if err != nil {
		return nil, err
	}
	return launching{la}, nil
}

func (hostInfra) Start(ctx context.Context, socket string, ready func() error, inits, ctrs []infra.ContainerConfig) (infra.PodStatus, error) {
	return infra.NewClient(socket).Start(ctx, ready, inits, ctrs)
}

func (hostInfra) Status(ctx context.Context, socket string) (infra.PodStatus, error) {
	return infra.NewClient(socket).Status(ctx)
}

func (hostInfra) Stop(ctx context.Context, socket string, grace time.Duration) error {
	return infra.NewClient(socket).Stop(ctx, grace)
}

func (hostInfra) Shutdown(ctx context.Context, socket string) error {
	return infra.NewClient(socket).Shutdown(ctx)
}

func (hostInfra) HoldRestarts(ctx context.Context, socket string) error {
	return infra.NewClient(socket).HoldRestarts(ctx)
}

func (hostInfra) KillContainer(ctx context.Context, socket, ctr string, grace time.Duration, message string) error {
	return infra.NewClient(socket).Kill(ctx, ctr, grace, message)
}

func (hostInfra) SidecarStarted(ctx context.Context, socket, ctr string, run time.Time) error {
	return infra.NewClient(socket).Started(ctx, ctr, run)
}

func (hostInfra) PreStopped(ctx context.Context, socket, ctr string, run time.Time) error {
	return infra.NewClient(socket).PreStopped(ctx, ctr, run)
}

func (hostInfra) Update(ctx context.Context, socket string, ctrs []infra.ContainerConfig, grace time.Duration) (infra.PodStatus, error) {
	return infra.NewClient(socket).Update(ctx, ctrs, grace)
}

func (hostInfra) WatchStatus(ctx context.Context, socket string, fn func(infra.PodStatus)) error {
	return infra.NewClient(socket).Watch(ctx, fn)
}

type launching struct{ *infra.Launching }

func (l launching) Pid() int { return l.PID }

// hostProcesses is the host's process table.
type hostProcesses struct{}

func (hostProcesses) StartTime(pid int) (uint64, error) { return procstat.StartTime(pid) }

func (hostProcesses) Alive(pid int, start uint64) bool { return alive(pid, start) }

func (hostProcesses) Kill(pid int, start uint64) error { return killProcess(pid, start) }

func (hostProcesses) WaitExit(pid int, start uint64, timeout time.Duration) error {
	return waitExit(pid, start, timeout)
}

func (hostProcesses) Watch(pid int, start uint64, exited func()) error {
	return watchExit(pid, start, exited)
}

var (
	_ Images  = (*images.Store)(nil)
	_ Cgroups = (*cgroups.Manager)(nil)
	_ Network = (*netsetup.Network)(nil)
)
