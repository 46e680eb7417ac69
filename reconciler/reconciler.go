package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/berth-project/berth/manifests"
)

// Runtime is what the reconciler needs from the pod runtime; package pod
// implements it. Apply must be safe to call concurrently for different
// pods; the reconciler never runs two actions for the same pod at once.
type Runtime interface {
	ListPods(ctx context.Context) ([]Observed, error)
	Apply(ctx context.Context, a Action) error
}

// HealthSource is what a Runtime adds for the gates: the readiness of the
// pods named, which the reconciler asks for the pods that others wait for
// (berth.io/after) and the pods whose spec is on trial. A Runtime without
// it reports no pod Ready: pods that wait for others stay held.
type HealthSource interface {
	Health(ctx context.Context, keys []PodKey) map[PodKey]*Health
}

// Source provides the desired state; package manifestdir implements it.
// held lists manifest files that exist but fail to load (their pods are
// kept); problems are the validation findings to report. A non-nil err
// means the desired state is unknown (for example the directory cannot be
// read), and the pass does nothing rather than tear pods down.
type Source interface {
	Desired(ctx context.Context) (desired []Desired, held map[string]bool, problems []error, err error)
}

// Options tunes a Reconciler. Zero values select the defaults.
type Options struct {
	// Parallel bounds how many pods are acted on at once (default 8).
	Parallel int
	// RetryMin and RetryMax bound the back-off before a pass that had
	// failures is repeated without a trigger (defaults 1 s and 1 min).
	RetryMin, RetryMax time.Duration
	// LogRepeat is how often an unchanged failure of the same pod is
	// logged again (default 5 min); in between it is counted silently.
	LogRepeat time.Duration
	// Gate holds the defaults of a spec change's gate (its Now is the
	// pass's).
	Gate Gate
	// OnPass, if set, is called after every pass with its result (the
	// daemon uses the first call to send READY=1 to systemd).
	OnPass func(Result)
}

// Defaults for Options.
const (
	DefaultParallel  = 8
	DefaultRetryMin  = time.Second
	DefaultRetryMax  = time.Minute
	DefaultLogRepeat = 5 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(DefaultRetryMax, o.RetryMin)
	}
	if o.LogRepeat <= 0 {
		o.LogRepeat = DefaultLogRepeat
	}
	return o
}

// ErrSkipped marks an action not tried because an earlier action for the
// same pod failed in the same pass.
var ErrSkipped = errors.New("skipped after an earlier failure for the same pod")

// Failure is an action that did not succeed. As an error it reads like
// "replace default/web: <the runtime's error>".
type Failure struct {
	Action Action
	Err    error
}

func (f Failure) Error() string { return fmt.Sprintf("%s %s: %v", f.Action.Kind, f.Action.Key, f.Err) }

func (f Failure) Unwrap() error { return f.Err }

// Result is what one pass did.
type Result struct {
	// Err is set when the pass could not observe or load the desired
	// state; no action was attempted then.
	Err error
	// Planned is the number of actions the plan had.
	Planned int
	// Done and Failed split the planned actions by outcome; actions of a
	// pod after its first failure are in Failed with ErrSkipped.
	Done   []Action
	Failed []Failure
	// Waiting says a pod waits for a dependency to be Ready or its spec
	// is on trial and its create failed: Run passes again after RetryMin.
	// A pod held for a cycle or a missing dependency waits for a file to
	// change instead. A pod on trial that is not ready yet is not waiting
	// in this sense: Run judges it again without a pass.
	Waiting bool
}

// Reconciler runs observe -> plan -> execute passes.
type Reconciler struct {
	src  Source
	rt   Runtime
	log  *slog.Logger
	opts Options
	now  func() time.Time

	// started is when the Reconciler was made: the gate's Started.
	started time.Time

	passMu sync.Mutex // one pass at a time
	errs   *errorLog  // guarded by passMu
	specs  specMemo   // guarded by passMu
	// trials are the pods on trial the last pass left waiting, by key,
	// each with when to judge it again; judged is when judgeTrials last
	// ran. Guarded by passMu.
	trials map[PodKey]trial
	judged time.Time

	mu       sync.Mutex // guards problems
	problems []error
}

// New returns a Reconciler that reads desired pods from src and acts on rt.
// A nil log discards output.
func New(src Source, rt Runtime, log *slog.Logger, opts Options) *Reconciler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	return &Reconciler{src: src, rt: rt, log: log, opts: opts, now: time.Now, started: time.Now(),
		errs: newErrorLog(opts.LogRepeat), specs: specMemo{compare: manifests.SpecEqual}}
}

