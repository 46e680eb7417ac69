package reconciler

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berth-project/berth/manifests"
)

// PodKey is a pod's identity: its namespace and name.
type PodKey struct{ Namespace, Name string }

// String returns "namespace/name".
func (k PodKey) String() string { return k.Namespace + "/" + k.Name }

func comparePodKeys(a, b PodKey) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// Desired is a pod a manifest file asks for. File is the path of the
// manifest that declares it, as the Source reports it.
type Desired struct {
	Key  PodKey
	File string
	Pod  *manifests.Pod
	// Seen is when the pass that found the pod began reading the manifest
	// directory, Parsed when it had read and validated it; zero outside a
	// pass. The runtime times a pod's start from Seen.
	Seen, Parsed time.Time
}

// Observed is a pod the runtime runs. File is the manifest path recorded
// when the pod was created (or last moved); Terminating is set while the
// pod is being torn down.
type Observed struct {
	Key         PodKey
	UID         string
	File        string
	Pod         *manifests.Pod
	Terminating bool
	// Health is the pod's readiness, when the runtime was asked for it
	// (the pods others wait for and the pods on trial); nil otherwise.
	Health *Health
	// Rollout is what the runtime keeps of the pod's spec changes.
	Rollout Rollout
	// Absent: the pod does not exist, its create failed; the runtime
	// lists it while its spec is on trial with a last good spec, so that
	// the gate can return to that one.
	Absent bool
}

// ActionKind is what an Action does to a pod.
type ActionKind int

// The action kinds. Replace is any spec change; its Change says how far it
// reaches: the containers the runtime restarts or resizes in place, or,
// when Change.Replaces, the pod, which the runtime stops and starts anew.
// UpdateMetadata records new labels, annotations or file without
// restarting anything. Hold keeps a pod from starting (Action.Hold says
// why) until the pods it waits for are Ready; Accept records that the
// pod's spec passed its gate (or that the manifest came back to the spec a
// rollback kept) and becomes its last good spec.
const (
	Create ActionKind = iota + 1
	Replace
	Delete
	UpdateMetadata
	Hold
	Accept
)

var actionKindNames = map[ActionKind]string{
	Create:         "create",
	Replace:        "replace",
	Delete:         "delete",
	UpdateMetadata: "update-metadata",
	Hold:           "hold",
	Accept:         "accept",
}

