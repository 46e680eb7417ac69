package reconciler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSource returns a fixed desired state, changeable between passes.
type fakeSource struct {
	mu       sync.Mutex
	desired  []Desired
	held     map[string]bool
	problems []error
	err      error
}

func (s *fakeSource) Desired(context.Context) ([]Desired, map[string]bool, []error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.desired), s.held, slices.Clone(s.problems), s.err
}

func (s *fakeSource) set(desired ...Desired) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.desired = desired
}

// fakeRuntime keeps pods in memory and records every operation.
type fakeRuntime struct {
	mu      sync.Mutex
	pods    []Observed
	ops     []string
	nextUID int
	// fail maps a pod name to the errors its next Apply calls return.
	fail map[string][]error
	// gate, when set, is called inside Apply before it takes effect.
	gate func(Action)
}

func (rt *fakeRuntime) ListPods(context.Context) ([]Observed, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return slices.Clone(rt.pods), nil
}

func (rt *fakeRuntime) Apply(_ context.Context, a Action) error {
	if rt.gate != nil {
		rt.gate(a)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.ops = append(rt.ops, a.String())
	if errs := rt.fail[a.Key.Name]; len(errs) > 0 {
		rt.fail[a.Key.Name] = errs[1:]
		return errs[0]
	}
	if a.Kind == Hold || a.Kind == Accept {
		return nil
	}
	if a.Observed != nil {
		rt.pods = slices.DeleteFunc(rt.pods, func(o Observed) bool { return o.UID == a.Observed.UID })
	}
	if a.Kind != Delete {
		rt.nextUID++
		rt.pods = append(rt.pods, Observed{Key: a.Key, UID: fmt.Sprint("uid-", rt.nextUID),
			File: a.Desired.File, Pod: a.Desired.Pod})
	}
	return nil
}

func (rt *fakeRuntime) takeOps() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ops := rt.ops
	rt.ops = nil
	return ops
}

// logBuffer returns a logger writing text records into a buffer.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(substr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), substr)
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// readyRuntime is a fakeRuntime whose pods are all Ready.
type readyRuntime struct{ *fakeRuntime }

func (rt readyRuntime) Health(_ context.Context, keys []PodKey) map[PodKey]*Health {
	out := map[PodKey]*Health{}
	for _, k := range keys {
		out[k] = &Health{Ready: true}
	}
	return out
}

// switchedReady reports every pod Ready once ready is set.
type switchedReady struct {
	*fakeRuntime
	ready atomic.Bool
}

func (rt *switchedReady) Health(_ context.Context, keys []PodKey) map[PodKey]*Health {
	out := map[PodKey]*Health{}
	for _, k := range keys {
		out[k] = &Health{Ready: rt.ready.Load()}
	}
	return out
}

func TestPassStartsAChainInOrder(t *testing.T) {
	src := &fakeSource{}
	src.set(want("a", "/m/a.yaml", "i", nil), after(want("b", "/m/b.yaml", "i", nil), "a"), after(want("c", "/m/c.yaml", "i", nil), "b"))
	for _, tt := range []struct {
		name   string
		health bool
		passes [][]string
	}{
		{name: "health reported", health: true, passes: [][]string{
			{"create default/a: declared in a.yaml", "hold default/b: waiting for default/a to be Ready", "hold default/c: waiting for default/b to be Ready"},
			{"create default/b: declared in b.yaml", "hold default/c: waiting for default/b to be Ready"},
			{"create default/c: declared in c.yaml"},
			nil,
		}},
		{name: "no health source", passes: [][]string{
			{"create default/a: declared in a.yaml", "hold default/b: waiting for default/a to be Ready", "hold default/c: waiting for default/b to be Ready"},
			{"hold default/b: waiting for default/a to be Ready", "hold default/c: waiting for default/b to be Ready"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeRuntime{}
			var rt Runtime = fake
			if tt.health {
				rt = readyRuntime{fake}
			}
			r := New(src, rt, nil, Options{})
			for i, want := range tt.passes {
				res := r.Pass(t.Context())
				got := fake.takeOps()
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("pass %d: got %q, want %q", i, got, want)
				}
				if w := slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "hold") }); res.Waiting != w {
					t.Errorf("pass %d: waiting = %v, want %v", i, res.Waiting, w)
				}
			}
		})
	}
}