// Run does a pass at once, then one per receive on trigger, until ctx
// ends (it returns ctx.Err()) or trigger is closed (it returns nil). A
// pass with failed actions is repeated after a capped exponential back-off
// even without a trigger, and so is one with a pod held for another's
// readiness, after RetryMin. The pods on trial that a pass left waiting
// are judged again on their own (judgeTrials) when time can decide them,
// or after RetryMin when only their status can: not with a pass over
// every pod each time, which would make N pods on trial after a burst
// cost N passes of N pods. Triggers that arrive during a pass are
// coalesced by the sender: use a channel with a buffer of one and a
// non-blocking send.
func (r *Reconciler) Run(ctx context.Context, trigger <-chan struct{}) error {
	retry := time.NewTimer(0)
	retry.Stop()
	defer retry.Stop()
	judge := time.NewTimer(0)
	judge.Stop()
	defer judge.Stop()
	backoff := time.Duration(0)
	for pass := true; ; {
		if pass {
			res := r.Pass(ctx)
			switch {
			case res.Waiting:
				// A pod waiting for a dependency, or on trial with a
				// failed create, is looked at again soon, even when
				// actions failed (a trial's create may be what fails).
				retry.Reset(r.opts.RetryMin)
			case len(res.Failed) > 0 || res.Err != nil:
				backoff = min(max(2*backoff, r.opts.RetryMin), r.opts.RetryMax)
				retry.Reset(backoff)
			default:
				backoff = 0
				retry.Stop()
			}
		}
		pass = true
		judge.Stop()
		if at, ok := r.nextJudgement(); ok {
			judge.Reset(time.Until(at))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-trigger:
			if !ok {
				return nil
			}
		case <-retry.C:
		case <-judge.C:
			pass = r.judgeTrials(ctx)
		}
	}
}

// Pass runs one observe -> plan -> execute pass and returns what it did.
// Concurrent calls are serialised.
func (r *Reconciler) Pass(ctx context.Context) Result {
	r.passMu.Lock()
	defer r.passMu.Unlock()

	res := r.pass(ctx)
	r.report(res)
	if r.opts.OnPass != nil {
		r.opts.OnPass(res)
	}
	return res
}

func (r *Reconciler) pass(ctx context.Context) Result {
	seen := r.now()
	desired, held, problems, err := r.src.Desired(ctx)
	parsed := r.now()
	for i := range desired {
		desired[i].Seen, desired[i].Parsed = seen, parsed
	}
	r.logNewProblems(problems)
	if err != nil {
		r.setProblems(slices.Concat(problems, []error{err}))
		return Result{Err: fmt.Errorf("load desired pods: %w", err)}
	}
	observed, err := r.rt.ListPods(ctx)
	if err != nil {
		r.setProblems(slices.Concat(problems, []error{err}))
		return Result{Err: fmt.Errorf("list pods: %w", err)}
	}
	r.addHealth(ctx, desired, observed)
	gate := r.opts.Gate
	gate.Now, gate.Started = r.now(), r.started
	actions, wait := plan(gate, desired, held, observed, r.specs.equal)
	r.specs.endPass()
	res := execute(ctx, r.rt, actions, r.opts.Parallel)
	res.Planned, res.Waiting = len(actions), wait.pass
	r.setTrials(wait.trials, gate.Now)
	all := slices.Clone(problems)
	for _, f := range res.Failed {
		all = append(all, f)
	}
	r.setProblems(all)
	return res
}

// addHealth asks the runtime for the readiness of the observed pods that
// desired pods wait for and of those on trial.
func (r *Reconciler) addHealth(ctx context.Context, desired []Desired, observed []Observed) {
	hs, ok := r.rt.(HealthSource)
	if !ok {
		return
	}
	need := map[PodKey]bool{}
	for _, d := range desired {
		refs, _ := manifests.After(d.Pod)
		for _, ref := range refs {
			need[PodKey(ref)] = true
		}
	}
	var keys []PodKey
	for _, o := range observed {
		if (need[o.Key] || o.Rollout.Trial) && !o.Terminating {
			keys = append(keys, o.Key)
		}
	}
	if len(keys) == 0 {
		return
	}
	h := hs.Health(ctx, keys)
	for i := range observed {
		if !observed[i].Terminating {
			observed[i].Health = h[observed[i].Key]
		}
	}
}

// report logs the outcome of a pass: every action done, and failures
// rate-limited per pod and error text.
func (r *Reconciler) report(res Result) {
	now := r.now()
	if res.Err != nil {
		if r.errs.shouldLog(PodKey{}, res.Err.Error(), now) {
			r.log.Error("reconcile pass skipped", "err", res.Err)
		}
		return
	}
	for _, a := range res.Done {
		if a.Kind == Hold {
			continue // repeated every pass while held; the pod's status says why
		}
		r.log.Info("pod reconciled", "pod", a.Key.String(), "action", a.String())
	}
	failing := make(map[PodKey]bool, len(res.Failed))
	for _, f := range res.Failed {
		if errors.Is(f.Err, ErrSkipped) {
			continue
		}
		failing[f.Action.Key] = true
		text := f.Err.Error()
		if n := r.errs.repeats(f.Action.Key, text); r.errs.shouldLog(f.Action.Key, text, now) {
			r.log.Error("pod action failed, will retry", "pod", f.Action.Key.String(),
				"action", f.Action.String(), "err", f.Err, "repeats", n)
		}
	}
	// A pod that no longer fails logs its next failure at once.
	r.errs.keepOnly(failing)
}

// logNewProblems logs each source problem once, when it first appears.
func (r *Reconciler) logNewProblems(problems []error) {
	r.mu.Lock()
	seen := make(map[string]bool, len(r.problems))
	for _, p := range r.problems {
		seen[p.Error()] = true
	}
	r.mu.Unlock()
	for _, p := range problems {
		if !seen[p.Error()] {
			r.log.Warn("manifest problem", "err", p)
		}
	}
}

func (r *Reconciler) setProblems(p []error) {
	r.mu.Lock()
	r.problems = p
	r.mu.Unlock()
}

// Problems returns the problems of the latest pass: invalid files,
// duplicate pods and failed actions, for status and the CLI.
func (r *Reconciler) Problems() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]error, len(r.problems))
	copy(out, r.problems)
	return out
}
