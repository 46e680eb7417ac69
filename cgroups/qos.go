package cgroups

import "github.com/berth-project/berth/kube"

// QoS classes, as Kubernetes names them (the kube package's names).
const (
	QOSGuaranteed = kube.QOSGuaranteed
	QOSBurstable  = kube.QOSBurstable
	QOSBestEffort = kube.QOSBestEffort
)

// The kubelet's OOM score adjustments (pkg/kubelet/qos/policy.go).
const (
	guaranteedOOMScoreAdj   = -997
	bestEffortOOMScoreAdj   = 1000
	minBurstableOOMScoreAdj = 1000 + guaranteedOOMScoreAdj
)

// QOSClass is a pod's QoS class from all of its containers, init
// containers included, as Kubernetes computes it from cpu and memory: a
// request left out is its limit (API defaulting); Guaranteed when every
// container has cpu and memory limits its requests equal, BestEffort when
// none has a request or limit, Burstable otherwise.
func QOSClass(ctrs []Container) string {
	guaranteed, bestEffort := true, true
	for _, c := range ctrs {
		req := c.Requests
		if req.CPUMilli == 0 {
			req.CPUMilli = c.Limits.CPUMilli
		}
		if req.MemoryBytes == 0 {
			req.MemoryBytes = c.Limits.MemoryBytes
		}
		if req != (Quantities{}) {
			bestEffort = false
		}
		if c.Limits.CPUMilli == 0 || c.Limits.MemoryBytes == 0 || req != c.Limits {
			guaranteed = false
		}
	}
	switch {
	case len(ctrs) > 0 && guaranteed:
		return QOSGuaranteed
	case bestEffort:
		return QOSBestEffort
	}
	return QOSBurstable
}

// OOMScoreAdj is a container's oom_score_adj as the kubelet sets it:
// -997 in a Guaranteed pod, 1000 in a BestEffort one, and in a Burstable
// one 1000 less the thousandths of the node's memory (capacity) its
// memory request (or limit, when only that is set) takes, within [3, 999],
// so that under memory pressure the kernel kills containers that use more
// than they asked for first.
func OOMScoreAdj(class string, c Container, capacity int64) int {
	switch class {
	case QOSGuaranteed:
		return guaranteedOOMScoreAdj
	case QOSBestEffort:
		return bestEffortOOMScoreAdj
	}
	req := c.Requests.MemoryBytes
	if req == 0 {
		req = c.Limits.MemoryBytes
	}
	adj := bestEffortOOMScoreAdj
	if capacity > 0 {
		// In floating point: 1000*req overflows int64 for requests past
		// 9 PB, which validation allows.
		adj = 1000 - int(1000*float64(req)/float64(capacity))
	}
	return min(max(adj, minBurstableOOMScoreAdj), bestEffortOOMScoreAdj-1)
}
