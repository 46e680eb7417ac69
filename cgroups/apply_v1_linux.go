package cgroups

import (
	"fmt"
	"path/filepath"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/sysfile"
)

// ensureV1 creates the cgroup at rel in every usable v1 hierarchy and writes
// r through containerd's cgroup1 controllers. Unlimited values are written
// explicitly (-1) so that a re-ensure after a spec change converges, unless
// the cgroup is fresh. Device access goes to the devices hierarchy (ensure
// has checked that there is one when it restricts anything).
func (m *Manager) ensureV1(r Resources, fresh bool, rel ...string) error {
	if _, err := cgroup1.New(cgroup1.StaticPath(m.l.cgroupPath(rel...)), specsV1(r, fresh), cgroup1.WithHierarchy(m.v1Subsystems)); err != nil {
		return fmt.Errorf("create v1 cgroup %s: %w", m.l.cgroupPath(rel...), err)
	}
	// cgroup1's pids controller only writes positive limits; "max" has no
	// API there, so it is written directly.
	if h, ok := m.l.hierarchies[Pids]; ok && r.PidsMax == 0 && !fresh {
		file := filepath.Join(h, m.l.cgroupPath(rel...), "pids.max")
		if err := sysfile.WriteExisting(file, "max"); err != nil {
			return err
		}
	}
	if dir := m.l.devicesDir(rel...); dir != "" && r.Devices != DevicesInherited {
		return applyDevicesV1(dir, r.Devices.Access())
	}
	return nil
}

// v1Subsystems is the cgroup1.Hierarchy of the controllers berth uses. The
// devices controller only creates directories (specsV1 sets no device
// rules); applyDevicesV1 writes the rules. cpuacct only counts.
func (m *Manager) v1Subsystems() ([]cgroup1.Subsystem, error) {
	var subs []cgroup1.Subsystem
	for _, c := range m.l.keys() {
		switch c {
		case CPU:
			subs = append(subs, cgroup1.NewCpu(m.root))
		case Memory:
			subs = append(subs, cgroup1.NewMemory(m.root))
		case Pids:
			subs = append(subs, cgroup1.NewPids(m.root))
		case Devices:
			subs = append(subs, cgroup1.NewDevices(m.root))
		case CPUAcct:
			subs = append(subs, cgroup1.NewCpuacct(m.root))
		}
	}
	return subs, nil
}

// specsV1 maps Resources onto the runtime-spec values cgroup1 writes:
// cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us, memory.limit_in_bytes and
// pids.max. Swap (memory.memsw.*) is left alone. For a fresh cgroup the
// values a new v1 cgroup starts with are left out (nil: not written).
func specsV1(r Resources, fresh bool) *specs.LinuxResources {
	quota, mem := int64(-1), int64(-1)
	if r.CPUQuota > 0 {
		quota = r.CPUQuota
	}
	if r.MemoryMax > 0 {
		mem = r.MemoryMax
	}
	period := uint64(QuotaPeriod)
	if r.CPUPeriod > 0 {
		period = uint64(r.CPUPeriod)
	}
	shares := r.CPUShares
	if shares == 0 {
		shares = 1024 // the kernel's default cpu.shares
	}
	out := &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period},
		Memory: &specs.LinuxMemory{Limit: &mem},
		Pids:   pidsV1(r.PidsMax),
	}
	if fresh {
		out.CPU.Shares = unlessDefault(out.CPU.Shares, 1024)
		out.CPU.Quota = unlessDefault(out.CPU.Quota, -1)
		out.CPU.Period = unlessDefault(out.CPU.Period, QuotaPeriod)
		out.Memory.Limit = unlessDefault(out.Memory.Limit, -1)
	}
	return out
}

// unlessDefault is v, or nil when *v is def: what a fresh cgroup need not
// be told.
func unlessDefault[T comparable](v *T, def T) *T {
	if *v == def {
		return nil
	}
	return v
}

// pidsV1 returns the pids limit for cgroup1, nil when unlimited (ensureV1
// writes "max" itself then).
func pidsV1(limit int64) *specs.LinuxPids {
	if limit <= 0 {
		return nil
	}
	return &specs.LinuxPids{Limit: &limit}
}
