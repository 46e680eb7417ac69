package cgroups

import "testing"

func TestQOSClassAndOOMScoreAdj(t *testing.T) {
	const gi = 1 << 30
	none := Container{}
	guaranteed := Container{Limits: Quantities{CPUMilli: 500, MemoryBytes: gi}}
	cpuOnly := Container{Limits: Quantities{CPUMilli: 500}}
	memReq := Container{Requests: Quantities{MemoryBytes: gi}}
	lower := Container{Limits: Quantities{CPUMilli: 500, MemoryBytes: gi}, Requests: Quantities{MemoryBytes: gi / 2}}
	for _, tc := range []struct {
		name     string
		ctrs     []Container
		class    string
		capacity int64
		adj      int // of ctrs[0]
	}{
		{"no resources", []Container{none, none}, QOSBestEffort, 8 * gi, 1000},
		{"limits equal requests", []Container{guaranteed, guaranteed}, QOSGuaranteed, 8 * gi, -997},
		{"one container without limits", []Container{guaranteed, none}, QOSBurstable, 8 * gi, 875},
		{"cpu limit only", []Container{cpuOnly}, QOSBurstable, 8 * gi, 999},
		{"memory request of 1/8", []Container{memReq}, QOSBurstable, 8 * gi, 875},
		{"request below limit", []Container{lower}, QOSBurstable, 8 * gi, 938},
		{"request near capacity", []Container{memReq}, QOSBurstable, gi + 1, 3},
		{"request past capacity", []Container{memReq}, QOSBurstable, gi / 2, 3},
		{"capacity unknown", []Container{memReq}, QOSBurstable, 0, 999},
		{"huge request", []Container{{Requests: Quantities{MemoryBytes: MaxMemoryBytes}}}, QOSBurstable, 8 * gi, 3},
	} {
		class := QOSClass(tc.ctrs)
		if class != tc.class {
			t.Errorf("%s: class %s, want %s", tc.name, class, tc.class)
		}
		if adj := OOMScoreAdj(class, tc.ctrs[0], tc.capacity); adj != tc.adj {
			t.Errorf("%s: oom_score_adj %d, want %d", tc.name, adj, tc.adj)
		}
	}
}
