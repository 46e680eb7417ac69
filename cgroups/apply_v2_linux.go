package cgroups

import (
	"fmt"
	"math"
	"slices"

	"github.com/containerd/cgroups/v3/cgroup2"
)

// ensureV2 creates the cgroup at rel, enables the usable controllers in the
// subtree_control of every ancestor (containerd's cgroup2.NewManager does
// that from the mount root down), and writes r. Controllers are always
// enabled, so that children of the cgroup can be limited, and their values
// written, unlimited as "max", so that a re-ensure converges; a fresh
// cgroup is not told the values it starts with. Device
// access is an eBPF program attached to the cgroup (attachDevicesV2);
// resourcesV2 leaves Devices empty so that cgroup2 attaches nothing itself.
func (m *Manager) ensureV2(r Resources, container, fresh bool, rel ...string) error {
	path := m.l.cgroupPath(rel...)
	if _, err := cgroup2.NewManager(m.root, path, m.resourcesV2(r, container, fresh)); err != nil {
		return fmt.Errorf("create v2 cgroup %s: %w", path, err)
	}
	if r.Devices != DevicesInherited {
		return attachDevicesV2(m.l.dirs(rel...)[0], r.Devices.Access())
	}
	return nil
}

// resourcesV2 maps Resources onto cgroup2 values for the usable controllers:
// cpu.weight, cpu.max, memory.max, pids.max and, for containers,
// memory.oom.group=1 so that an OOM kill ends the whole container, as the
// kubelet configures it on v2. For a fresh cgroup the values a new cgroup
// starts with are left out (not written); its controllers stay listed.
func (m *Manager) resourcesV2(r Resources, container, fresh bool) *cgroup2.Resources {
	var out cgroup2.Resources
	if slices.Contains(m.usable, CPU) {
		var quota *int64
		if r.CPUQuota > 0 {
			quota = &r.CPUQuota
		}
		period := uint64(QuotaPeriod)
		if r.CPUPeriod > 0 {
			period = uint64(r.CPUPeriod)
		}
		weight := r.CPUWeight
		if weight == 0 {
			weight = 100 // the kernel's default cpu.weight
		}
		out.CPU = &cgroup2.CPU{Weight: &weight, Max: cgroup2.NewCPUMax(quota, &period)}
		if fresh {
			out.CPU.Weight = unlessDefault(out.CPU.Weight, 100)
			if quota == nil && period == QuotaPeriod {
				out.CPU.Max = ""
			}
		}
	}
	if slices.Contains(m.usable, Memory) {
		// memory.max takes "max" or bytes; cgroup2 only writes numbers, and
		// the kernel clamps MaxInt64 to its page counter maximum: "max".
		limit := int64(math.MaxInt64)
		if r.MemoryMax > 0 {
			limit = r.MemoryMax
		}
		out.Memory = &cgroup2.Memory{Max: &limit}
		if fresh {
			out.Memory.Max = unlessDefault(out.Memory.Max, math.MaxInt64)
		}
		if container {
			group := true
			out.Memory.OOMGroup = &group
		}
	}
	if slices.Contains(m.usable, Pids) {
		limit := int64(-1) // cgroup2 writes "max" for negative values
		if r.PidsMax > 0 {
			limit = r.PidsMax
		}
		if fresh && limit < 0 {
			limit = 0 // not written
		}
		out.Pids = &cgroup2.Pids{Max: limit}
	}
	return &out
}
