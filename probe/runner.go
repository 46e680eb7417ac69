package probe

import (
	"context"
	"time"
)

// Clock is the Runner's time: the system's in the daemon, a fake one in
// tests.
type Clock interface {
	Now() time.Time
	// Wake returns a channel that receives once the clock reaches t.
	Wake(t time.Time) <-chan time.Time
}

// SystemClock is the system's time.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// WakeGrain is the grid SystemClock wakes on: multiples of it since the
// zero time, the same for every runner. Probes due within one grain run on
// one wake-up of the daemon rather than one each (probe periods are whole
// seconds, so the probes of many pods, started at scattered instants, wake
// it at most 1/WakeGrain times a second), and each runs at most a grain
// after it is due: within the kubelet's own slack, whose workers tick
// once a period.
const WakeGrain = 200 * time.Millisecond

// Wake returns a channel that receives at t rounded up to WakeGrain.
func (SystemClock) Wake(t time.Time) <-chan time.Time {
	return time.After(time.Until(ceilGrain(t)))
}

// ceilGrain is the first multiple of WakeGrain at or after t.
func ceilGrain(t time.Time) time.Time {
	at := t.Truncate(WakeGrain)
	if at.Before(t) {
		at = at.Add(WakeGrain)
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
		if next, ok := r.state.Next(); ok {
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
