package infra

import (
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
)

// TestRunsKey: a watch sends a status again when a run starts or ends,
// a sidecar's Started changes or the pod begins stopping, and not for
// anything else (a restart count, a waiting reason).
func TestRunsKey(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := func(at time.Time) kube.ContainerState {
		return kube.ContainerState{Running: &kube.StateRunning{StartedAt: at}}
	}
	waiting := kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "CrashLoopBackOff"}}
	base := PodStatus{Containers: []ContainerStatus{{Name: "app", State: running(t0)}}}
	for _, tc := range []struct {
		name string
		st   PodStatus
		same bool
	}{
		{"same run, other restart count", PodStatus{Containers: []ContainerStatus{{Name: "app", State: running(t0), RestartCount: 3}}}, true},
		{"new run", PodStatus{Containers: []ContainerStatus{{Name: "app", State: running(t0.Add(time.Second))}}}, false},
		{"exited", PodStatus{Containers: []ContainerStatus{{Name: "app", State: waiting}}}, false},
		{"sidecar started", PodStatus{Containers: []ContainerStatus{{Name: "app", State: running(t0), Started: true}}}, false},
		{"init container runs", PodStatus{InitContainers: []ContainerStatus{{Name: "init", State: running(t0)}}, Containers: base.Containers}, false},
		{"stopping", PodStatus{Stopping: true, Containers: base.Containers}, false},
	} {
		if got := runsKey(tc.st) == runsKey(base); got != tc.same {
			t.Errorf("%s: same key = %v, want %v", tc.name, got, tc.same)
		}
	}
}
