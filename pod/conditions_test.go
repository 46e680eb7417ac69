package pod

import (
	"fmt"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifests"
)

func TestConditions(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	running := func(name string, s int) api.ContainerStatus {
		return api.ContainerStatus{Name: name, Ready: true, State: api.ContainerState{Running: &api.StateRunning{StartedAt: at(s)}}}
	}
	exited := func(name string, code int32, s int) api.ContainerStatus {
		return api.ContainerStatus{Name: name, State: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: code, FinishedAt: at(s)}}}
	}
	backingOff := api.ContainerStatus{Name: "b", RestartCount: 2,
		State:     api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonCrashLoopBackOff}},
		LastState: api.ContainerState{Terminated: &api.StateTerminated{ExitCode: 1, FinishedAt: at(9)}}}
	waiting := api.ContainerStatus{Name: "a", State: api.ContainerState{Waiting: &api.StateWaiting{Reason: api.ReasonContainerCreating}}}
	start := at(1)
	pod := func(phase string, started bool, init, ctrs []api.ContainerStatus) api.Pod {
		p := api.Pod{Status: api.PodStatus{Phase: phase, InitContainerStatuses: init, ContainerStatuses: ctrs}}
		for _, c := range init {
			p.Spec.InitContainers = append(p.Spec.InitContainers, manifests.Container{Name: c.Name})
		}
		for _, c := range ctrs {
			p.Spec.Containers = append(p.Spec.Containers, manifests.Container{Name: c.Name})
		}
		if started {
			p.Status.StartTime = &start
		}
		return p
	}
	// Each row: ReadyToStart, Initialized, Ready (= ContainersReady),
	// with the time and, when False, the reason.
	for _, tt := range []struct {
		name string
		pod  api.Pod
		want string
	}{
		{"being created", pod(api.PodPending, false, nil, []api.ContainerStatus{waiting}),
			"False@0:: True@0 False@0:ContainersNotReady:containers with unready status: [a]"},
		{"running", pod(api.PodRunning, true, nil, []api.ContainerStatus{running("a", 2), running("b", 3)}),
			"True@1 True@0 True@3"},
		{"after init", pod(api.PodRunning, true, []api.ContainerStatus{exited("i", 0, 2)}, []api.ContainerStatus{running("a", 3)}),
			"True@1 True@2 True@3"},
		{"init running", pod(api.PodPending, true, []api.ContainerStatus{running("i", 2)}, []api.ContainerStatus{waiting}),
			"True@1 False@1:ContainersNotInitialized:containers with incomplete status: [i] False@1:ContainersNotReady:containers with unready status: [a]"},
		{"crash loop", pod(api.PodRunning, true, nil, []api.ContainerStatus{running("a", 2), backingOff}),
			"True@1 True@0 False@9:ContainersNotReady:containers with unready status: [b]"},
		{"infra unreachable", api.Pod{Spec: manifests.PodSpec{InitContainers: []manifests.Container{{Name: "i"}}, Containers: []manifests.Container{{Name: "a"}}}, Status: api.PodStatus{Phase: api.PodUnknown}},
			"False@0:: False@0:ContainersNotInitialized:containers with incomplete status: [i] False@0:ContainersNotReady:containers with unready status: [a]"},
		{"completed", pod(api.PodSucceeded, true, nil, []api.ContainerStatus{exited("a", 0, 7)}),
			"True@1 True@0 False@7:PodCompleted:"},
	} {
		cs := conditions(tt.pod, t0)
		if len(cs) != 5 || cs[2].Type != api.PodReady || cs[3].Type != api.ContainersReady || cs[4].Type != api.PodScheduled {
			t.Fatalf("%s: conditions %+v, want the kubelet's five in its order", tt.name, cs)
		}
		if cs[2].Status != cs[3].Status || cs[2].Reason != cs[3].Reason || cs[4].Status != api.ConditionTrue || !cs[4].LastTransitionTime.Equal(t0) {
			t.Errorf("%s: Ready %+v, ContainersReady %+v, PodScheduled %+v", tt.name, cs[2], cs[3], cs[4])
		}
		var got string
		for i, c := range cs[:3] {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%s@%d", c.Status, int(c.LastTransitionTime.Sub(t0).Seconds()))
			if c.Status == api.ConditionFalse {
				got += ":" + c.Reason + ":" + c.Message
			}
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestQOSClass(t *testing.T) {
	q := manifests.MustParseQuantity
	res := func(kv ...string) map[string]manifests.Quantity {
		m := map[string]manifests.Quantity{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = q(kv[i+1])
		}
		return m
	}
	ctr := func(limits, requests map[string]manifests.Quantity) manifests.Container {
		return manifests.Container{Resources: manifests.ResourceRequirements{Limits: limits, Requests: requests}}
	}
	for _, tt := range []struct {
		name string
		spec manifests.PodSpec
		want string
	}{
		{"nothing set", manifests.PodSpec{Containers: []manifests.Container{ctr(nil, nil)}}, api.QOSBestEffort},
		{"only other resources", manifests.PodSpec{Containers: []manifests.Container{ctr(res("ephemeral-storage", "1Gi"), nil)}}, api.QOSBestEffort},
		{"zero request", manifests.PodSpec{Containers: []manifests.Container{ctr(nil, res("cpu", "0"))}}, api.QOSBestEffort},
		{"limits only: requests default to them", manifests.PodSpec{Containers: []manifests.Container{ctr(res("cpu", "1", "memory", "1Gi"), nil)}}, api.QOSGuaranteed},
		{"equal", manifests.PodSpec{Containers: []manifests.Container{ctr(res("cpu", "1", "memory", "1Gi"), res("cpu", "1000m", "memory", "1024Mi"))}}, api.QOSGuaranteed},
		{"request below limit", manifests.PodSpec{Containers: []manifests.Container{ctr(res("cpu", "1", "memory", "1Gi"), res("cpu", "500m"))}}, api.QOSBurstable},
		{"no memory limit", manifests.PodSpec{Containers: []manifests.Container{ctr(res("cpu", "1"), nil)}}, api.QOSBurstable},
		{"only a request", manifests.PodSpec{Containers: []manifests.Container{ctr(nil, res("memory", "64Mi"))}}, api.QOSBurstable},
		{"one container without", manifests.PodSpec{Containers: []manifests.Container{ctr(res("cpu", "1", "memory", "1Gi"), nil), ctr(nil, nil)}}, api.QOSBurstable},
		{"init container counts", manifests.PodSpec{
			InitContainers: []manifests.Container{ctr(nil, nil)},
			Containers:     []manifests.Container{ctr(res("cpu", "1", "memory", "1Gi"), nil)},
		}, api.QOSBurstable},
	} {
		if got := qosClass(&tt.spec); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
