package pod

import (
	"fmt"
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

func TestConditions(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	running := func(name string, s int) ContainerView {
		return ContainerView{Name: name, Ready: true, State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: at(s)}}}
	}
	exited := func(name string, code int32, s int) ContainerView {
		return ContainerView{Name: name, State: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: code, FinishedAt: at(s)}}}
	}
	backingOff := ContainerView{Name: "b", RestartCount: 2,
		State:     kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonCrashLoopBackOff}},
		LastState: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 1, FinishedAt: at(9)}}}
	probed := func(c ContainerView, ready bool, s int) ContainerView {
		c.Ready, c.ProbedAt = ready, at(s)
		return c
	}
	waiting := ContainerView{Name: "a", State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonContainerCreating}}}
	start := at(1)
	pod := func(phase string, started bool, init, ctrs []ContainerView) View {
		p := View{Phase: phase, InitContainers: init, Containers: ctrs}
		for _, c := range init {
			p.Spec.InitContainers = append(p.Spec.InitContainers, manifests.Container{Name: c.Name})
		}
		for _, c := range ctrs {
			p.Spec.Containers = append(p.Spec.Containers, manifests.Container{Name: c.Name})
		}
		if started {
			p.StartTime = &start
		}
		return p
	}
	// Each row: ReadyToStart, Initialized, Ready (= ContainersReady),
	// with the time and, when False, the reason.
	for _, tt := range []struct {
		name string
		pod  View
		want string
	}{
		{"being created", pod(kube.PodPending, false, nil, []ContainerView{waiting}),
			"False@0:: True@0 False@0:ContainersNotReady:containers with unready status: [a]"},
		{"running", pod(kube.PodRunning, true, nil, []ContainerView{running("a", 2), running("b", 3)}),
			"True@1 True@0 True@3"},
		{"after init", pod(kube.PodRunning, true, []ContainerView{exited("i", 0, 2)}, []ContainerView{running("a", 3)}),
			"True@1 True@2 True@3"},
		{"init running", pod(kube.PodPending, true, []ContainerView{running("i", 2)}, []ContainerView{waiting}),
			"True@1 False@1:ContainersNotInitialized:containers with incomplete status: [i] False@1:ContainersNotReady:containers with unready status: [a]"},
		{"crash loop", pod(kube.PodRunning, true, nil, []ContainerView{running("a", 2), backingOff}),
			"True@1 True@0 False@9:ContainersNotReady:containers with unready status: [b]"},
		{"infra unreachable", View{Spec: manifests.PodSpec{InitContainers: []manifests.Container{{Name: "i"}}, Containers: []manifests.Container{{Name: "a"}}}, Phase: kube.PodUnknown},
			"False@0:: False@0:ContainersNotInitialized:containers with incomplete status: [i] False@0:ContainersNotReady:containers with unready status: [a]"},
		{"probes hold one unready", pod(kube.PodRunning, true, nil, []ContainerView{running("a", 2), probed(running("b", 3), false, 5)}),
			"True@1 True@0 False@5:ContainersNotReady:containers with unready status: [b]"},
		{"probes made it ready", pod(kube.PodRunning, true, nil, []ContainerView{running("a", 2), probed(running("b", 3), true, 6)}),
			"True@1 True@0 True@6"},
		{"completed", pod(kube.PodSucceeded, true, nil, []ContainerView{exited("a", 0, 7)}),
			"True@1 True@0 False@7:PodCompleted:"},
	} {
		cs := conditions(tt.pod, t0)
		if len(cs) != 5 || cs[2].Type != kube.PodReady || cs[3].Type != kube.ContainersReady || cs[4].Type != kube.PodScheduled {
			t.Fatalf("%s: conditions %+v, want the kubelet's five in its order", tt.name, cs)
		}
		if cs[2].Status != cs[3].Status || cs[2].Reason != cs[3].Reason || cs[4].Status != kube.ConditionTrue || !cs[4].LastTransitionTime.Equal(t0) {
			t.Errorf("%s: Ready %+v, ContainersReady %+v, PodScheduled %+v", tt.name, cs[2], cs[3], cs[4])
		}
		var got string
		for i, c := range cs[:3] {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%s@%d", c.Status, int(c.LastTransitionTime.Sub(t0).Seconds()))
			if c.Status == kube.ConditionFalse {
				got += ":" + c.Reason + ":" + c.Message
			}
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// TestConditionsWithSidecar: a sidecar is initialised once started, and
// its readiness counts for the pod's.
func TestConditionsWithSidecar(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	always := "Always"
	start := at(1)
	side := func(started, ready bool, probed int) ContainerView {
		return ContainerView{Name: "proxy", Started: &started, Ready: ready, ProbedAt: at(probed),
			State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: at(2)}}}
	}
	app := ContainerView{Name: "app", Ready: true, State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: at(4)}}}
	initializing := ContainerView{Name: "app", State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonPodInitializing}}}
	for _, tt := range []struct {
		name       string
		side, app  ContainerView
		wantInit   string
		wantReady  string
		wantReason string
	}{
		{"sidecar waits for its startup probe", side(false, false, 0), initializing, kube.ConditionFalse, kube.ConditionFalse, "containers with unready status: [proxy app]"},
		{"started, not ready", side(true, false, 3), app, kube.ConditionTrue, kube.ConditionFalse, "containers with unready status: [proxy]"},
		{"started and ready", side(true, true, 3), app, kube.ConditionTrue, kube.ConditionTrue, ""},
	} {
		v := View{Phase: kube.PodRunning, StartTime: &start, InitContainers: []ContainerView{tt.side}, Containers: []ContainerView{tt.app}}
		v.Spec.InitContainers = []manifests.Container{{Name: "proxy", RestartPolicy: &always}}
		v.Spec.Containers = []manifests.Container{{Name: "app"}}
		cs := conditions(v, t0)
		if cs[1].Status != tt.wantInit || cs[2].Status != tt.wantReady || cs[2].Message != tt.wantReason {
			t.Errorf("%s: Initialized %+v, Ready %+v", tt.name, cs[1], cs[2])
		}
	}
}
