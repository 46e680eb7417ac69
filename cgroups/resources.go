package cgroups

import (
	"errors"
	"fmt"
)

// Constants of the kubelet's CPU conversions (pkg/kubelet/cm/helpers_linux.go)
// and of runc's shares-to-weight mapping, kept with the kubelet's names.
const (
	// MinShares and MaxShares bound cpu.shares (kubelet MinShares/MaxShares).
	MinShares = 2
	MaxShares = 262144
	// sharesPerCPU and milliCPUToCPU convert millicores to shares.
	sharesPerCPU  = 1024
	milliCPUToCPU = 1000
	// QuotaPeriod is the CFS period berth uses, in µs (kubelet QuotaPeriod).
	QuotaPeriod = 100000
	// MinQuotaPeriod is the smallest CFS quota, in µs (kubelet MinQuotaPeriod).
	MinQuotaPeriod = 1000
	// DefaultPidsMax is the pids limit of a container whose caller sets none.
	// Kubernetes has no per-container pids field; podman defaults to 2048 per
	// container and Docker to none. 4096 stops a fork bomb while leaving room
	// for thread-heavy programs (every thread counts against pids.max).
	DefaultPidsMax = 4096
	// MaxCPUMilli bounds CPU quantities (a million cores) so that no
	// computation below can overflow int64.
	MaxCPUMilli = 1 << 30 * milliCPUToCPU
	// MaxMemoryBytes bounds memory quantities (1 EiB) for the same reason:
	// a pod sums its containers' limits.
	MaxMemoryBytes = 1 << 60
	// MaxPids bounds a container's pids limit (the kernel's PID_MAX_LIMIT).
	MaxPids = 1 << 22
	// podPidsHeadroom is added to a pod's pids limit for the infra process
	// and for a container's init between its fork (in the infra's cgroup on
	// v1) and joining its own cgroup.
	podPidsHeadroom = 16
	// podMemoryHeadroom, plus podMemoryHeadroomPerContainer for each
	// container, is added to a pod's memory limit (when every container
	// has one) for the infra process (its Go runtime and heap, sockets,
	// pipes, the page cache of the logs it writes) and for each
	// container's init stage, which on v1 runs in the infra's cgroup until
	// it joins its own. Without it a pod whose containers all reach their
	// limits also reaches its own, and the kernel's OOM killer may then
	// pick the infra, which ends the whole pod (the kubelet guards its
	// pause container with oom_score_adj -998, which needs
	// CAP_SYS_RESOURCE). The containers stay bound by their own limits.
	podMemoryHeadroom             = 8 << 20
	podMemoryHeadroomPerContainer = 4 << 20
)

// ErrInvalidQuantity is returned for negative or out-of-range quantities.
var ErrInvalidQuantity = errors.New("invalid resource quantity")

// Quantities are the amounts of one container's limits or requests as plain
// numbers: CPU in millicores, memory in bytes. Zero means "not set".
type Quantities struct {
	CPUMilli    int64
	MemoryBytes int64
}

// Container is the resource part of one container spec.
type Container struct {
	Limits   Quantities
	Requests Quantities
	// PidsMax is the container's pids limit; 0 means DefaultPidsMax.
	PidsMax int64
	// Privileged containers may use every device (ContainerDevices).
	Privileged bool
}

// Resources are the cgroup values of one pod or container. A zero field
// means unlimited (or, for the shares/weight pair, the kernel default).
type Resources struct {
	// MemoryMax is memory.max (v2) or memory.limit_in_bytes (v1), in bytes.
	MemoryMax int64
	// CPUQuota and CPUPeriod are cpu.max (v2) or cpu.cfs_quota_us and
	// cpu.cfs_period_us (v1), in µs. CPUQuota 0 means no quota.
	CPUQuota  int64
	CPUPeriod int64
	// CPUShares is cpu.shares (v1); CPUWeight is cpu.weight (v2), derived
	// from the shares. Both are 0 only in a hand-built Resources.
	CPUShares uint64
	CPUWeight uint64
	// PidsMax is pids.max.
	PidsMax int64
	// Devices chooses the device access of the cgroup's processes.
	Devices DevicePolicy
}

// ForContainer computes the cgroup values of one container as the kubelet
// does (pkg/kubelet/cm/helpers_linux.go, ResourceConfigForPod's per-container
// part and the CRI's LinuxContainerResources):
//
//   - requests.cpu defaults to limits.cpu when only the limit is set
//     (Kubernetes API defaulting);
//   - CPUShares = MilliCPUToShares(requests.cpu): millis*1024/1000, at least
//     MinShares (2, also the BestEffort value), at most MaxShares;
//   - CPUQuota = MilliCPUToQuota(limits.cpu, QuotaPeriod): millis*100 µs per
//     100000 µs period, at least MinQuotaPeriod; 0 (no quota) without a limit;
//   - CPUWeight = CpuSharesToCPUWeight(shares) = 1 + ((shares-2)*9999)/262142
//     (the kubelet's and runc's v1-to-v2 conversion);
//   - MemoryMax = limits.memory (requests.memory has no cgroup value);
//   - PidsMax = c.PidsMax, or DefaultPidsMax when 0;
//   - Devices = ContainerDevices(c.Privileged).
func ForContainer(c Container) (Resources, error) {
	if err := c.validate(); err != nil {
		return Resources{}, err
	}
	req := c.Requests.CPUMilli
	if req == 0 {
		req = c.Limits.CPUMilli
	}
	pids := c.PidsMax
	if pids == 0 {
		pids = DefaultPidsMax
	}
	r := cpuMemory(req, c.Limits.CPUMilli, c.Limits.MemoryBytes, pids)
	r.Devices = ContainerDevices(c.Privileged)
	return r, nil
}

