package probe

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// fakeClock moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Round(t time.Time, _ bool) time.Time { return t }

func (c *fakeClock) Wake(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !t.After(c.now) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{t, ch})
	return ch
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// fixedChecker always answers the same.
type fixedChecker struct {
	result Result
	output string
}

func (f fixedChecker) Check(context.Context, time.Duration) (Result, string) {
	return f.result, f.output
}

func TestRunner(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	reports := make(chan Report, 16)
	r := NewRunner("app", clock, func(rep Report) { reports <- rep },
		Probe{Spec{Type: Liveness, Period: 10 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 2, GracePeriodSeconds: int64p(3)},
			fixedChecker{Failure, "HTTP probe failed with statuscode: 500"}},
		Probe{Spec{Type: Readiness, Period: 5 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3},
			fixedChecker{Success, "ok"}},
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	// next collects n reports, as "Type=Result", "!" for a change, "kill"
	// with the grace period for a kill; concurrent probes in type order.
	next := func(n int) []string {
		t.Helper()
		var got []string
		timeout := time.After(10 * time.Second)
		for range n {
			select {
			case rep := <-reports:
				s := fmt.Sprintf("%v=%v", rep.Type, rep.Result)
				if rep.Changed {
					s += "!"
				}
				if rep.Kill() {
					s += fmt.Sprintf(" kill %d", *rep.GracePeriodSeconds)
				}
				if rep.Event != nil {
					s += " " + rep.Event.Message
				}
				got = append(got, s)
			case <-timeout:
				t.Fatalf("timed out waiting for report %d of %d (got %q)", len(got)+1, n, got)
			}
		}
		slices.Sort(got)
		return got
	}
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", what, got, want)
		}
	}

	r.ContainerStarted(clock.Now())
	expect("at the start", next(2),
		"Liveness=Success Liveness probe failed: HTTP probe failed with statuscode: 500",
		"Readiness=Success!")
	clock.advance(5 * time.Second)
	expect("at 5s", next(1), "Readiness=Success")
	clock.advance(5 * time.Second)
	expect("at 10s", next(2),
		"Liveness=Failure! kill 3 Liveness probe failed: HTTP probe failed with statuscode: 500",
		"Readiness=Success")
	r.ContainerStopped()
	expect("stopped", next(1), "Readiness=Failure!")
	clock.advance(time.Minute)
	select {
	case rep := <-reports:
		t.Errorf("a stopped container was probed: %+v", rep)
	default:
	}
	r.ContainerStarted(clock.Now())
	expect("restarted", next(2),
		"Liveness=Success Liveness probe failed: HTTP probe failed with statuscode: 500",
		"Readiness=Success!")
}

// TestSystemClockRound: the system clock wakes on grids shared by every
// runner: a settling probe at the next 200 ms tick, never before the time
// asked; a settled one at the nearest one-second tick.
func TestSystemClockRound(t *testing.T) {
	base := time.Unix(1700000000, 0).Truncate(SettledGrain)
	for _, tc := range []struct {
		in      time.Time
		settled bool
		want    time.Time
	}{
		{base, false, base},
		{base, true, base},
		{base.Add(time.Nanosecond), false, base.Add(WakeGrain)},
		{base.Add(time.Nanosecond), true, base},
		{base.Add(WakeGrain - time.Nanosecond), false, base.Add(WakeGrain)},
		{base.Add(WakeGrain + time.Millisecond), false, base.Add(2 * WakeGrain)},
		{base.Add(WakeGrain + time.Millisecond), true, base},
		{base.Add(SettledGrain/2 - time.Nanosecond), true, base},
		{base.Add(SettledGrain / 2), true, base.Add(SettledGrain)},
		{base.Add(SettledGrain + time.Millisecond), true, base.Add(SettledGrain)},
	} {
		if got := (SystemClock{}).Round(tc.in, tc.settled); !got.Equal(tc.want) {
			t.Errorf("Round(%v, %v) = %v, want %v", tc.in, tc.settled, got, tc.want)
		}
	}
}

// TestRunnerOnTheGrid: on the system clock the shared grid timer keeps
// starting a runner's due probes, each result is reported, and none is
// reported once Run has returned.
func TestRunnerOnTheGrid(t *testing.T) {
	var mu sync.Mutex
	var got []Report
	returned := false
	r := NewRunner("app", SystemClock{}, func(rep Report) {
		mu.Lock()
		defer mu.Unlock()
		if returned {
			t.Errorf("a report after Run returned: %+v", rep)
		}
		got = append(got, rep)
	}, Probe{Spec{Type: Readiness, Period: WakeGrain, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3},
		fixedChecker{Success, "ok"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.ContainerStarted(time.Now())
	testutil.WaitFor(t, 10*time.Second, "three readiness reports", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3
	})
	cancel()
	<-done
	mu.Lock()
	returned = true
	first := got[0]
	mu.Unlock()
	if first.Type != Readiness || first.Result != Success || !first.Changed {
		t.Errorf("first report %+v, want readiness becoming Success", first)
	}
	r.mu.Lock()
	stopped := r.stopped
	r.mu.Unlock()
	if !stopped {
		t.Error("the runner is not marked stopped after Run returned")
	}
}

// coarseClock puts a settled probe an hour after it is due, so that a
// test sees which probes the runner counts as settled.
type coarseClock struct{}

func (coarseClock) Now() time.Time { return time.Time{} }

func (coarseClock) Round(t time.Time, settled bool) time.Time {
	if settled {
		return t.Add(time.Hour)
	}
	return t
}

// startChecker is a checker the batcher could run (it has Start).
type startChecker struct{ fixedChecker }

func (startChecker) Start(context.Context, time.Duration, func(Result, string)) bool { return false }

// TestRunnerSettledOnlyWhenBatched: only a settled probe the batcher runs
// waits for the coarser grid; an exec probe's process, or a settling
// probe, keeps the finer one.
func TestRunnerSettledOnlyWhenBatched(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	spec := Spec{Type: Readiness, Period: time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}
	for _, tc := range []struct {
		name    string
		checker Checker
		result  Result
		want    time.Time
	}{
		{"batched, settled", startChecker{fixedChecker{Success, ""}}, Success, base.Add(time.Second + time.Hour)},
		{"batched, not yet succeeded", startChecker{fixedChecker{Failure, ""}}, Failure, base.Add(time.Second)},
		{"not batched, settled", fixedChecker{Success, ""}, Success, base.Add(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRunner("app", coarseClock{}, func(Report) {}, Probe{spec, tc.checker})
			r.state.ContainerStarted(base)
			runs := r.state.Take(base, exact)
			if len(runs) != 1 {
				t.Fatalf("take: %v", runs)
			}
			r.state.Record(base, runs[0], tc.result, "")
			if got, ok := r.next(); !ok || !got.Equal(tc.want) {
				t.Errorf("next = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}