func TestPassCreatesThenConverges(t *testing.T) {
	src := &fakeSource{}
	src.set(want("a", "/m/a.yaml", "img:1", nil), want("b", "/m/b.yaml", "img:1", nil))
	rt := &fakeRuntime{}
	r := New(src, rt, nil, Options{})

	res := r.Pass(t.Context())
	if res.Err != nil || len(res.Done) != 2 || len(res.Failed) != 0 {
		t.Fatalf("first pass = %+v, want 2 done", res)
	}
	// Different pods run concurrently, so their order is not fixed.
	got := rt.takeOps()
	slices.Sort(got)
	wantOps := []string{"create default/a: declared in a.yaml", "create default/b: declared in b.yaml"}
	if !slices.Equal(got, wantOps) {
		t.Errorf("first pass ops:\n got %q\nwant %q", got, wantOps)
	}
	if res := r.Pass(t.Context()); res.Planned != 0 {
		t.Fatalf("second pass planned %d actions, want 0", res.Planned)
	}

	// Deletes run in a phase before the other actions.
	src.set(want("a", "/m/a.yaml", "img:2", nil))
	r.Pass(t.Context())
	wantOps = []string{
		"delete default/b: no longer declared in any manifest",
		"replace default/a: spec.containers[name=main].image changed",
	}
	if got := rt.takeOps(); !slices.Equal(got, wantOps) {
		t.Errorf("third pass ops:\n got %q\nwant %q", got, wantOps)
	}
}

func TestFailedActionRetriedNextPass(t *testing.T) {
	src := &fakeSource{}
	src.set(want("web", "/m/web.yaml", "img:1", nil))
	boom := errors.New("image not found")
	rt := &fakeRuntime{fail: map[string][]error{"web": {boom}}}
	r := New(src, rt, nil, Options{})

	res := r.Pass(t.Context())
	if len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, boom) {
		t.Fatalf("first pass failures = %v, want the injected error", res.Failed)
	}
	if p := r.Problems(); len(p) != 1 || !errors.Is(p[0], boom) {
		t.Fatalf("Problems() = %v, want the failed action", p)
	}

	res = r.Pass(t.Context())
	if len(res.Done) != 1 || len(res.Failed) != 0 {
		t.Fatalf("second pass = %+v, want the create retried and done", res)
	}
	if p := r.Problems(); len(p) != 0 {
		t.Errorf("Problems() after success = %v, want none", p)
	}
}

func TestHeldFileKeepsPod(t *testing.T) {
	src := &fakeSource{}
	src.set(want("web", "/m/web.yaml", "img:1", nil))
	rt := &fakeRuntime{}
	r := New(src, rt, nil, Options{})
	r.Pass(t.Context())

	// The file turns invalid: its pod is no longer desired, but held.
	invalid := errors.New("/m/web.yaml:3: spec.containers: required")
	src.mu.Lock()
	src.desired, src.held, src.problems = nil, map[string]bool{"/m/web.yaml": true}, []error{invalid}
	src.mu.Unlock()
	rt.takeOps()

	res := r.Pass(t.Context())
	if res.Planned != 0 || len(rt.takeOps()) != 0 {
		t.Fatalf("pass with held file acted: %+v", res)
	}
	if pods, _ := rt.ListPods(t.Context()); len(pods) != 1 {
		t.Errorf("pods = %v, want the held pod still running", pods)
	}
	if p := r.Problems(); len(p) != 1 || p[0] != invalid {
		t.Errorf("Problems() = %v, want the file's problem", p)
	}
}

func TestSourceErrorTearsNothingDown(t *testing.T) {
	src := &fakeSource{err: errors.New("read /m: permission denied")}
	rt := &fakeRuntime{pods: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)}}
	r := New(src, rt, nil, Options{})

	res := r.Pass(t.Context())
	if res.Err == nil || res.Planned != 0 || len(rt.takeOps()) != 0 {
		t.Fatalf("pass = %+v, want an error and no action", res)
	}
	if p := r.Problems(); len(p) != 1 || p[0] != src.err {
		t.Errorf("Problems() = %v, want the source error", p)
	}
}

