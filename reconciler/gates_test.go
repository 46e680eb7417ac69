package reconciler

import (
	"slices"
	"testing"
	"time"

	"github.com/berth-project/berth/manifests"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func after(d Desired, deps string) Desired {
	p := *d.Pod
	p.Annotations = map[string]string{manifests.AnnotationAfter: deps}
	d.Pod = &p
	return d
}

func ready(o Observed, r bool) Observed {
	o.Health = &Health{Ready: r}
	return o
}

func TestPlanDependencies(t *testing.T) {
	gate := Gate{Now: t0}
	tests := []struct {
		name     string
		desired  []Desired
		observed []Observed
		want     []string
		wait     bool
	}{
		{
			name:    "a chain starts its head only",
			desired: []Desired{want("a", "/m/a.yaml", "i", nil), after(want("b", "/m/b.yaml", "i", nil), "a"), after(want("c", "/m/c.yaml", "i", nil), "default/b")},
			want: []string{"create default/a: declared in a.yaml", "hold default/b: waiting for default/a to be Ready",
				"hold default/c: waiting for default/b to be Ready"},
			wait: true,
		},
		{
			name:     "a running dependency that is not Ready holds",
			desired:  []Desired{want("a", "/m/a.yaml", "i", nil), after(want("b", "/m/b.yaml", "i", nil), "a")},
			observed: []Observed{ready(have("a", "u1", "/m/a.yaml", "i", nil), false)},
			want:     []string{"hold default/b: waiting for default/a to be Ready"},
			wait:     true,
		},
		{
			name:     "a dependency without health holds",
			desired:  []Desired{want("a", "/m/a.yaml", "i", nil), after(want("b", "/m/b.yaml", "i", nil), "a")},
			observed: []Observed{have("a", "u1", "/m/a.yaml", "i", nil)},
			want:     []string{"hold default/b: waiting for default/a to be Ready"},
			wait:     true,
		},
		{
			name:     "a Ready dependency lets the pod start",
			desired:  []Desired{want("a", "/m/a.yaml", "i", nil), after(want("b", "/m/b.yaml", "i", nil), "a"), after(want("c", "/m/c.yaml", "i", nil), "b")},
			observed: []Observed{ready(have("a", "u1", "/m/a.yaml", "i", nil), true)},
			want:     []string{"create default/b: declared in b.yaml", "hold default/c: waiting for default/b to be Ready"},
			wait:     true,
		},
		{
			name:     "a terminating dependency holds",
			desired:  []Desired{want("a", "/m/a.yaml", "i", nil), after(want("b", "/m/b.yaml", "i", nil), "a")},
			observed: []Observed{terminating(ready(have("a", "u1", "/m/a.yaml", "i", nil), true))},
			want:     []string{"hold default/b: waiting for default/a to be Ready"},
			wait:     true,
		},
		{
			// Only a file brings the dependency: no pass is asked for.
			name:    "a missing dependency holds with the reason",
			desired: []Desired{after(want("b", "/m/b.yaml", "i", nil), "other/a")},
			want:    []string{"hold default/b: waiting for other/a, which no manifest declares"},
		},
		{
			name:    "a cycle holds every pod on it and no other",
			desired: []Desired{after(want("x", "/m/x.yaml", "i", nil), "z"), after(want("y", "/m/y.yaml", "i", nil), "x"), after(want("z", "/m/z.yaml", "i", nil), "y"), after(want("w", "/m/w.yaml", "i", nil), "x")},
			want: []string{"hold default/w: waiting for default/x to be Ready",
				"hold default/x: dependency cycle: default/x -> default/z -> default/y -> default/x",
				"hold default/y: dependency cycle: default/x -> default/z -> default/y -> default/x",
				"hold default/z: dependency cycle: default/x -> default/z -> default/y -> default/x"},
			wait: true,
		},
		{
			name:     "a running pod is never held",
			desired:  []Desired{after(want("b", "/m/b.yaml", "i", nil), "a")},
			observed: []Observed{{Key: PodKey{"default", "b"}, UID: "u1", File: "/m/b.yaml", Pod: after(want("b", "/m/b.yaml", "i", nil), "a").Pod}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts, w := plan(gate, tt.desired, nil, tt.observed, manifests.SpecEqual)
			wait := w.any()
			if got := actionStrings(acts); !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if wait != tt.wait {
				t.Errorf("wait = %v, want %v", wait, tt.wait)
			}
			for _, a := range acts {
				if a.Kind == Hold && a.Hold == "" {
					t.Errorf("%s: no hold reason", a)
				}
			}
			// With the gates off nothing is held.
			for _, a := range Plan(tt.desired, nil, tt.observed) {
				if a.Kind == Hold {
					t.Errorf("gates off: %s", a)
				}
			}
		})
	}
}

func TestPlanHoldReasons(t *testing.T) {
	cyc := []Desired{after(want("x", "/m/x.yaml", "i", nil), "y"), after(want("y", "/m/y.yaml", "i", nil), "x")}
	missing := []Desired{after(want("b", "/m/b.yaml", "i", nil), "a")}
	waiting := []Desired{want("a", "/m/a.yaml", "i", nil), after(want("b", "/m/b.yaml", "i", nil), "a")}
	invalid := []Desired{after(want("b", "/m/b.yaml", "i", nil), "A_B")}
	for _, tt := range []struct {
		desired []Desired
		key     string
		want    string
	}{{cyc, "x", HoldCycle}, {cyc, "y", HoldCycle}, {missing, "b", HoldMissing}, {waiting, "b", HoldWaiting}, {invalid, "b", HoldInvalid}} {
		acts, _ := plan(Gate{Now: t0}, tt.desired, nil, nil, manifests.SpecEqual)
		i := slices.IndexFunc(acts, func(a Action) bool { return a.Key.Name == tt.key })
		if i < 0 || acts[i].Kind != Hold || acts[i].Hold != tt.want {
			t.Errorf("%s: got %v, want a hold %s", tt.key, acts, tt.want)
		}
	}
}

func onTrial(o Observed, since time.Time, good *manifests.Pod, h *Health) Observed {
	o.Rollout = Rollout{Trial: true, Since: since, LastGood: good, LastGoodFile: "/m/web.yaml"}
	o.Health = h
	return o
}

func TestPlanRollout(t *testing.T) {
	gate := Gate{Now: t0, Deadline: time.Minute, MinReady: 10 * time.Second}
	good := testPod("web", "img:1", nil)
	d2 := want("web", "/m/web.yaml", "img:2", nil)
	short := want("web", "/m/web.yaml", "img:2", nil)
	short.Pod.Annotations = map[string]string{manifests.AnnotationRolloutDeadline: "5s", manifests.AnnotationMinReady: "1s"}
	obs2 := have("web", "u2", "/m/web.yaml", "img:2", nil)
	obsShort := obs2
	obsShort.Pod = short.Pod
	probed := func(r bool, problem string) *Health {
		return &Health{Containers: []ContainerHealth{{Name: "main", ReadinessProbe: true, Ready: r, RunningSince: t0.Add(-time.Hour), Problem: problem}}}
	}
	running := func(since time.Time) *Health {
		return &Health{Containers: []ContainerHealth{{Name: "main", RunningSince: since}}}
	}
	absent := have("web", "", "/m/web.yaml", "img:2", nil)
	absent.Absent = true
	rolledBack := have("web", "u3", "/m/web.yaml", "img:1", nil)
	rolledBack.Rollout.RolledBackFrom = testPod("web", "img:2", nil)
	tests := []struct {
		name     string
		desired  Desired
		observed Observed
		started  time.Time
		want     []string
		wait     bool
		back     bool
	}{
		{name: "ready by its probe is accepted", desired: d2,
			observed: onTrial(obs2, t0.Add(-time.Second), good, probed(true, "")),
			want:     []string{"accept default/web: containers ready"}},
		{name: "not ready within the deadline waits", desired: d2,
			observed: onTrial(obs2, t0.Add(-30*time.Second), good, probed(false, "HTTP probe failed with statuscode: 500")),
			wait:     true},
		{name: "not ready past the deadline rolls back", desired: d2,
			observed: onTrial(obs2, t0.Add(-time.Minute), good, probed(false, "Readiness probe failed: HTTP probe failed with statuscode: 500")),
			want:     []string{"replace default/web: roll back: not ready within 1m0s of the change to web.yaml: container main is not ready: Readiness probe failed: HTTP probe failed with statuscode: 500"},
			back:     true},
		{name: "the annotation shortens the deadline", desired: short,
			observed: onTrial(obsShort, t0.Add(-5*time.Second), good, running(time.Time{})),
			want:     []string{"replace default/web: roll back: not ready within 5s of the change to web.yaml: container main is not running"},
			back:     true},
		{name: "without a readiness probe it must run for min-ready", desired: d2,
			observed: onTrial(obs2, t0.Add(-20*time.Second), good, running(t0.Add(-5*time.Second))),
			wait:     true},
		{name: "running for min-ready is accepted", desired: d2,
			observed: onTrial(obs2, t0.Add(-20*time.Second), good, running(t0.Add(-10*time.Second))),
			want:     []string{"accept default/web: containers ready"}},
		{name: "the annotation shortens min-ready", desired: short,
			observed: onTrial(obsShort, t0.Add(-2*time.Second), good, running(t0.Add(-time.Second))),
			want:     []string{"accept default/web: containers ready"}},
		{name: "a completed container passes", desired: d2,
			observed: onTrial(obs2, t0, good, &Health{Containers: []ContainerHealth{{Name: "main", Completed: true}}}),
			want:     []string{"accept default/web: containers ready"}},
		{name: "unknown health past the deadline rolls back", desired: d2,
			observed: onTrial(obs2, t0.Add(-2*time.Minute), good, nil),
			want:     []string{"replace default/web: roll back: not ready within 1m0s of the change to web.yaml: its status is unknown"},
			back:     true},
		{name: "no last good spec: nothing to return to", desired: d2,
			observed: onTrial(obs2, t0.Add(-2*time.Minute), nil, probed(false, ""))},
		{name: "a metadata change on trial goes first", desired: func() Desired { d := want("web", "/m/web.yaml", "img:2", map[string]string{"a": "b"}); return d }(),
			observed: onTrial(obs2, t0.Add(-2*time.Minute), good, probed(false, "")),
			want:     []string{"update-metadata default/web: labels changed"}, wait: true},
		{name: "the spec a rollback left is not tried again", desired: d2, observed: rolledBack},
		{name: "another spec after a rollback is a new attempt", desired: want("web", "/m/web.yaml", "img:3", nil), observed: rolledBack,
			want: []string{"replace default/web: spec.containers[name=main].image changed"}},
		{name: "the manifest back at the kept spec accepts it", desired: want("web", "/m/web.yaml", "img:1", nil), observed: rolledBack,
			want: []string{"accept default/web: the manifest is back to the spec kept"}},
		{name: "a proven pod is left alone", desired: d2, observed: obs2},
		{name: "a trial past its deadline when the daemon started gets the deadline again", desired: d2, started: t0.Add(-30 * time.Second),
			observed: onTrial(obs2, t0.Add(-time.Hour), good, probed(false, "")),
			wait:     true},
		{name: "and is rolled back past it", desired: d2, started: t0.Add(-time.Minute),
			observed: onTrial(obs2, t0.Add(-time.Hour), good, probed(false, "")),
			want:     []string{"replace default/web: roll back: not ready within 1m0s of the change to web.yaml: container main is not ready"},
			back:     true},
		{name: "a trial whose create failed is created again", desired: d2,
			observed: onTrial(absent, t0.Add(-30*time.Second), good, &Health{Containers: []ContainerHealth{{Name: "main", Problem: "ErrImagePull"}}}),
			want:     []string{"create default/web: declared in web.yaml; its last create failed"}, wait: true},
		{name: "a trial whose create fails past the deadline rolls back", desired: d2,
			observed: onTrial(absent, t0.Add(-time.Minute), good, &Health{Containers: []ContainerHealth{{Name: "main", Problem: "the pod cannot be created: ErrImagePull"}}}),
			want:     []string{"replace default/web: roll back: not ready within 1m0s of the change to web.yaml: container main is not running: the pod cannot be created: ErrImagePull"},
			back:     true},
		{name: "another spec after a failed create is a new attempt", desired: want("web", "/m/web.yaml", "img:3", nil),
			observed: onTrial(absent, t0.Add(-time.Minute), good, nil),
			want:     []string{"replace default/web: spec.containers[name=main].image changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gate
			g.Started = tt.started
			acts, w := plan(g, []Desired{tt.desired}, nil, []Observed{tt.observed}, manifests.SpecEqual)
			wait := w.any()
			if got := actionStrings(acts); !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if wait != tt.wait {
				t.Errorf("wait = %v, want %v", wait, tt.wait)
			}
			if tt.back {
				a := acts[0]
				if a.Rollback == "" || a.Desired.Pod != good || a.Desired.File != "/m/web.yaml" || a.Observed.UID != tt.observed.UID || a.Change.Scope < ScopeContainers {
					t.Errorf("rollback %+v: want the last good spec as desired, the pod on trial as observed", a)
				}
			}
			for _, a := range Plan([]Desired{tt.desired}, nil, []Observed{tt.observed}) {
				if a.Kind == Accept || a.Rollback != "" {
					t.Errorf("gates off: %s", a)
				}
			}
		})
	}
}

// TestPlanJudgesATrialWhoseFileBroke: a file replaced by an invalid one
// keeps its pod, and a spec on trial is judged all the same.
func TestPlanJudgesATrialWhoseFileBroke(t *testing.T) {
	gate := Gate{Now: t0, Deadline: time.Minute}
	good := testPod("web", "img:1", nil)
	held := map[string]bool{"/m/web.yaml": true}
	failing := onTrial(have("web", "u2", "/m/web.yaml", "img:2", nil), t0.Add(-time.Minute), good,
		&Health{Containers: []ContainerHealth{{Name: "main", ReadinessProbe: true}}})
	acts, _ := plan(gate, nil, held, []Observed{failing}, manifests.SpecEqual)
	if got := actionStrings(acts); len(got) != 1 || acts[0].Rollback == "" || acts[0].Desired.Pod != good {
		t.Errorf("past the deadline: %q, want the rollback", got)
	}
	young := failing
	young.Rollout.Since = t0
	if acts, w := plan(gate, nil, held, []Observed{young}, manifests.SpecEqual); len(acts) != 0 || !w.any() {
		t.Errorf("within the deadline: %q, wait %+v; want nothing yet, and a judgement back", actionStrings(acts), w)
	}
	if acts, _ := plan(gate, nil, held, []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)}, manifests.SpecEqual); len(acts) != 0 {
		t.Errorf("a proven pod of a broken file: %q, want nothing", actionStrings(acts))
	}
}

func TestStopOrder(t *testing.T) {
	obs := func(name, deps string) Observed {
		o := have(name, "u-"+name, "/m/"+name+".yaml", "i", nil)
		if deps != "" {
			o.Pod.Annotations = map[string]string{manifests.AnnotationAfter: deps}
		}
		return o
	}
	tests := []struct {
		name     string
		observed []Observed
		want     [][]PodKey
	}{
		{name: "none"},
		{name: "unrelated pods stop together", observed: []Observed{obs("b", ""), obs("a", "")},
			want: [][]PodKey{{{"default", "a"}, {"default", "b"}}}},
		{name: "a chain stops from its tail", observed: []Observed{obs("a", ""), obs("b", "a"), obs("c", "b")},
			want: [][]PodKey{{{"default", "c"}}, {{"default", "b"}}, {{"default", "a"}}}},
		{name: "a missing dependency is ignored", observed: []Observed{obs("b", "gone")},
			want: [][]PodKey{{{"default", "b"}}}},
		{name: "a cycle goes last", observed: []Observed{obs("x", "y"), obs("y", "x"), obs("w", "x")},
			want: [][]PodKey{{{"default", "w"}}, {{"default", "x"}, {"default", "y"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StopOrder(tt.observed)
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
