package api

import (
	"testing"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// withSidecar is a pod with a sidecar, running, and one container in
// state app.
func withSidecar(phase string, started bool, app kube.ContainerState) Pod {
	always := "Always"
	p := Pod{Status: PodStatus{Phase: phase,
		InitContainerStatuses: []ContainerStatus{{Name: "proxy", Started: &started, Ready: started, RestartCount: 2, State: kube.ContainerState{Running: &kube.StateRunning{}}}},
		ContainerStatuses:     []ContainerStatus{{Name: "app", Ready: app.Running != nil, RestartCount: 1, State: app}}}}
	p.Spec.InitContainers = []manifests.Container{{Name: "proxy", RestartPolicy: &always}}
	p.Spec.Containers = []manifests.Container{{Name: "app"}}
	return p
}

func TestSidecarColumns(t *testing.T) {
	p := withSidecar(PodRunning, true, kube.ContainerState{Running: &kube.StateRunning{}})
	if ready, total := ReadyCount(p); ready != 2 || total != 2 {
		t.Errorf("READY %d/%d, want 2/2", ready, total)
	}
	if n := Restarts(p); n != 3 {
		t.Errorf("RESTARTS %d, want 3", n)
	}
}

func TestDisplayStatusAndSettled(t *testing.T) {
	run := kube.ContainerState{Running: &kube.StateRunning{}}
	for _, tc := range []struct {
		name    string
		pod     Pod
		status  string
		settled bool
		arrived bool
	}{
		{"running", Pod{Status: PodStatus{Phase: PodRunning, ContainerStatuses: []ContainerStatus{{State: run}}}}, "Running", true, true},
		{"creating", Pod{Status: PodStatus{Phase: PodPending, ContainerStatuses: []ContainerStatus{{State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "ContainerCreating"}}}}}}, "ContainerCreating", false, false},
		{"crash loop", Pod{Status: PodStatus{Phase: PodRunning, ContainerStatuses: []ContainerStatus{{State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: ReasonCrashLoopBackOff}}}}}}, "CrashLoopBackOff", true, false},
		{"invalid manifest", Pod{Status: PodStatus{Phase: PodPending, Reason: ReasonInvalidManifest}}, "InvalidManifest", true, false},
		{"completed", Pod{Status: PodStatus{Phase: PodSucceeded, ContainerStatuses: []ContainerStatus{{State: kube.ContainerState{Terminated: &kube.StateTerminated{Reason: "Completed"}}}}}}, "Completed", true, true},
		{"oom", Pod{Status: PodStatus{Phase: PodFailed, ContainerStatuses: []ContainerStatus{{State: kube.ContainerState{Terminated: &kube.StateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}}}, "OOMKilled", true, false},
		{"init running", Pod{Status: PodStatus{Phase: PodPending, InitContainerStatuses: []ContainerStatus{{State: run}}, ContainerStatuses: []ContainerStatus{{State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "PodInitializing"}}}}}}, "Init:0/1", false, false},
		{"terminating", Pod{Status: PodStatus{Phase: PodRunning, Reason: "Terminating"}}, "Terminating", true, true},
		{"sidecar not started", withSidecar(PodPending, false, kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "PodInitializing"}}), "Init:0/1", false, false},
		{"sidecar started", withSidecar(PodRunning, true, run), "Running", true, true},
		{"job done, sidecar stopped", withSidecar(PodSucceeded, false, kube.ContainerState{Terminated: &kube.StateTerminated{Reason: "Completed"}}), "Completed", true, true},
		{"deadline", Pod{Status: PodStatus{Phase: PodFailed, Reason: "DeadlineExceeded"}}, "DeadlineExceeded", true, false},
		{"waiting for a dependency", Pod{Status: PodStatus{Phase: PodPending, Reason: kube.ReasonWaitingForDependency}}, "WaitingForDependency", false, false},
		{"dependency cycle", Pod{Status: PodStatus{Phase: PodPending, Reason: ReasonDependencyCycle}}, "DependencyCycle", true, false},
		{"dependency missing", Pod{Status: PodStatus{Phase: PodPending, Reason: ReasonDependencyMissing}}, "DependencyMissing", true, false},
		{"rolled back", Pod{Status: PodStatus{Phase: PodRunning, Reason: kube.ReasonRolledBack, ContainerStatuses: []ContainerStatus{{State: run}}}}, "RolledBack", true, true},
	} {
		if got := DisplayStatus(tc.pod); got != tc.status {
			t.Errorf("%s: status %q, want %q", tc.name, got, tc.status)
		}
		if got := Settled(tc.pod); got != tc.settled {
			t.Errorf("%s: settled %v, want %v", tc.name, got, tc.settled)
		}
		if got := Brief(tc.pod).Arrived(); got != tc.arrived {
			t.Errorf("%s: arrived %v, want %v", tc.name, got, tc.arrived)
		}
	}
}

// TestReadySettled: waiting for Ready ends at Ready, at the pod's end or
// at a failure waiting does not mend, and goes on while a running pod's
// readiness probe has not succeeded, a container restarting included.
func TestReadySettled(t *testing.T) {
	run := kube.ContainerState{Running: &kube.StateRunning{}}
	probed := func(phase string, ready bool, states ...kube.ContainerState) Pod {
		p := Pod{Status: PodStatus{Phase: phase}}
		p.Spec.Containers = []manifests.Container{{Name: "web", ReadinessProbe: &manifests.Probe{}}}
		for _, st := range states {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, ContainerStatus{Name: "web", Ready: ready, State: st})
		}
		status := ConditionFalse
		if ready {
			status = ConditionTrue
		}
		p.Status.Conditions = []PodCondition{{Type: PodReady, Status: status}}
		return p
	}
	for _, tc := range []struct {
		name                 string
		pod                  Pod
		probe, ready, doneAt bool
		arrived              bool
	}{
		{"running, not ready", probed(PodRunning, false, run), true, false, false, false},
		{"ready", probed(PodRunning, true, run), true, true, true, true},
		{"starting", probed(PodPending, false, kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "ContainerCreating"}}), true, false, false, false},
		{"restarting", probed(PodRunning, false, kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 1}}), true, false, false, false},
		{"crash loop", probed(PodRunning, false, kube.ContainerState{Waiting: &kube.StateWaiting{Reason: ReasonCrashLoopBackOff}}), true, false, true, false},
		{"ended", probed(PodSucceeded, false, kube.ContainerState{Terminated: &kube.StateTerminated{Reason: "Completed"}}), true, false, true, true},
		{"no probe", Pod{Status: PodStatus{Phase: PodRunning, ContainerStatuses: []ContainerStatus{{State: run}}}}, false, false, false, true},
		{"sidecar probe", withSidecar(PodRunning, true, run), false, false, false, false},
	} {
		if tc.name == "sidecar probe" {
			tc.pod.Spec.InitContainers[0].ReadinessProbe = &manifests.Probe{}
			tc.probe = true
		}
		if got := HasReadinessProbe(tc.pod); got != tc.probe {
			t.Errorf("%s: HasReadinessProbe %v, want %v", tc.name, got, tc.probe)
		}
		if got := IsReady(tc.pod); got != tc.ready {
			t.Errorf("%s: IsReady %v, want %v", tc.name, got, tc.ready)
		}
		if got := ReadySettled(tc.pod); got != tc.doneAt {
			t.Errorf("%s: ReadySettled %v, want %v", tc.name, got, tc.doneAt)
		}
		if got := Brief(tc.pod).Arrived(); got != tc.arrived {
			t.Errorf("%s: arrived %v, want %v", tc.name, got, tc.arrived)
		}
	}
}
