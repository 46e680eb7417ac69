package pod

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

// observed is the one pod m lists.
func observed(t *testing.T, m *Manager) reconciler.Observed {
	t.Helper()
	obs, _ := m.ListPods(context.Background())
	if len(obs) != 1 {
		t.Fatalf("ListPods = %v, want one pod", obs)
	}
	return obs[0]
}

// TestRolloutThroughApply follows a pod through a first start, a change,
// a rollback and a new attempt, as the planner would drive it, and checks
// the record on disk keeps what the planner needs after a restart.
func TestRolloutThroughApply(t *testing.T) {
	for _, inPlace := range []bool{false, true} {
		t.Run(map[bool]string{false: "replaced", true: "in place"}[inPlace], func(t *testing.T) { testRolloutThroughApply(t, inPlace) })
	}
}

// replaceTo is the planner's Replace of the observed pod o by p: a change
// of a container's image, which the runtime makes in place, or, when
// !inPlace, as if it reached the pod, which is then replaced.
func replaceTo(o reconciler.Observed, p *manifests.Pod, inPlace bool) reconciler.Action {
	change := reconciler.Change{Scope: reconciler.ScopePod}
	if inPlace {
		change = reconciler.DiffSpec(o.Pod, p)
	}
	return reconciler.Action{Kind: reconciler.Replace, Key: o.Key, Desired: &reconciler.Desired{Key: o.Key, File: "web.yaml", Pod: p}, Observed: &o, Change: change}
}

func testRolloutThroughApply(t *testing.T, inPlace bool) {
	h := newFakeHost(t.TempDir())
	m := newTestManager(h)
	ctx := context.Background()
	v1 := webPod(t)
	t.Cleanup(func() { m.Apply(ctx, deleteAction(v1)) })
	key := reconciler.PodKey{Namespace: v1.Namespace, Name: v1.Name}
	if err := m.Apply(ctx, createAction(v1)); err != nil {
		t.Fatal(err)
	}
	if o := observed(t, m); !o.Rollout.Trial || o.Rollout.LastGood != nil {
		t.Fatalf("first start: rollout %+v, want a trial without last good spec", o.Rollout)
	}
	o := observed(t, m)
	if err := m.Apply(ctx, reconciler.Action{Kind: reconciler.Accept, Key: key, Desired: &reconciler.Desired{Key: key, File: "web.yaml", Pod: v1}, Observed: &o}); err != nil {
		t.Fatal(err)
	}
	if o := observed(t, m); o.Rollout.Trial {
		t.Fatalf("accepted: rollout %+v, want proven", o.Rollout)
	}

	v2 := webPod(t)
	v2.Spec.Containers[0].Image = "web:2"
	o = observed(t, m)
	accepted := o.Rollout.Since
	if err := m.Apply(ctx, replaceTo(o, v2, inPlace)); err != nil {
		t.Fatal(err)
	}
	o = observed(t, m)
	if !o.Rollout.Trial || o.Rollout.LastGood != v1 || o.Rollout.LastGoodFile != "web.yaml" || !o.Rollout.Since.After(accepted) {
		t.Fatalf("changed: rollout %+v, want a trial returning to v1, begun after %s", o.Rollout, accepted)
	}
	// The last good spec survives a daemon restart: it is in the record.
	e := m.pods[podid.ID(v1.Namespace, v1.Name)]
	onDisk, err := readRecord(e.layout.State)
	if err != nil || !onDisk.Rollout.Trial || onDisk.Rollout.LastGood == nil || onDisk.Rollout.LastGood.Spec.Containers[0].Image != v1.Spec.Containers[0].Image {
		t.Fatalf("record on disk %+v, %v: want the trial and v1", onDisk, err)
	}

	back := replaceTo(o, v1, inPlace)
	back.Rollback = "not ready within 1m0s: container web is not ready: Readiness probe failed"
	if err := m.Apply(ctx, back); err != nil {
		t.Fatal(err)
	}
	o = observed(t, m)
	if o.Rollout.Trial || o.Rollout.RolledBackFrom != v2 || o.Pod != v1 {
		t.Fatalf("rolled back: rollout %+v, want v1 running, proven, and v2 noted", o.Rollout)
	}
	v, _ := m.Pod(ctx, v1.Namespace, v1.Name)
	if v.Reason != kube.ReasonRolledBack || !strings.Contains(v.Message, "web.yaml") || !strings.Contains(v.Message, "Readiness probe failed") {
		t.Errorf("rolled back pod's view: reason %q, message %q; want RolledBack naming the file and the probe", v.Reason, v.Message)
	}

	v3 := webPod(t)
	v3.Spec.Containers[0].Image = "web:3"
	if err := m.Apply(ctx, replaceTo(o, v3, inPlace)); err != nil {
		t.Fatal(err)
	}
	o = observed(t, m)
	if !o.Rollout.Trial || o.Rollout.LastGood != v1 || o.Rollout.RolledBackFrom != nil {
		t.Fatalf("new attempt: rollout %+v, want a trial returning to v1", o.Rollout)
	}
	if v, _ := m.Pod(ctx, v1.Namespace, v1.Name); v.Reason == kube.ReasonRolledBack {
		t.Errorf("a new attempt still shows %s", v.Reason)
	}
}

