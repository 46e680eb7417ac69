package pod

import (
	"testing"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/infra"
)

func TestPhase(t *testing.T) {
	running := infra.ContainerStatus{State: infra.ContainerState{Running: &infra.StateRunning{}}}
	exited := func(code int) infra.ContainerStatus {
		return infra.ContainerStatus{State: infra.ContainerState{Terminated: &infra.StateTerminated{ExitCode: code}}}
	}
	backingOff := infra.ContainerStatus{RestartCount: 1,
		State:     infra.ContainerState{Waiting: &infra.StateWaiting{Reason: infra.ReasonCrashLoopBackOff}},
		LastState: infra.ContainerState{Terminated: &infra.StateTerminated{ExitCode: 1}}}
	waiting := infra.ContainerStatus{State: infra.ContainerState{Waiting: &infra.StateWaiting{Reason: "ContainerCreating"}}}
	for _, tc := range []struct {
		name   string
		policy string
		st     infra.PodStatus
		want   string
	}{
		{"not started", "Always", infra.PodStatus{}, api.PodPending},
		{"running", "Always", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{running}}, api.PodRunning},
		{"crash loop is still Running", "Always", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{backingOff}}, api.PodRunning},
		{"creating", "Always", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{waiting}}, api.PodPending},
		{"all succeeded", "Never", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{exited(0), exited(0)}}, api.PodSucceeded},
		{"one failed", "Never", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{exited(0), exited(3)}}, api.PodFailed},
		{"one still running", "Never", infra.PodStatus{Started: true, Containers: []infra.ContainerStatus{exited(3), running}}, api.PodRunning},
		{"init running", "Always", infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{running}, Containers: []infra.ContainerStatus{waiting}}, api.PodPending},
		{"init failed, Never", "Never", infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{exited(1)}, Containers: []infra.ContainerStatus{waiting}}, api.PodFailed},
		{"init failed, OnFailure retries", "OnFailure", infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{exited(1)}, Containers: []infra.ContainerStatus{waiting}}, api.PodPending},
		{"init done", "Always", infra.PodStatus{Started: true, InitContainers: []infra.ContainerStatus{exited(0)}, Containers: []infra.ContainerStatus{running}}, api.PodRunning},
	} {
		if got := phase(tc.policy, &tc.st); got != tc.want {
			t.Errorf("%s: phase %s, want %s", tc.name, got, tc.want)
		}
	}
}
