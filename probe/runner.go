package probe

import (
	"context"
	"sync"
	"time"
)

// Clock is the Runner's time: the system's in the daemon, a fake one in
// tests.
type Clock interface {
	Now() time.Time
	// Round returns when a probe due at t runs: t itself, or a later
	// instant of a grid that many probes share; settled says the probe's
	// result is settled (see State.Upcoming).
	Round(t time.Time, settled bool) time.Time
}

// A Waker is a Clock that wakes each runner's own loop (a test's): Wake
// returns a channel that receives once the clock reaches t. A runner on
// any other clock is woken by the grid's one timer.
type Waker interface {
	Clock
	Wake(t time.Time) <-chan time.Time
}

// SystemClock is the system's time. Runners on it are woken by the grid's
// one timer.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// The grids SystemClock rounds to: multiples of the grain since the zero
// time, the same for every runner, so that the probes due within one
// grain run on one wake-up of the daemon rather than one each. What a
// wake-up costs (the daemon's threads and the Go runtime waking, each
// switch paying the scheduler's walk of every pod's cgroups) is most of
// what probes cost beside their own connections, so a settled probe, the
// steady state of a healthy pod, runs on the one-second grid: every such
// probe of every pod then runs on one wake-up a second, each at most half
// a second away from its due time and still every period (probe periods
// are whole seconds, so it keeps its place on the grid). Only probes the
// batcher runs settle so (see Runner.at). A probe whose result is not
// settled (a startup probe, a readiness probe that has not
// succeeded yet, a failure counting towards its threshold) runs on the
// 200 ms grid, so that a pod becomes ready, and a failing container is
// found out, as soon as with a wake-up per probe.
const (
	WakeGrain    = 200 * time.Millisecond
	SettledGrain = time.Second
)

// Round returns t rounded to the nearest multiple of SettledGrain (half
// up) when settled, else up to WakeGrain. A settled probe's schedule is
// on the one-second grid once it has run there (see State.Record), so
// the nearest tick moves only its first run there: by half a second at
// most, earlier or later, instead of up to a second later.
func (SystemClock) Round(t time.Time, settled bool) time.Time {
	if settled {
		return t.Add(SettledGrain / 2).Truncate(SettledGrain)
	}
	return ceilGrain(t, WakeGrain)
}

// ceilGrain is the first multiple of grain at or after t.
func ceilGrain(t time.Time, grain time.Duration) time.Time {
	at := t.Truncate(grain)
	if at.Before(t) {
		at = at.Add(grain)
	}
	return at
}

// Probe is one configured probe: its spec and the checker that runs it.
type Probe struct {
	Spec    Spec
	Checker Checker
}

// Runner probes one container: it drives a State on a Clock, runs each
// due probe through its checker's Start (the batcher) or else on a
// goroutine of its own (either way a slow liveness probe never delays
// readiness), and hands every Report to the report function, one at a
// time (under its lock), from whichever goroutine has the news: its loop
// for a start or stop, the check's for a result. On the SystemClock its
// due probes are started by the grid's one shared timer, so that 100
// runners' probes wake the daemon about once a grid tick plus once per
// batch, not twice per probe; on a Waker its loop waits for Wake. A
// report is made on the batcher's goroutine too, so the report function
// must not wait: the daemon's sets the prober's status, counts the run,
// records the event in memory, and kills or calls the infra on goroutines
// of its own. The wiring tells it when the container starts and stops;
// it probes nothing until the first start.
type Runner struct {
	checkers [3]Checker
	timeouts [3]time.Duration
	clock    Clock
	// waker is clock when it wakes the runner's loop; nil on the grid.
	waker  Waker
	report func(Report)
	events chan func() []Report
	// kick tells the loop (off the grid) that a result came back: its
	// next wake-up may have changed.
	kick chan struct{}
	done chan struct{}

	mu      sync.Mutex
	state   *State
	ctx     context.Context
	stopped bool
	// slot is the grid tick the runner waits for (zero: none), kept by
	// the grid under its lock.
	slot int64
}