// ForPod computes the pod-level cgroup values as the kubelet's
// ResourceConfigForPod does: shares from the sum of the containers' (defaulted)
// CPU requests; a CPU quota and a memory limit only when every container
// declares that limit (then the sum), otherwise unlimited. The pids limit is
// the sum of the containers' limits plus a small headroom for the infra, so
// the pod never caps a container below its own limit.
func ForPod(ctrs []Container) (Resources, error) {
	var reqSum, cpuSum, memSum, pidsSum int64
	cpuAll, memAll := len(ctrs) > 0, len(ctrs) > 0
	for i, c := range ctrs {
		r, err := ForContainer(c)
		if err != nil {
			return Resources{}, fmt.Errorf("container %d: %w", i, err)
		}
		req := c.Requests.CPUMilli
		if req == 0 {
			req = c.Limits.CPUMilli
		}
		// Each term is at most its Max*; sums are checked against the same
		// bound so that a pod of many huge containers cannot overflow.
		sums := []struct {
			name     string
			sum      *int64
			add, max int64
		}{
			{"requests.cpu", &reqSum, req, MaxCPUMilli},
			{"limits.cpu", &cpuSum, c.Limits.CPUMilli, MaxCPUMilli},
			{"limits.memory", &memSum, c.Limits.MemoryBytes, MaxMemoryBytes},
			{"pids", &pidsSum, r.PidsMax, MaxPids},
		}
		for _, s := range sums {
			if *s.sum += s.add; *s.sum > s.max {
				return Resources{}, fmt.Errorf("pod %s sum %d above %d: %w", s.name, *s.sum, s.max, ErrInvalidQuantity)
			}
		}
		cpuAll = cpuAll && c.Limits.CPUMilli > 0
		memAll = memAll && c.Limits.MemoryBytes > 0
	}
	if !cpuAll {
		cpuSum = 0
	}
	if memAll {
		memSum += podMemoryHeadroom + int64(len(ctrs))*podMemoryHeadroomPerContainer
	} else {
		memSum = 0
	}
	return cpuMemory(reqSum, cpuSum, memSum, pidsSum+podPidsHeadroom), nil
}

// cpuMemory fills Resources from already-validated millicores and bytes.
func cpuMemory(reqMilli, limitMilli, memBytes, pids int64) Resources {
	shares := MilliCPUToShares(reqMilli)
	return Resources{
		MemoryMax: memBytes,
		CPUQuota:  MilliCPUToQuota(limitMilli, QuotaPeriod),
		CPUPeriod: QuotaPeriod,
		CPUShares: shares,
		CPUWeight: CPUSharesToWeight(shares),
		PidsMax:   pids,
	}
}

// MilliCPUToShares is the kubelet's function of the same name.
func MilliCPUToShares(milliCPU int64) uint64 {
	if milliCPU == 0 {
		return MinShares
	}
	shares := milliCPU * sharesPerCPU / milliCPUToCPU
	switch {
	case shares < MinShares:
		return MinShares
	case shares > MaxShares:
		return MaxShares
	}
	return uint64(shares)
}

// MilliCPUToQuota is the kubelet's function of the same name: 0 means no quota.
func MilliCPUToQuota(milliCPU, period int64) int64 {
	if milliCPU == 0 {
		return 0
	}
	quota := milliCPU * period / milliCPUToCPU
	if quota < MinQuotaPeriod {
		return MinQuotaPeriod
	}
	return quota
}

// CPUSharesToWeight is the kubelet's CpuSharesToCPUWeight (runc's
// ConvertCPUSharesToCgroupV2Value): it maps [2, 262144] onto [1, 10000].
func CPUSharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-MinShares)*9999)/(MaxShares-MinShares)
}

func (c Container) validate() error {
	checks := []struct {
		name   string
		v, max int64
	}{
		{"limits.cpu", c.Limits.CPUMilli, MaxCPUMilli},
		{"requests.cpu", c.Requests.CPUMilli, MaxCPUMilli},
		{"limits.memory", c.Limits.MemoryBytes, MaxMemoryBytes},
		{"requests.memory", c.Requests.MemoryBytes, MaxMemoryBytes},
		{"pids", c.PidsMax, MaxPids},
	}
	for _, ch := range checks {
		if ch.v < 0 || ch.v > ch.max {
			return fmt.Errorf("%s %d outside [0, %d]: %w", ch.name, ch.v, ch.max, ErrInvalidQuantity)
		}
	}
	return nil
}
