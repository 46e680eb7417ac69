package manifests

import "github.com/berth-project/berth/kube"

// QOSClass is the pod's quality of service class, as Kubernetes computes
// it from the CPU and memory requests and limits of all its containers: a
// request left out counts as its limit (the API server defaults it so);
// BestEffort when none is set, Guaranteed when every container limits both
// and requests what it limits, Burstable otherwise.
func QOSClass(s *PodSpec) string {
	set, guaranteed := false, true
	for _, c := range append(append([]Container(nil), s.InitContainers...), s.Containers...) {
		for _, r := range []string{"cpu", "memory"} {
			limit, hasLimit := c.Resources.Limits[r]
			req, hasReq := c.Resources.Requests[r]
			hasLimit = hasLimit && limit.Sign() > 0
			hasReq = hasReq && req.Sign() > 0
			if hasLimit || hasReq {
				set = true
			}
			if !hasLimit || (hasReq && req.Cmp(limit) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !set:
		return kube.QOSBestEffort
	case guaranteed:
		return kube.QOSGuaranteed
	}
	return kube.QOSBurstable
}
