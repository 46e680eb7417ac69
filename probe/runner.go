package probe

import (
	"context"
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
	// Wake returns a channel that receives once the clock reaches t.
	Wake(t time.Time) <-chan time.Time
}

// SystemClock is the system's time.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// The grids SystemClock rounds to: multiples of the grain since the zero
// time, the same for every runner, so that the probes due within one
// grain run on one wake-up of the daemon rather than one each. What a
// wake-up costs (the daemon's threads and the Go runtime waking, each
// switch paying the scheduler's walk of every pod's cgroups) is most of
// what probes cost beside their own connections, so a settled probe, the
// steady state of a healthy pod, waits for the one-second grid: every
// such probe of every pod then runs on one wake-up a second, each at most
// a second after it is due and still every period (probe periods are
// whole seconds, so it keeps its place on the grid). A probe whose result
// is not settled (a startup probe, a readiness probe that has not
// succeeded yet, a failure counting towards its threshold) runs on the
// 200 ms grid, so that a pod becomes ready, and a failing container is
// found out, as soon as with a wake-up per probe.
const (
	WakeGrain    = 200 * time.Millisecond
	SettledGrain = time.Second
)

// Round returns t rounded up to SettledGrain when settled, else to
// WakeGrain.
func (SystemClock) Round(t time.Time, settled bool) time.Time {
	if settled {
		return ceilGrain(t, SettledGrain)
	}
	return ceilGrain(t, WakeGrain)
}

// Wake returns a channel that receives at t.
func (SystemClock) Wake(t time.Time) <-chan time.Time {
	return time.After(time.Until(t))
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
// time, from its loop. The wiring tells it when the container starts and
// stops; it probes nothing until the first start.
type Runner struct {
	state    *State
	checkers [3]Checker
	timeouts [3]time.Duration
	clock    Clock
	report   func(Report)
	events   chan func() []Report
	results  chan checkResult
	done     chan struct{}
}

type checkResult struct {
	run    Run
	result Result
	output string
}

// NewRunner returns the runner of container's probes.
func NewRunner(container string, clock Clock, report func(Report), probes ...Probe) *Runner {
	r := &Runner{
		clock:  clock,
		report: report,
		events: make(chan func() []Report),
		// One a probe type: a started run's result waits here while the
		// loop is busy.
		results: make(chan checkResult, 3),
		done:    make(chan struct{}),
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
// see ctx done and their results are dropped.
func (r *Runner) Run(ctx context.Context) {
	defer close(r.done)
	for {
		now := r.clock.Now()
		for _, run := range r.state.Take(now) {
			r.start(ctx, run)
		}
		var wake <-chan time.Time
		if next, ok := r.next(); ok {
			wake = r.clock.Wake(next)
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case ev := <-r.events:
			for _, rep := range ev() {
				r.report(rep)
			}
		case res := <-r.results:
			if rep, ok := r.state.Record(r.clock.Now(), res.run, res.result, res.output); ok {
				r.report(rep)
			}
		}
	}
}

// next is when the loop wakes next: the earliest instant a due probe runs
// at, each rounded as the clock rounds it; false when none is due until
// something changes.
func (r *Runner) next() (time.Time, bool) {
	var next time.Time
	found := false
	r.state.Upcoming(func(due time.Time, settled bool) {
		if at := r.clock.Round(due, settled); !found || at.Before(next) {
			next, found = at, true
		}
	})
	return next, found
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
	if s, ok := r.checkers[run.Type].(starter); ok && s.Start(ctx, r.timeouts[run.Type], func(res Result, out string) { r.deliver(ctx, checkResult{run, res, out}) }) {
		return
	}
	go r.check(ctx, run)
}

func (r *Runner) check(ctx context.Context, run Run) {
	res, out := r.checkers[run.Type].Check(ctx, r.timeouts[run.Type])
	select {
	case r.results <- checkResult{run, res, out}:
	case <-ctx.Done():
	}
}

// deliver hands a started run's result to the loop. It never waits: the
// caller may be serving other probes (the batcher); a loop busy elsewhere
// gets it from a goroutine.
func (r *Runner) deliver(ctx context.Context, cr checkResult) {
	select {
	case r.results <- cr:
	case <-ctx.Done():
	default:
		go func() {
			select {
			case r.results <- cr:
			case <-ctx.Done():
			}
		}()
	}
}