func TestDuplicateProblemsReported(t *testing.T) {
	dup := errors.New("/m/b.yaml:1: duplicate pod default/web: declared in /m/a.yaml")
	src := &fakeSource{problems: []error{dup}}
	src.set(want("web", "/m/a.yaml", "img:1", nil))
	rt := &fakeRuntime{}
	log, buf := newTestLogger()
	r := New(src, rt, log, Options{})

	r.Pass(t.Context())
	r.Pass(t.Context())
	if p := r.Problems(); len(p) != 1 || p[0] != dup {
		t.Errorf("Problems() = %v, want the duplicate", p)
	}
	if n := buf.count("duplicate pod default/web"); n != 1 {
		t.Errorf("duplicate problem logged %d times over two passes, want 1", n)
	}
	if pods, _ := rt.ListPods(t.Context()); len(pods) != 1 || pods[0].File != "/m/a.yaml" {
		t.Errorf("pods = %v, want only the winner from a.yaml", pods)
	}
}

func TestRepeatedFailureLoggedOnce(t *testing.T) {
	src := &fakeSource{}
	src.set(want("web", "/m/web.yaml", "img:1", nil))
	same := errors.New("no space left")
	rt := &fakeRuntime{fail: map[string][]error{"web": {same, same, same, same, errors.New("other")}}}
	log, buf := newTestLogger()
	r := New(src, rt, log, Options{LogRepeat: time.Hour})
	clock := time.Unix(0, 0)
	r.now = func() time.Time { return clock }

	for range 3 {
		r.Pass(t.Context())
	}
	if n := buf.count("no space left"); n != 1 {
		t.Errorf("same error logged %d times in 3 passes, want 1", n)
	}
	clock = clock.Add(2 * time.Hour)
	r.Pass(t.Context()) // the interval has passed: logged again with a count
	if n := buf.count("no space left"); n != 2 {
		t.Errorf("same error logged %d times after the interval, want 2", n)
	}
	if n := buf.count("repeats=2"); n != 1 {
		t.Errorf("repeat count logged %d times, want 1", n)
	}
	r.Pass(t.Context()) // a different error logs at once
	if n := buf.count("other"); n != 1 {
		t.Errorf("changed error logged %d times, want 1", n)
	}
}

func TestParallelAcrossPods(t *testing.T) {
	const pods, parallel = 100, 8
	src := &fakeSource{}
	var desired []Desired
	for i := range pods {
		desired = append(desired, want(fmt.Sprintf("p%03d", i), "/m/all.yaml", "img:1", nil))
	}
	src.set(desired...)

	var (
		mu       sync.Mutex
		inFlight int
		peak     int
		full     = make(chan struct{})
	)
	rt := &fakeRuntime{gate: func(Action) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		if inFlight == parallel {
			select {
			case <-full:
			default:
				close(full)
			}
		}
		mu.Unlock()
		// Hold the first calls until the bound is reached, so that a
		// sequential executor fails instead of passing by luck.
		select {
		case <-full:
		case <-time.After(10 * time.Second):
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	}}
	r := New(src, rt, nil, Options{Parallel: parallel})

	res := r.Pass(t.Context())
	if len(res.Done) != pods {
		t.Fatalf("done %d actions, want %d (failed: %v)", len(res.Done), pods, res.Failed)
	}
	if peak != parallel {
		t.Errorf("peak concurrency %d, want exactly %d", peak, parallel)
	}
}

func TestSamePodActionsInOrder(t *testing.T) {
	src := &fakeSource{}
	src.set(want("web", "/m/web.yaml", "img:2", nil))
	rt := &fakeRuntime{pods: []Observed{
		have("web", "u2", "/m/web.yaml", "img:1", nil),
		have("web", "u1", "/m/web.yaml", "img:1", nil),
	}}
	r := New(src, rt, nil, Options{})
	r.Pass(t.Context())
	wantOps := []string{
		"delete default/web: duplicate of running pod uid u1",
		"replace default/web: spec.containers[name=main].image changed",
	}
	if got := rt.takeOps(); !slices.Equal(got, wantOps) {
		t.Errorf("ops:\n got %q\nwant %q", got, wantOps)
	}
}

