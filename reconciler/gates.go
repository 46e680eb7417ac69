package reconciler

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// Gate is what the time-based decisions of a plan need: the time of the
// pass, and the daemon's defaults for a spec change's gate, which a pod's
// berth.io/rollout-deadline and berth.io/min-ready annotations override.
// The zero Gate turns the gates off: no pod waits for its dependencies and
// no spec change is judged (what `berth diff` shows).
type Gate struct {
	Now time.Time
	// Started is when the runtime's readiness began to be known (the
	// daemon's start: probe results live in its memory); a trial older
	// than that gets its deadline counted from then.
	Started time.Time
	// Deadline is how long a changed spec has to pass; MinReady how long a
	// container without a readiness probe must have run to pass.
	Deadline, MinReady time.Duration
}

// Defaults of the gate.
const (
	DefaultRolloutDeadline = 5 * time.Minute
	DefaultMinReady        = 10 * time.Second
)

func (g Gate) on() bool { return !g.Now.IsZero() }

// Health is what the runtime reports of a pod's readiness.
type Health struct {
	// Ready is the pod's Ready condition.
	Ready      bool
	Containers []ContainerHealth
}

// ContainerHealth is one (regular) container's part of a pod's Health.
type ContainerHealth struct {
	Name string
	// Ready is the container's ready; ReadinessProbe says it has one.
	Ready, ReadinessProbe bool
	// RunningSince is the start of its current run, zero when it does not
	// run.
	RunningSince time.Time
	// Completed: it exited 0 and its restart policy does not run it again.
	Completed bool
	// Problem says why it is not ready, when the runtime knows: its
	// waiting reason, its last exit, its readiness probe's last failure.
	Problem string
}

// Rollout is what the runtime keeps of a pod's spec changes.
type Rollout struct {
	// Trial says the pod's spec has not passed the gate yet; it began at
	// Since.
	Trial bool
	Since time.Time
	// LastGood is the spec (and its file) that last passed, which a failed
	// trial returns to; nil when there is none (a first start).
	LastGood     *manifests.Pod
	LastGoodFile string
	// RolledBackFrom is the spec a failed trial left. While the manifest
	// still asks for it the pod stays on its last good spec; another spec
	// is a new attempt.
	RolledBackFrom *manifests.Pod
}

// Hold reasons (Action.Hold), as the pod's status shows them.
const (
	HoldWaiting = kube.ReasonWaitingForDependency
	HoldMissing = kube.ReasonDependencyMissing
	HoldCycle   = kube.ReasonDependencyCycle
	HoldInvalid = kube.ReasonInvalidDependency
)

// holdFor decides whether the create of d waits for its dependencies: one
// missing from every manifest, not running, or not Ready, or d being in a
// cycle of them. It returns the Hold action, or false when d may start.
func holdFor(d *Desired, want map[PodKey]*Desired, have map[PodKey][]*Observed, cycles map[PodKey]string) (Action, bool) {
	hold := func(why, msg string) (Action, bool) {
		return Action{Kind: Hold, Key: d.Key, Desired: d, Hold: why, Reason: msg}, true
	}
	if c, ok := cycles[d.Key]; ok {
		return hold(HoldCycle, "dependency cycle: "+c)
	}
	deps, err := manifests.After(d.Pod)
	if err != nil {
		return hold(HoldInvalid, manifests.AnnotationAfter+": "+err.Error())
	}
	for _, r := range deps {
		k := PodKey(r)
		if want[k] == nil {
			return hold(HoldMissing, fmt.Sprintf("waiting for %s, which no manifest declares", k))
		}
		live, _ := splitLive(have[k])
		if live == nil || live.Health == nil || !live.Health.Ready {
			return hold(HoldWaiting, fmt.Sprintf("waiting for %s to be Ready", k))
		}
	}
	return Action{}, false
}

// findCycles maps each desired pod on a cycle of berth.io/after to the
// cycle, written "a -> b -> a" from the cycle's smallest key.
func findCycles(want map[PodKey]*Desired) map[PodKey]string {
	edges := make(map[PodKey][]PodKey, len(want))
	for k, d := range want {
		deps, _ := manifests.After(d.Pod)
		for _, r := range deps {
			if want[PodKey(r)] != nil {
				edges[k] = append(edges[k], PodKey(r))
			}
		}
	}
	out := map[PodKey]string{}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[PodKey]int{}
	var path []PodKey
	var visit func(k PodKey)
	visit = func(k PodKey) {
		state[k] = onPath
		path = append(path, k)
		for _, n := range edges[k] {
			switch state[n] {
			case unseen:
				visit(n)
			case onPath:
				cyc := slices.Clone(path[slices.Index(path, n):])
				first := slices.IndexFunc(cyc, func(x PodKey) bool { return x == slices.MinFunc(cyc, comparePodKeys) })
				cyc = append(cyc[first:], cyc[:first]...)
				names := make([]string, 0, len(cyc)+1)
				for _, x := range cyc {
					names = append(names, x.String())
				}
				text := strings.Join(append(names, cyc[0].String()), " -> ")
				for _, x := range cyc {
					if _, ok := out[x]; !ok {
						out[x] = text
					}
				}
			}
		}
		path = path[:len(path)-1]
		state[k] = done
	}
	keys := make([]PodKey, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePodKeys)
	for _, k := range keys {
		if state[k] == unseen {
			visit(k)
		}
	}
	return out
}

