package manifests

import (
	"testing"

	"github.com/berth-project/berth/kube"
)

// TestQOSClass: the QoS class as Kubernetes computes it, which the pod's
// status, the update planner and the cgroups agree on (a zero quantity is
// no request).
func TestQOSClass(t *testing.T) {
	q := MustParseQuantity
	res := func(kv ...string) map[string]Quantity {
		m := map[string]Quantity{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = q(kv[i+1])
		}
		return m
	}
	ctr := func(limits, requests map[string]Quantity) Container {
		return Container{Resources: ResourceRequirements{Limits: limits, Requests: requests}}
	}
	for _, tt := range []struct {
		name string
		spec PodSpec
		want string
	}{
		{"nothing set", PodSpec{Containers: []Container{ctr(nil, nil)}}, kube.QOSBestEffort},
		{"only other resources", PodSpec{Containers: []Container{ctr(res("ephemeral-storage", "1Gi"), nil)}}, kube.QOSBestEffort},
		{"zero request", PodSpec{Containers: []Container{ctr(nil, res("cpu", "0"))}}, kube.QOSBestEffort},
		{"limits only: requests default to them", PodSpec{Containers: []Container{ctr(res("cpu", "1", "memory", "1Gi"), nil)}}, kube.QOSGuaranteed},
		{"equal", PodSpec{Containers: []Container{ctr(res("cpu", "1", "memory", "1Gi"), res("cpu", "1000m", "memory", "1024Mi"))}}, kube.QOSGuaranteed},
		{"request below limit", PodSpec{Containers: []Container{ctr(res("cpu", "1", "memory", "1Gi"), res("cpu", "500m"))}}, kube.QOSBurstable},
		{"no memory limit", PodSpec{Containers: []Container{ctr(res("cpu", "1"), nil)}}, kube.QOSBurstable},
		{"only a request", PodSpec{Containers: []Container{ctr(nil, res("memory", "64Mi"))}}, kube.QOSBurstable},
		{"one container without", PodSpec{Containers: []Container{ctr(res("cpu", "1", "memory", "1Gi"), nil), ctr(nil, nil)}}, kube.QOSBurstable},
		{"init container counts", PodSpec{
			InitContainers: []Container{ctr(nil, nil)},
			Containers:     []Container{ctr(res("cpu", "1", "memory", "1Gi"), nil)},
		}, kube.QOSBurstable},
	} {
		if got := QOSClass(&tt.spec); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
