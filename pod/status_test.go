package pod

import (
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/manifests"
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

func TestCreatingStatusNames(t *testing.T) {
	ctr := func(names ...string) []manifests.Container {
		var out []manifests.Container
		for _, n := range names {
			out = append(out, manifests.Container{Name: n, Image: "img"})
		}
		return out
	}
	plain := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "p", Namespace: "default"}, Spec: manifests.PodSpec{Containers: ctr("a", "b")}}
	withInit := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "q", Namespace: "default"}, Spec: manifests.PodSpec{InitContainers: ctr("setup"), Containers: ctr("a")}}
	notStarted := &infra.PodStatus{Containers: []infra.ContainerStatus{
		{Name: "a", State: infra.ContainerState{Waiting: &infra.StateWaiting{Reason: infra.ReasonPodInitializing}}},
	}}
	for _, tc := range []struct {
		name string
		pod  api.Pod
		want string
	}{
		{"being created", creatingPod(plain, "/m/p.yaml", time.Now()), "ContainerCreating"},
		{"being created, init first", creatingPod(withInit, "/m/q.yaml", time.Now()), "Init:0/1"},
		{"infra up, not started", apiPod(&record{Pod: plain}, notStarted, false, ""), "ContainerCreating"},
		{"terminating", apiPod(&record{Pod: plain}, &infra.PodStatus{Started: true, Stopping: true}, false, ""), "Terminating"},
	} {
		if got := api.DisplayStatus(tc.pod); got != tc.want {
			t.Errorf("%s: status %q, want %q", tc.name, got, tc.want)
		}
		if api.Settled(tc.pod) && tc.want != "Terminating" {
			t.Errorf("%s: settled, but apply must keep waiting", tc.name)
		}
	}
	if p := creatingPod(plain, "/m/p.yaml", time.Now()); p.Status.Phase != api.PodPending || p.File() != "/m/p.yaml" || len(p.Status.ContainerStatuses) != 2 {
		t.Errorf("creating pod: %+v", p)
	}
}

func TestPodEvents(t *testing.T) {
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Name: "web", Namespace: "prod"}}
	t0 := time.Unix(100, 0)
	got := podEvents(p, []infra.Event{{FirstTime: t0, Time: t0.Add(time.Minute), Count: 3, Type: infra.EventWarning, Reason: infra.EventBackOff, Container: "srv", Message: "m"}})
	want := api.Event{FirstTime: t0, Time: t0.Add(time.Minute), Count: 3, Type: "Warning", Reason: "BackOff", Object: "pod/prod/web", Container: "srv", Message: "m"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("podEvents = %+v, want %+v", got, want)
	}
	for r, want := range map[string]string{
		api.ReasonImageNotFound:     api.EventImageNotFound,
		api.ReasonCreateFailed:      api.EventFailed,
		api.ReasonErrImagePull:      api.EventFailed,
		api.ReasonImagePullBackOff:  api.EventBackOff,
		api.ReasonContainerCreating: "",
	} {
		if got := failedEventReason(r); got != want {
			t.Errorf("failedEventReason(%s) = %q, want %q", r, got, want)
		}
	}
}