func (k ActionKind) String() string {
	if s, ok := actionKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is one step toward the desired state. Desired is nil for Delete;
// Observed is nil for Create. Change is what differs between them, field
// by field, for Replace and UpdateMetadata.
type Action struct {
	Kind     ActionKind
	Key      PodKey
	Desired  *Desired
	Observed *Observed
	Change   Change
	Reason   string
	// Hold is the reason of a Hold (Hold* constants). Rollback, on a
	// Replace, says why the pod returns to its last good spec (Desired).
	Hold, Rollback string
}

// String renders the action for logs and golden tests, for example
// "replace default/web: spec.containers[name=web].image changed".
func (a Action) String() string {
	s := a.Kind.String() + " " + a.Key.String()
	if a.Reason != "" {
		s += ": " + a.Reason
	}
	return s
}

// Plan computes the actions that take observed to desired. It is pure and
// deterministic: Delete actions come first (they free names, ports and
// addresses the others may need), then the rest; each group is ordered by
// key. held lists manifest files that exist but currently fail to load;
// pods they started are left alone. desired must hold each key at most
// once (the Source resolves duplicates); should a key repeat, the first
// entry wins.
//
// Plan has the gates off (Gate); the Reconciler plans with them on.
func Plan(desired []Desired, held map[string]bool, observed []Observed) []Action {
	actions, _ := plan(Gate{}, desired, held, observed, manifests.SpecEqual)
	return actions
}

// waits is what of a plan must be looked at again even if nothing
// changes: pass says a pass must come back (a pod held for another's
// readiness, a create on trial that failed, a trial's metadata updated
// first); trials are the pods on trial that judge left waiting, which the
// Reconciler judges again on their own (Reconciler.judgeTrials) rather
// than with a pass over every pod.
type waits struct {
	pass   bool
	trials []trial
}

// any says a pass or a judgement must come back.
func (w waits) any() bool { return w.pass || len(w.trials) > 0 }

// trial is a pod on trial to judge again: at the time recheck gave, or,
// when that is zero, after the Reconciler's RetryMin.
type trial struct {
	d    *Desired
	live *Observed
	at   time.Time
}

// plan is Plan with the gate and the spec comparison given (the Reconciler
// memoises it), and what must be looked at again.
func plan(g Gate, desired []Desired, held map[string]bool, observed []Observed, specEqual func(a, b *manifests.Pod) bool) (actions []Action, w waits) {
	want := make(map[PodKey]*Desired, len(desired))
	for i := range desired {
		if _, dup := want[desired[i].Key]; !dup {
			want[desired[i].Key] = &desired[i]
		}
	}
	have := groupObserved(observed)
	var cycles map[PodKey]string
	if g.on() {
		cycles = findCycles(want)
	}

	var deletes, others []Action
	for key, obs := range have {
		live, extra := splitLive(obs)
		for _, o := range extra {
			deletes = append(deletes, Action{Kind: Delete, Key: key, Observed: o,
				Reason: "duplicate of running pod uid " + live.UID})
		}
		d := want[key]
		switch {
		case live == nil:
			// Only terminating pods: wait until they are gone.
		case d == nil && !held[live.File]:
			deletes = append(deletes, Action{Kind: Delete, Key: key, Observed: live,
				Reason: "no longer declared in any manifest"})
		case d == nil:
			// Its file fails to load: the pod keeps its spec, and a
			// spec on trial is still judged, as if the file asked for it.
			if g.on() && live.Rollout.Trial {
				d := &Desired{Key: key, File: live.File, Pod: live.Pod}
				a, ok, wait := judge(g, d, live)
				if ok {
					others = append(others, a)
				}
				if wait {
					w.trials = append(w.trials, trial{d: d, live: live, at: recheck(g, d, live)})
				}
			}
		default:
			a, ok, wait := compare(g, d, live, specEqual)
			switch {
			case ok:
				others = append(others, a)
				w.pass = w.pass || wait
			case wait:
				w.trials = append(w.trials, trial{d: d, live: live, at: recheck(g, d, live)})
			}
		}
	}
	for key, d := range want {
		if _, ok := have[key]; ok {
			continue
		}
		if g.on() {
			if a, ok := holdFor(d, want, have, cycles); ok {
				others = append(others, a)
				// Only a pod waiting for another's readiness needs
				// another look; a cycle or a missing or invalid
				// dependency changes with the files, which bring a pass.
				w.pass = w.pass || a.Hold == HoldWaiting
				continue
			}
		}
		others = append(others, Action{Kind: Create, Key: key, Desired: d,
			Reason: "declared in " + filepath.Base(d.File)})
	}
	sortActions(deletes)
	sortActions(others)
	return append(deletes, others...), w
}

// groupObserved indexes observed pods by key, keeping the runtime's order.
func groupObserved(observed []Observed) map[PodKey][]*Observed {
	have := make(map[PodKey][]*Observed, len(observed))
	for i := range observed {
		o := &observed[i]
		have[o.Key] = append(have[o.Key], o)
	}
	return have
}

// splitLive returns the pod that represents a key (the non-terminating one
// with the smallest UID, for determinism) and any other non-terminating
// pods with the same key, which should not exist.
func splitLive(obs []*Observed) (live *Observed, extra []*Observed) {
	var running []*Observed
	for _, o := range obs {
		if !o.Terminating {
			running = append(running, o)
		}
	}
	if len(running) == 0 {
		return nil, nil
	}
	slices.SortFunc(running, func(a, b *Observed) int { return cmp.Compare(a.UID, b.UID) })
	return running[0], running[1:]
}

// compare decides what, if anything, turns live into d. The spec
// comparison is the memoised equality; only pods that differ are
// compared field by field. A spec a rollback left is not tried again
// while the manifest asks for it; a pod on trial is judged once its
// metadata is up to date (judge). wait is judge's.
func compare(g Gate, d *Desired, live *Observed, specEqual func(a, b *manifests.Pod) bool) (a Action, ok, wait bool) {
	a = Action{Key: d.Key, Desired: d, Observed: live}
	same := specEqual(d.Pod, live.Pod)
	if from := live.Rollout.RolledBackFrom; !same && from != nil && specEqual(d.Pod, from) {
		return Action{}, false, false
	}
	if !same {
		a.Change = DiffSpec(live.Pod, d.Pod)
		if a.Change.Scope < ScopeContainers {
			// Equal field by field but not as a whole: never expected,
			// and replacing is always correct.
			a.Change.Scope, a.Change.Pod = ScopePod, []string{"spec"}
		}
	} else {
		a.Change = diffMetadata(live.Pod, d.Pod)
	}
	if a.Change.Scope >= ScopeContainers {
		a.Kind = Replace
		a.Reason = a.Change.String()
		return a, true, false
	}
	var why []string
	for _, f := range a.Change.Metadata {
		why = append(why, strings.TrimPrefix(f, "metadata.")+" changed")
	}
	if d.File != live.File {
		why = append(why, fmt.Sprintf("moved from %s to %s", filepath.Base(live.File), filepath.Base(d.File)))
	}
	if live.Absent {
		return retryTrial(g, d, live)
	}
	if len(why) > 0 {
		a.Kind = UpdateMetadata
		a.Reason = strings.Join(why, "; ")
		return a, true, live.Rollout.Trial && g.on()
	}
	switch {
	case !g.on():
	case live.Rollout.Trial:
		return judge(g, d, live)
	case live.Rollout.RolledBackFrom != nil:
		return Action{Kind: Accept, Key: d.Key, Desired: d, Observed: live, Reason: "the manifest is back to the spec kept"}, true, false
	}
	return Action{}, false, false
}

func sortActions(as []Action) {
	slices.SortStableFunc(as, func(a, b Action) int { return comparePodKeys(a.Key, b.Key) })
}
