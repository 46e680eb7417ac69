package reconciler

import (
	"context"
	"slices"
	"time"
)

// setTrials keeps the pods on trial a pass left waiting, each to be judged
// again at its recheck time or, when that is zero, after RetryMin. Called
// with passMu held.
func (r *Reconciler) setTrials(ts []trial, now time.Time) {
	r.trials = make(map[PodKey]trial, len(ts))
	for _, t := range ts {
		r.trials[t.d.Key] = r.scheduled(t, now)
	}
}

func (r *Reconciler) scheduled(t trial, now time.Time) trial {
	if t.at.IsZero() {
		t.at = now.Add(r.opts.RetryMin)
	}
	return t
}

// nextJudgement is when judgeTrials should run next: the earliest time a
// trial is due, but not sooner than a quarter of RetryMin after the last
// judgement, so that trials due a moment apart (the pods of a burst) are
// judged together. ok is false when no pod is on trial.
func (r *Reconciler) nextJudgement() (at time.Time, ok bool) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	for _, t := range r.trials {
		if !ok || t.at.Before(at) {
			at, ok = t.at, true
		}
	}
	return later(at, r.judged.Add(r.opts.RetryMin/4)), ok
}

// judgeTrials judges again the pods on trial that are due, asking the
// runtime for their health only: an Accept is done at once; a pod still
// not ready is given its next time. It is the part of a pass that time
// alone can change, at a cost in the pods due rather than in every pod.
// It returns true when a pass must follow: a trial to roll back (the pass
// plans it with everything else) or an accept that failed.
func (r *Reconciler) judgeTrials(ctx context.Context) (pass bool) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	now := r.now()
	r.judged = now
	var keys []PodKey
	for k, t := range r.trials {
		if !t.at.After(now) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return false
	}
	slices.SortFunc(keys, comparePodKeys)
	var health map[PodKey]*Health
	if hs, ok := r.rt.(HealthSource); ok {
		health = hs.Health(ctx, keys)
	}
	gate := r.opts.Gate
	gate.Now, gate.Started = now, r.started
	var accepts []Action
	for _, k := range keys {
		t := r.trials[k]
		live := *t.live
		live.Health = health[k]
		a, ok, wait := judge(gate, t.d, &live)
		switch {
		case ok && a.Kind == Accept:
			accepts = append(accepts, a)
			delete(r.trials, k)
		case ok:
			return true
		case wait:
			t.live = &live
			t.at = recheck(gate, t.d, &live)
			r.trials[k] = r.scheduled(t, now)
		default:
			delete(r.trials, k)
		}
	}
	if len(accepts) == 0 {
		return false
	}
	res := execute(ctx, r.rt, accepts, r.opts.Parallel)
	res.Planned = len(accepts)
	r.report(res)
	return len(res.Failed) > 0
}