// judge decides what becomes of a pod whose spec is on trial: Accept once
// its containers are ready, a Replace back to its last good spec once the
// deadline passed without that, or nothing yet (wait is then true: a pass
// must come back to it).
func judge(g Gate, d *Desired, live *Observed) (a Action, ok, wait bool) {
	deadline, _ := manifests.DurationAnnotation(d.Pod, manifests.AnnotationRolloutDeadline, cmp.Or(g.Deadline, DefaultRolloutDeadline))
	minReady, _ := manifests.DurationAnnotation(d.Pod, manifests.AnnotationMinReady, cmp.Or(g.MinReady, DefaultMinReady))
	why := notReady(live.Health, g.Now, minReady)
	if why == "" {
		return Action{Kind: Accept, Key: d.Key, Desired: d, Observed: live, Reason: "containers ready"}, true, false
	}
	if g.Now.Sub(later(live.Rollout.Since, g.Started)) < deadline {
		return Action{}, false, true
	}
	good := live.Rollout.LastGood
	if good == nil {
		// Nothing to return to: the pod stays as it is.
		return Action{}, false, false
	}
	back := &Desired{Key: d.Key, File: cmp.Or(live.Rollout.LastGoodFile, d.File), Pod: good, Seen: d.Seen, Parsed: d.Parsed}
	a = Action{Kind: Replace, Key: d.Key, Desired: back, Observed: live, Change: DiffSpec(live.Pod, good),
		Rollback: fmt.Sprintf("not ready within %s of the change to %s: %s", deadline, filepath.Base(d.File), why)}
	if a.Change.Scope < ScopeContainers {
		a.Change.Scope, a.Change.Pod = ScopePod, []string{"spec"}
	}
	a.Reason = "roll back: " + a.Rollback
	return a, true, false
}

// recheck is when time alone can next change judge's "not yet" for a pod
// on trial: the moment the last of its running containers without a
// readiness probe has run for min-ready, or its deadline if sooner (when
// there is a last good spec to return to). It is zero when only a change
// of the pod's status can (a readiness probe not passing, a container not
// running, no status): such a pod is looked at again after a short delay.
func recheck(g Gate, d *Desired, live *Observed) time.Time {
	h := live.Health
	if h == nil {
		return time.Time{}
	}
	minReady, _ := manifests.DurationAnnotation(d.Pod, manifests.AnnotationMinReady, cmp.Or(g.MinReady, DefaultMinReady))
	var at time.Time
	for _, c := range h.Containers {
		switch {
		case c.Completed:
		case c.ReadinessProbe && !c.Ready, !c.ReadinessProbe && c.RunningSince.IsZero():
			return time.Time{}
		case !c.ReadinessProbe:
			at = later(at, c.RunningSince.Add(minReady))
		}
	}
	if live.Rollout.LastGood != nil {
		deadline, _ := manifests.DurationAnnotation(d.Pod, manifests.AnnotationRolloutDeadline, cmp.Or(g.Deadline, DefaultRolloutDeadline))
		if end := later(live.Rollout.Since, g.Started).Add(deadline); at.IsZero() || end.Before(at) {
			at = end
		}
	}
	return at
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// retryTrial decides for a pod on trial whose create failed: back to its
// last good spec past the deadline (judge), else the create again.
func retryTrial(g Gate, d *Desired, live *Observed) (Action, bool, bool) {
	if g.on() {
		if a, ok, _ := judge(g, d, live); ok && a.Kind == Replace {
			return a, true, false
		}
	}
	return Action{Kind: Create, Key: d.Key, Desired: d, Observed: live, Reason: "declared in " + filepath.Base(d.File) + "; its last create failed"}, true, g.on()
}

// notReady says why h does not pass the gate, "" when it does: every
// container ready by its readiness probe, or without one running for at
// least minReady, or completed.
func notReady(h *Health, now time.Time, minReady time.Duration) string {
	if h == nil {
		return "its status is unknown"
	}
	for _, c := range h.Containers {
		switch {
		case c.Completed:
		case c.ReadinessProbe && !c.Ready:
			return fmt.Sprintf("container %s is not ready%s", c.Name, problem(c.Problem))
		case c.ReadinessProbe:
		case c.RunningSince.IsZero():
			return fmt.Sprintf("container %s is not running%s", c.Name, problem(c.Problem))
		case now.Sub(c.RunningSince) < minReady:
			return fmt.Sprintf("container %s has not run for %s without a restart%s", c.Name, minReady, problem(c.Problem))
		}
	}
	return ""
}

func problem(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// StopOrder is the order in which to remove every pod when the daemon is
// asked to stop them all: waves, each removed once the one before it is
// gone, a pod in the wave after every pod that waits for it
// (berth.io/after), so dependents stop before what they depend on. Pods
// on a cycle go in the last wave. Each wave is ordered by key.
func StopOrder(observed []Observed) [][]PodKey {
	pods := map[PodKey]*Observed{}
	for i := range observed {
		pods[observed[i].Key] = &observed[i]
	}
	// dependents[k] counts the pods still to stop that wait for k.
	dependents := map[PodKey]int{}
	deps := map[PodKey][]PodKey{}
	for k, o := range pods {
		refs, _ := manifests.After(o.Pod)
		for _, r := range refs {
			if pods[PodKey(r)] != nil {
				deps[k] = append(deps[k], PodKey(r))
				dependents[PodKey(r)]++
			}
		}
	}
	var waves [][]PodKey
	for len(pods) > 0 {
		var wave []PodKey
		for k := range pods {
			if dependents[k] == 0 {
				wave = append(wave, k)
			}
		}
		if len(wave) == 0 {
			for k := range pods {
				wave = append(wave, k)
			}
		}
		slices.SortFunc(wave, comparePodKeys)
		for _, k := range wave {
			delete(pods, k)
			for _, dep := range deps[k] {
				dependents[dep]--
			}
		}
		waves = append(waves, wave)
	}
	return waves
}