func TestHoldShowsPendingUntilCreated(t *testing.T) {
	h := newFakeHost(t.TempDir())
	m := newTestManager(h)
	ctx := context.Background()
	p := webPod(t)
	t.Cleanup(func() { m.Apply(ctx, deleteAction(p)) })
	key := reconciler.PodKey{Namespace: p.Namespace, Name: p.Name}
	m.Apply(ctx, reconciler.Action{Kind: reconciler.Hold, Key: key, Desired: &reconciler.Desired{Key: key, File: "web.yaml", Pod: p},
		Hold: reconciler.HoldCycle, Reason: "dependency cycle: default/a -> default/web -> default/a"})
	v, ok := m.Pod(ctx, p.Namespace, p.Name)
	if !ok || v.Phase != kube.PodPending || v.Reason != reconciler.HoldCycle || !strings.Contains(v.Message, "cycle") {
		t.Fatalf("held pod: %v %+v; want Pending with the hold's reason", ok, v)
	}
	m.Forget(func(string, string) bool { return false })
	if _, ok := m.Pod(ctx, p.Namespace, p.Name); ok {
		t.Fatal("a held pod no longer declared is still shown")
	}
	m.Apply(ctx, reconciler.Action{Kind: reconciler.Hold, Key: key, Desired: &reconciler.Desired{Key: key, File: "web.yaml", Pod: p},
		Hold: reconciler.HoldWaiting, Reason: "waiting for default/a to be Ready"})
	if err := m.Apply(ctx, createAction(p)); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Pod(ctx, p.Namespace, p.Name); v.Reason == reconciler.HoldWaiting || len(m.held) != 0 {
		t.Errorf("created pod still shows its hold: %+v", v)
	}
}

func TestPodHealth(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pod := func(policy string) *manifests.Pod {
		p := &manifests.Pod{}
		p.Spec.RestartPolicy = policy
		p.Spec.Containers = []manifests.Container{{Name: "a", ReadinessProbe: &manifests.Probe{}}, {Name: "b"}}
		return p
	}
	running := kube.ContainerState{Running: &kube.StateRunning{StartedAt: t0}}
	tests := []struct {
		name   string
		pod    *manifests.Pod
		view   View
		probed map[string]probeStatus
		want   string
	}{
		{name: "ready pod, running containers", pod: pod("Always"),
			view: View{Conditions: []Condition{{Type: kube.PodReady, Status: kube.ConditionTrue}},
				Containers: []ContainerView{{Name: "a", Ready: true, State: running}, {Name: "b", Ready: true, State: running}}},
			want: "ready; a ready probe since 03:04:05 ''; b ready since 03:04:05 ''"},
		{name: "failing readiness probe", pod: pod("Always"),
			view:   View{Containers: []ContainerView{{Name: "a", State: running}, {Name: "b", Ready: true, State: running}}},
			probed: map[string]probeStatus{"a": {failure: "Readiness probe failed: HTTP probe failed with statuscode: 500"}},
			want:   "not ready; a probe since 03:04:05 'Readiness probe failed: HTTP probe failed with statuscode: 500'; b ready since 03:04:05 ''"},
		{name: "waiting and crashed", pod: pod("Always"),
			view: View{Containers: []ContainerView{
				{Name: "a", State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s"}}},
				{Name: "b", State: running, RestartCount: 2, LastState: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 3}}}}},
			want: "not ready; a probe 'CrashLoopBackOff: back-off 10s'; b since 03:04:05 'restarted 2 times, last exit code 3'"},
		{name: "completed under OnFailure", pod: pod("OnFailure"),
			view: View{Containers: []ContainerView{{Name: "a", State: running, Ready: true},
				{Name: "b", State: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 0}}}}},
			want: "not ready; a ready probe since 03:04:05 ''; b completed 'exited with code 0'"},
		{name: "exited under Always is not completed", pod: pod("Always"),
			view: View{Containers: []ContainerView{{Name: "a", State: running, Ready: true},
				{Name: "b", State: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 0}}}}},
			want: "not ready; a ready probe since 03:04:05 ''; b 'exited with code 0'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := healthString(podHealth(tt.pod, tt.view, tt.probed)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func healthString(h *reconciler.Health) string {
	parts := []string{map[bool]string{true: "ready", false: "not ready"}[h.Ready]}
	for _, c := range h.Containers {
		s := c.Name
		if c.Ready {
			s += " ready"
		}
		if c.ReadinessProbe {
			s += " probe"
		}
		if c.Completed {
			s += " completed"
		}
		if !c.RunningSince.IsZero() {
			s += " since " + c.RunningSince.Format("15:04:05")
		}
		parts = append(parts, s+" '"+c.Problem+"'")
	}
	return strings.Join(parts, "; ")
}

