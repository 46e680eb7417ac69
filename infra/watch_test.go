package infra

import (
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
)

// TestWatchKey: a watch sends a status again when anything in it but its
// events changed: a run starting or ending, a sidecar's Started, the pod
// stopping, and also a restart count or a waiting reason, so that the
// daemon may show the last status pushed as the pod's.
func TestWatchKey(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := func(at time.Time) kube.ContainerState {
		return kube.ContainerState{Running: &kube.StateRunning{StartedAt: at}}
	}
	waiting := func(reason string) kube.ContainerState {
		return kube.ContainerState{Waiting: &kube.StateWaiting{Reason: reason}}
	}
	base := PodStatus{Started: true, Containers: []ContainerStatus{{Name: "app", State: running(t0)}}, Events: []Event{{Reason: "Started"}}}
	ctrs := func(cs ...ContainerStatus) PodStatus { return PodStatus{Started: true, Containers: cs} }
	for _, tc := range []struct {
		name string
		st   PodStatus
		same bool
	}{
		{"other events only", PodStatus{Started: true, Containers: base.Containers, Events: []Event{{Reason: "Unhealthy"}}}, true},
		{"other restart count", ctrs(ContainerStatus{Name: "app", State: running(t0), RestartCount: 3}), false},
		{"new run", ctrs(ContainerStatus{Name: "app", State: running(t0.Add(time.Second))}), false},
		{"exited", ctrs(ContainerStatus{Name: "app", State: waiting(kube.ReasonCrashLoopBackOff)}), false},
		{"sidecar started", ctrs(ContainerStatus{Name: "app", State: running(t0), Started: true}), false},
		{"init container runs", PodStatus{Started: true, InitContainers: []ContainerStatus{{Name: "init", State: running(t0)}}, Containers: base.Containers}, false},
		{"stopping", PodStatus{Started: true, Stopping: true, Containers: base.Containers}, false},
		{"pod failed", PodStatus{Started: true, Reason: kube.ReasonDeadlineExceeded, Containers: base.Containers}, false},
	} {
		if got := watchKey(tc.st) == watchKey(base); got != tc.same {
			t.Errorf("%s: same key = %v, want %v", tc.name, got, tc.same)
		}
	}
	a := ctrs(ContainerStatus{Name: "app", State: waiting(kube.ReasonPodInitializing)})
	b := ctrs(ContainerStatus{Name: "app", State: waiting(kube.ReasonCreateFailed)})
	if watchKey(a) == watchKey(b) {
		t.Error("a container that could not be created (no run started) is not sent")
	}
}
