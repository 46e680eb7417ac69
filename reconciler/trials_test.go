package reconciler

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/manifests"
)

// trialRuntime holds pods on trial, counts the reconciler's work on them
// (passes, the health asked per pod) and ends a pod's trial on Accept.
type trialRuntime struct {
	mu       sync.Mutex
	pods     map[PodKey]*Observed
	health   map[PodKey]*Health
	passes   int
	asked    map[PodKey]int
	accepted int
	probesOK atomic.Bool
}

func (rt *trialRuntime) ListPods(context.Context) ([]Observed, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.passes++
	var out []Observed
	for _, o := range rt.pods {
		out = append(out, *o)
	}
	return out, nil
}

func (rt *trialRuntime) Apply(_ context.Context, a Action) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if a.Kind != Accept {
		return fmt.Errorf("unexpected %s", a)
	}
	rt.pods[a.Key].Rollout = Rollout{}
	rt.accepted++
	return nil
}

func (rt *trialRuntime) Health(_ context.Context, keys []PodKey) map[PodKey]*Health {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := map[PodKey]*Health{}
	for _, k := range keys {
		rt.asked[k]++
		h := *rt.health[k]
		h.Containers = append([]ContainerHealth(nil), h.Containers...)
		for i := range h.Containers {
			h.Containers[i].Ready = h.Containers[i].ReadinessProbe && rt.probesOK.Load()
		}
		out[k] = &h
	}
	return out
}

func (rt *trialRuntime) counts() (passes, accepted int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.passes, rt.accepted
}

// TestRunJudgesTrialsWithoutPasses: N pods of a burst on trial become
// ready (min-ready reached, at moments a little apart, or a readiness
// probe passing) and are accepted with O(N) work: one pass (Run's first),
// and each pod without a readiness probe asked for its health twice (in
// that pass, then once when its min-ready has passed), not one pass over
// every pod per RetryMin until the last is accepted.
func TestRunJudgesTrialsWithoutPasses(t *testing.T) {
	const n, probed = 200, 5
	src := &fakeSource{}
	rt := &trialRuntime{pods: map[PodKey]*Observed{}, health: map[PodKey]*Health{}, asked: map[PodKey]int{}}
	start := time.Now()
	var desired []Desired
	for i := range n + probed {
		name := fmt.Sprintf("p%03d", i)
		d := want(name, "/m/burst.yaml", "img", nil)
		desired = append(desired, d)
		o := have(name, "u-"+name, "/m/burst.yaml", "img", nil)
		o.Rollout = Rollout{Trial: true, Since: start}
		rt.pods[d.Key] = &o
		c := ContainerHealth{Name: "main", RunningSince: start.Add(time.Duration(i) * 100 * time.Microsecond)}
		c.ReadinessProbe = i >= n
		rt.health[d.Key] = &Health{Containers: []ContainerHealth{c}}
	}
	src.set(desired...)
	r := New(src, rt, nil, Options{RetryMin: 10 * time.Millisecond, Gate: Gate{MinReady: 50 * time.Millisecond, Deadline: time.Hour}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, make(chan struct{})) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	testutil.WaitFor(t, 10*time.Second, "the pods without a readiness probe accepted", func() bool {
		_, accepted := rt.counts()
		return accepted == n
	})
	rt.probesOK.Store(true)
	testutil.WaitFor(t, 10*time.Second, "the pods with a readiness probe accepted", func() bool {
		_, accepted := rt.counts()
		return accepted == n+probed
	})
	passes, _ := rt.counts()
	if passes != 1 {
		t.Errorf("%d passes, want 1: a trial's judgement needs no pass over every pod", passes)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for i := range n {
		k := PodKey{"default", fmt.Sprintf("p%03d", i)}
		if rt.asked[k] != 2 {
			t.Errorf("%s: health asked %d times, want 2 (the pass, then once its min-ready passed)", k, rt.asked[k])
		}
	}
}

func TestRecheck(t *testing.T) {
	g := Gate{Now: t0, MinReady: 10 * time.Second, Deadline: time.Minute}
	d := want("web", "/m/web.yaml", "img:2", nil)
	good := testPod("web", "img:1", nil)
	obs := have("web", "u2", "/m/web.yaml", "img:2", nil)
	c := func(probe, ready bool, since time.Time) ContainerHealth {
		return ContainerHealth{Name: "main", ReadinessProbe: probe, Ready: ready, RunningSince: since}
	}
	for _, tt := range []struct {
		name string
		last *manifests.Pod
		h    *Health
		want time.Time
	}{
		{"no status: polled", nil, nil, time.Time{}},
		{"a readiness probe not passing: polled", nil, &Health{Containers: []ContainerHealth{c(true, false, t0)}}, time.Time{}},
		{"a container not running: polled", nil, &Health{Containers: []ContainerHealth{c(false, false, time.Time{})}}, time.Time{}},
		{"the last container to reach min-ready", nil, &Health{Containers: []ContainerHealth{c(false, false, t0.Add(-5*time.Second)), c(false, false, t0.Add(-2*time.Second)), c(true, true, t0)}}, t0.Add(8 * time.Second)},
		{"the deadline when sooner and there is a spec to return to", good, &Health{Containers: []ContainerHealth{c(false, false, t0.Add(55*time.Second))}}, t0.Add(time.Minute)},
		{"no deadline without a spec to return to", nil, &Health{Containers: []ContainerHealth{c(false, false, t0.Add(55*time.Second))}}, t0.Add(65 * time.Second)},
		{"polled until the deadline", good, &Health{Containers: []ContainerHealth{c(true, false, t0)}}, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			live := onTrial(obs, t0, tt.last, tt.h)
			if got := recheck(g, &d, &live); !got.Equal(tt.want) {
				t.Errorf("recheck = %v, want %v", got, tt.want)
			}
		})
	}
}