// TestFailedTrialCreateKeepsItsTrial: a changed spec whose pod cannot be
// created is listed Absent with its trial, which a retry keeps (with its
// start) and a rollback ends on the last good spec.
func TestFailedTrialCreateKeepsItsTrial(t *testing.T) {
	h := newFakeHost(t.TempDir())
	m := newTestManager(h)
	ctx := context.Background()
	v1 := webPod(t)
	t.Cleanup(func() { m.Apply(ctx, deleteAction(v1)) })
	key := reconciler.PodKey{Namespace: v1.Namespace, Name: v1.Name}
	if err := m.Apply(ctx, createAction(v1)); err != nil {
		t.Fatal(err)
	}
	o := observed(t, m)
	m.Apply(ctx, reconciler.Action{Kind: reconciler.Accept, Key: key, Desired: &reconciler.Desired{Key: key, File: "web.yaml", Pod: v1}, Observed: &o})

	v2 := webPod(t)
	v2.Spec.Containers[0].Image = "berth.test/missing:2"
	h.pulls["berth.test/missing:2"] = kube.ReasonErrImagePull
	o = observed(t, m)
	if err := m.Apply(ctx, replaceTo(o, v2, false)); err == nil {
		t.Fatal("the create of a missing image succeeded")
	}
	o = observed(t, m)
	if !o.Absent || !o.Rollout.Trial || o.Rollout.LastGood != v1 || o.Rollout.Since.IsZero() || o.Pod != v2 {
		t.Fatalf("failed trial listed as %+v, want Absent on trial returning to v1", o)
	}
	since := o.Rollout.Since
	hs := m.Health(ctx, []reconciler.PodKey{key})
	if hs[key] == nil || len(hs[key].Containers) != 1 || !strings.Contains(hs[key].Containers[0].Problem, kube.ReasonErrImagePull) {
		t.Errorf("failed trial's health %+v, want the failure as its container's problem", hs[key])
	}
	retry := reconciler.Action{Kind: reconciler.Create, Key: key, Desired: &reconciler.Desired{Key: key, File: "web.yaml", Pod: v2}, Observed: &o}
	if err := m.Apply(ctx, retry); err == nil {
		t.Fatal("the retry of a missing image succeeded")
	}
	if o = observed(t, m); !o.Rollout.Since.Equal(since) {
		t.Errorf("the retry moved the trial's start from %s to %s", since, o.Rollout.Since)
	}
	back := replaceTo(o, v1, false)
	back.Rollback = "image missing"
	if err := m.Apply(ctx, back); err != nil {
		t.Fatal(err)
	}
	if o = observed(t, m); o.Absent || o.Pod != v1 || o.Rollout.RolledBackFrom != v2 {
		t.Errorf("after the rollback: %+v, want v1 running with v2 noted", o)
	}
}

// TestStopAllRemovesDependentsFirst: c waits for b, b for a; StopAll
// stops c's infra before b's and b's before a's, and leaves nothing.
func TestStopAllRemovesDependentsFirst(t *testing.T) {
	h := newFakeHost(t.TempDir())
	m := newTestManager(h)
	ctx := context.Background()
	for _, pair := range [][2]string{{"a", ""}, {"b", "a"}, {"c", "b"}} {
		p := webPod(t)
		p.Name = pair[0]
		p.Spec.Containers[0].Ports = nil
		if pair[1] != "" {
			p.Annotations = map[string]string{manifests.AnnotationAfter: pair[1]}
		}
		if err := m.Apply(ctx, createAction(p)); err != nil {
			t.Fatal(err)
		}
	}
	h.log()
	if err := m.StopAll(ctx); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, op := range h.log() {
		if strings.HasPrefix(op, "infra stop ") {
			order = append(order, strings.Fields(op)[2])
		}
	}
	if want := []string{"default/c", "default/b", "default/a"}; !slices.Equal(order, want) {
		t.Errorf("infras stopped in the order %v, want %v", order, want)
	}
	checkEmpty(t, h)
}