// NewRunner returns the runner of container's probes.
func NewRunner(container string, clock Clock, report func(Report), probes ...Probe) *Runner {
	waker, _ := clock.(Waker)
	r := &Runner{
		clock:  clock,
		waker:  waker,
		report: report,
		events: make(chan func() []Report),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	specs := make([]Spec, 0, len(probes))
	for _, p := range probes {
		specs = append(specs, p.Spec)
		r.checkers[p.Spec.Type] = p.Checker
		r.timeouts[p.Spec.Type] = p.Spec.Timeout
	}
	r.state = NewState(container, specs...)
	return r
}

// ContainerStarted tells the runner that a run of the container began at
// at: every probe starts over.
func (r *Runner) ContainerStarted(at time.Time) {
	r.send(func() []Report { return r.state.ContainerStarted(at) })
}

// ContainerStopped tells the runner that the container is not running:
// probing stops until the next start, and readiness becomes Failure.
func (r *Runner) ContainerStopped() {
	r.send(r.state.ContainerStopped)
}

func (r *Runner) send(ev func() []Report) {
	select {
	case r.events <- ev:
	case <-r.done:
	}
}

// Run probes until ctx is done; it is called once. Checks in flight then
// see ctx done and their results are dropped: no report follows Run's
// return.
func (r *Runner) Run(ctx context.Context) {
	defer close(r.done)
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	r.poll(r.clock.Now())
	for {
		var wake <-chan time.Time
		if r.waker != nil {
			r.mu.Lock()
			if next, ok := r.next(); ok {
				wake = r.waker.Wake(next)
			}
			r.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.stopped = true
			r.mu.Unlock()
			grid.cancel(r)
			return
		case <-wake:
		case <-r.kick:
		case ev := <-r.events:
			r.mu.Lock()
			for _, rep := range ev() {
				r.report(rep)
			}
			r.mu.Unlock()
		}
		r.poll(r.clock.Now())
	}
}

// poll starts the probes due now and, on the grid, asks for a wake-up
// when the next is due.
func (r *Runner) poll(now time.Time) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	ctx := r.ctx
	runs := r.state.Take(now, r.at)
	r.schedule()
	r.mu.Unlock()
	// Started outside the lock: a run that fails at once records its
	// result from here.
	for _, run := range runs {
		r.start(ctx, run)
	}
}

// schedule asks the grid for a wake-up at the next due probe; r.mu is
// held.
func (r *Runner) schedule() {
	if r.waker != nil {
		return
	}
	if next, ok := r.next(); ok {
		grid.at(r, next)
	}
}

// next is when the runner wakes next: the earliest instant a due probe
// runs at (at); false when none is due until something changes. r.mu is
// held.
func (r *Runner) next() (time.Time, bool) {
	var next time.Time
	found := false
	r.state.Upcoming(func(t Type, due time.Time, settled bool) {
		if at := r.at(t, due, settled); !found || at.Before(next) {
			next, found = at, true
		}
	})
	return next, found
}

// at is when a probe of type t due at due runs: due as the clock rounds
// it. Only an http or tcp probe (its checker has the batcher's Start)
// counts as settled: the coarser grid would start every other probe of
// every pod (an exec probe's process above all) at one instant.
func (r *Runner) at(t Type, due time.Time, settled bool) time.Time {
	_, batched := r.checkers[t].(starter)
	return r.clock.Round(due, settled && batched)
}

// starter is a Checker that can run without a goroutine of its own: Start
// begins a run that calls done once, from any goroutine, with what Check
// would have returned; false when it cannot run this one so (Check then
// runs it).
type starter interface {
	Start(ctx context.Context, timeout time.Duration, done func(Result, string)) bool
}

// start runs run: through its checker's Start when it has one and takes
// it, else on a goroutine of its own.
func (r *Runner) start(ctx context.Context, run Run) {
	if s, ok := r.checkers[run.Type].(starter); ok && s.Start(ctx, r.timeouts[run.Type], func(res Result, out string) { r.record(ctx, run, res, out) }) {
		return
	}
	go func() {
		res, out := r.checkers[run.Type].Check(ctx, r.timeouts[run.Type])
		r.record(ctx, run, res, out)
	}()
}

// record applies a run's result and reports it, on the goroutine that has
// it (the batcher's, or the check's): the runner's loop is not woken for
// it on the grid.
func (r *Runner) record(ctx context.Context, run Run, res Result, out string) {
	r.mu.Lock()
	if r.stopped || ctx.Err() != nil {
		r.mu.Unlock()
		return
	}
	if rep, ok := r.state.Record(r.clock.Now(), run, res, out); ok {
		r.report(rep)
	}
	r.schedule()
	r.mu.Unlock()
	if r.waker != nil {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}