func TestFailureSkipsLaterActionsOfSamePod(t *testing.T) {
	src := &fakeSource{}
	src.set(want("web", "/m/web.yaml", "img:2", nil))
	rt := &fakeRuntime{
		pods: []Observed{
			have("web", "u2", "/m/web.yaml", "img:1", nil),
			have("web", "u1", "/m/web.yaml", "img:1", nil),
		},
		fail: map[string][]error{"web": {errors.New("busy")}},
	}
	r := New(src, rt, nil, Options{})
	res := r.Pass(t.Context())
	if len(res.Failed) != 2 || !errors.Is(res.Failed[1].Err, ErrSkipped) {
		t.Fatalf("failures = %v, want the delete failed and the replace skipped", res.Failed)
	}
	if ops := rt.takeOps(); len(ops) != 1 {
		t.Errorf("ops = %q, want only the failed delete tried", ops)
	}
}

func TestRun(t *testing.T) {
	src := &fakeSource{}
	src.set(want("web", "/m/web.yaml", "img:1", nil))
	rt := &fakeRuntime{fail: map[string][]error{"web": {errors.New("transient")}}}
	passes := make(chan Result, 16)
	r := New(src, rt, nil, Options{
		RetryMin: time.Millisecond,
		OnPass:   func(res Result) { passes <- res },
	})
	trigger := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, trigger) }()

	// The first pass fails; the retry timer runs a second one unasked.
	if res := nextPass(t, passes); len(res.Failed) != 1 {
		t.Fatalf("first pass = %+v, want one failure", res)
	}
	if res := nextPass(t, passes); len(res.Done) != 1 {
		t.Fatalf("retry pass = %+v, want the create done", res)
	}

	src.set()
	trigger <- struct{}{}
	if res := nextPass(t, passes); len(res.Done) != 1 || res.Done[0].Kind != Delete {
		t.Fatalf("triggered pass = %+v, want the delete", res)
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

// TestRunPassesAgainWhileWaiting: a held pod brings a pass back without a
// trigger, even when another pod's action fails; the pod starts once its
// dependency is Ready.
func TestRunPassesAgainWhileWaiting(t *testing.T) {
	src := &fakeSource{}
	src.set(want("a", "/m/a.yaml", "i", nil), after(want("b", "/m/b.yaml", "i", nil), "a"), want("c", "/m/c.yaml", "i", nil))
	fake := &fakeRuntime{pods: []Observed{have("a", "u-a", "/m/a.yaml", "i", nil)},
		fail: map[string][]error{"c": {errors.New("transient"), errors.New("transient"), errors.New("transient")}}}
	rt := &switchedReady{fakeRuntime: fake}
	passes := make(chan Result, 16)
	r := New(src, rt, nil, Options{
		RetryMin: time.Millisecond, RetryMax: time.Hour,
		OnPass: func(res Result) { passes <- res },
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, make(chan struct{})) }()
	for i := 0; i < 3; i++ {
		if res := nextPass(t, passes); !res.Waiting {
			t.Fatalf("pass %d = %+v, want waiting for a", i, res)
		}
	}
	// a becomes Ready: b starts at the next pass, which nothing triggers.
	rt.ready.Store(true)
	for {
		res := nextPass(t, passes)
		if slices.ContainsFunc(res.Done, func(a Action) bool { return a.Kind == Create && a.Key.Name == "b" }) {
			break
		}
	}
	cancel()
	<-done
}

func TestRunStopsWhenTriggerCloses(t *testing.T) {
	r := New(&fakeSource{}, &fakeRuntime{}, nil, Options{})
	trigger := make(chan struct{})
	close(trigger)
	if err := r.Run(t.Context(), trigger); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func nextPass(t *testing.T, passes <-chan Result) Result {
	t.Helper()
	select {
	case res := <-passes:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("no pass within 10s")
		return Result{}
	}
}
