package cgroups

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sysfile"
)

// Default option values.
const (
	DefaultRoot   = "/sys/fs/cgroup"
	DefaultParent = "berth"
)

// Options configure a Manager.
type Options struct {
	// Root is the cgroup mount point; DefaultRoot when empty.
	Root string
	// Parent is the cgroup, relative to Root (and to each v1 hierarchy),
	// under which pod cgroups live; DefaultParent when empty.
	Parent string
	// Log receives debug records; slog.Default() when nil.
	Log *slog.Logger
}

// Manager creates, fills, kills and removes pod and container cgroups. It
// holds no mutable state and is safe for concurrent use on different pods.
type Manager struct {
	mode   Mode
	root   string
	usable []string
	l      layout
	log    *slog.Logger
}

// Placement tells how to put a process into a cgroup. Exactly one of Dir
// (v2) and Procs (v1, hybrid) is set.
type Placement struct {
	// Dir is the v2 cgroup directory: open it with Open and pass the fd as
	// SysProcAttr.CgroupFD with UseCgroupFD so the child starts inside it
	// (CLONE_INTO_CGROUP).
	Dir string
	// Procs are the cgroup.procs files of every v1 hierarchy; a container
	// init writes its own PID into each before it execs.
	Procs []string
}

// New detects the host's cgroup mode under o.Root and returns a Manager.
func New(o Options) (*Manager, error) {
	if o.Root == "" {
		o.Root = DefaultRoot
	}
	if o.Parent == "" {
		o.Parent = DefaultParent
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if err := validateParent(o.Parent); err != nil {
		return nil, err
	}
	mode, err := Detect(o.Root)
	if err != nil {
		return nil, err
	}
	hier, usable, err := probe(mode, o.Root, o.Parent)
	if err != nil {
		return nil, err
	}
	return &Manager{
		mode:   mode,
		root:   o.Root,
		usable: usable,
		l:      layout{mode: mode, parent: o.Parent, hierarchies: hier},
		log:    o.Log.With("cgroup_mode", mode.String()),
	}, nil
}

// Mode returns the host's cgroup mode.
func (m *Manager) Mode() Mode { return m.mode }

// Controllers returns the controllers (of cpu, memory, pids) berth can use.
func (m *Manager) Controllers() []string { return slices.Clone(m.usable) }

// Check returns an error naming every controller in need that berth cannot
// use, each with the reason and a fix; nil when all are usable.
func (m *Manager) Check(need []string) error {
	var errs []error
	for _, c := range need {
		if !slices.Contains(m.usable, c) {
			errs = append(errs, fmt.Errorf("%w: %s", ErrControllerMissing, missingReason(m.mode, m.root, m.l.parent, c)))
		}
	}
	return errors.Join(errs...)
}

// EnsurePod creates the pod cgroup (and the parent) in every hierarchy and
// writes the pod-level limits. It is idempotent.
func (m *Manager) EnsurePod(pod string, r Resources) error {
	if err := ValidateName(pod); err != nil {
		return err
	}
	if err := m.ensure(r, false, pod); err != nil {
		return fmt.Errorf("ensure cgroup of pod %s: %w", pod, err)
	}
	m.log.Debug("pod cgroup ensured", "podID", pod)
	return nil
}

// EnsureContainer creates the cgroup of container ctr of pod (after
// EnsurePod), writes its limits and tells how to place a process in it.
func (m *Manager) EnsureContainer(pod, ctr string, r Resources) (Placement, error) {
	if err := errors.Join(ValidateName(pod), ValidateName(ctr)); err != nil {
		return Placement{}, err
	}
	if err := m.ensure(r, true, pod, ctr); err != nil {
		return Placement{}, fmt.Errorf("ensure cgroup of container %s in pod %s: %w", ctr, pod, err)
	}
	m.log.Debug("container cgroup ensured", "podID", pod, "container", ctr)
	return m.placement(pod, ctr), nil
}

// EnsureInfra creates the leaf for the pod's infra process (InfraName under
// the pod cgroup, without resource limits of its own, with the default
// device access) and tells how to place it.
func (m *Manager) EnsureInfra(pod string) (Placement, error) {
	if err := ValidateName(pod); err != nil {
		return Placement{}, err
	}
	// The infra runs berth's own code in the host's mount namespace and
	// opens only /dev/null; it gets no more than a container.
	if err := m.ensure(Resources{Devices: DevicesDefault}, false, pod, InfraName); err != nil {
		return Placement{}, fmt.Errorf("ensure infra cgroup of pod %s: %w", pod, err)
	}
	return m.placement(pod, InfraName), nil
}

func (m *Manager) placement(rel ...string) Placement {
	if m.mode == V2 {
		return Placement{Dir: m.l.dirs(rel...)[0]}
	}
	return Placement{Procs: m.l.procsFiles(rel...)}
}

// ensure checks that r only limits usable controllers (and, on v1, that
// device access can be limited), then applies it. A cgroup ensure makes
// (fresh) already holds the kernel's defaults, so the unlimited values
// are not written to it: each write of a CPU bandwidth (cpu.max, or v1's
// cfs_period_us and cfs_quota_us) makes the kernel check the bandwidth of
// every cgroup of the host, and with three cgroups a pod, a pod's create
// grew with the number of pods.
func (m *Manager) ensure(r Resources, container bool, rel ...string) error {
	asks := map[string]bool{
		CPU:    r.CPUQuota > 0 || r.CPUShares > 0 || r.CPUWeight > 0,
		Memory: r.MemoryMax > 0,
		Pids:   r.PidsMax > 0,
	}
	for _, c := range Controllers {
		if asks[c] && !slices.Contains(m.usable, c) {
			return fmt.Errorf("%w: %s", ErrControllerMissing, missingReason(m.mode, m.root, m.l.parent, c))
		}
	}
	if r.Devices == DevicesDefault && m.mode != V2 && m.l.devicesDir() == "" {
		return fmt.Errorf("%w: %s", ErrControllerMissing, missingReason(m.mode, m.root, m.l.parent, Devices))
	}
	fresh := m.l.absent(rel...)
	if m.mode == V2 {
		return m.ensureV2(r, container, fresh, rel...)
	}
	return m.ensureV1(r, fresh, rel...)
}

// Open opens the v2 cgroup directory for SysProcAttr.CgroupFD. The caller
// closes the file after the child has started.
func (p Placement) Open() (*os.File, error) {
	if p.Dir == "" {
		return nil, fmt.Errorf("open cgroup: placement has no v2 directory")
	}
	fd, err := unix.Open(p.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", p.Dir, err)
	}
	return os.NewFile(uintptr(fd), p.Dir), nil
}

// AddProcess moves the process pid (with all its threads) into the cgroup.
func (p Placement) AddProcess(pid int) error {
	files := p.Procs
	if p.Dir != "" {
		files = []string{filepath.Join(p.Dir, "cgroup.procs")}
	}
	for _, f := range files {
		// O_WRONLY without O_CREAT/O_TRUNC: a cgroup.procs file must exist.
		if err := sysfile.WriteExisting(f, strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add process %d to cgroup: %w", pid, err)
		}
	}
	return nil
}
