package pod

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

// rollout is what a pod's record keeps of its spec changes
// (reconciler.Rollout): the last good spec a trial returns to, and the
// spec a rollback left. A record without it (an older berth's) is a
// proven pod.
type rollout struct {
	// Trial: the spec has not passed the gate yet; it began at Since, or
	// else at the record's Created.
	Trial        bool           `json:"trial,omitempty"`
	Since        time.Time      `json:"since,omitzero"`
	LastGood     *manifests.Pod `json:"lastGood,omitempty"`
	LastGoodFile string         `json:"lastGoodFile,omitempty"`
	RolledBack   *rolledBack    `json:"rolledBack,omitempty"`
}

// rolledBack is a failed trial: the spec it tried, from which file, why
// it failed and when berth returned to the last good spec.
type rolledBack struct {
	From   *manifests.Pod `json:"from"`
	File   string         `json:"file"`
	Reason string         `json:"reason"`
	At     time.Time      `json:"at"`
}

// observedRollout is rec's rollout as the planner sees it.
func observedRollout(rec *record) reconciler.Rollout {
	r := rec.Rollout
	out := reconciler.Rollout{Trial: r.Trial, Since: cmp.Or(r.Since, rec.Created), LastGood: r.LastGood, LastGoodFile: r.LastGoodFile}
	if r.RolledBack != nil {
		out.RolledBackFrom = r.RolledBack.From
	}
	return out
}

// nextRollout is the rollout of the pod a Replace makes: a rollback's
// pod runs its last good spec and records the spec it left; any other
// change is a trial whose last good spec is the observed pod's, or, when
// that one was on trial itself, the one it would have returned to.
func nextRollout(a reconciler.Action) rollout {
	o := a.Observed
	if a.Rollback != "" {
		return rollout{RolledBack: &rolledBack{From: o.Pod, File: o.File, Reason: a.Rollback, At: time.Now().UTC()}}
	}
	if o.Rollout.Trial {
		return rollout{Trial: true, LastGood: o.Rollout.LastGood, LastGoodFile: o.Rollout.LastGoodFile}
	}
	return rollout{Trial: true, LastGood: o.Pod, LastGoodFile: o.File}
}

// createRollout is the rollout a Create starts the pod with: a new trial,
// or, when the create retries one whose last attempt failed (the planner
// lists it Absent), that trial, from when it began.
func createRollout(a reconciler.Action) rollout {
	if o := a.Observed; o != nil && o.Absent {
		return rollout{Trial: true, Since: o.Rollout.Since, LastGood: o.Rollout.LastGood, LastGoodFile: o.Rollout.LastGoodFile}
	}
	return rollout{Trial: true}
}

// failedTrials lists, as Absent, the pods whose create failed while their
// spec was on trial with a last good spec to return to. Called with m.mu
// held.
func (m *Manager) failedTrials() []reconciler.Observed {
	var out []reconciler.Observed
	for id, f := range m.failed {
		_, exists := m.pods[id]
		_, creating := m.creating[id]
		if exists || creating || !f.rollout.Trial || f.rollout.LastGood == nil {
			continue
		}
		out = append(out, reconciler.Observed{Key: reconciler.PodKey{Namespace: f.pod.Namespace, Name: f.pod.Name},
			File: f.file, Pod: f.pod, Absent: true,
			Rollout: reconciler.Rollout{Trial: true, Since: f.rollout.Since, LastGood: f.rollout.LastGood, LastGoodFile: f.rollout.LastGoodFile}})
	}
	return out
}

// accept records that the pod's spec passed its gate, or that its
// manifest came back to the spec a rollback kept: the spec is its last
// good one from now on.
func (m *Manager) accept(a reconciler.Action) error {
	id := podid.ID(a.Key.Namespace, a.Key.Name)
	m.mu.Lock()
	e, ok := m.pods[id]
	if !ok || e.rec.UID != a.Observed.UID {
		m.mu.Unlock()
		return nil
	}
	rec := *e.rec
	was := rec.Rollout
	rec.Rollout = rollout{}
	if err := writeRecord(e.layout.State, &rec); err != nil {
		m.mu.Unlock()
		return fmt.Errorf("record the accepted spec of pod %s: %w", a.Key, err)
	}
	e.rec = &rec
	m.mu.Unlock()
	if was.LastGood != nil {
		m.event(rec.Pod, "", kube.EventNormal, kube.EventRolloutPassed, "The changed spec from "+rec.File+" is ready; it is the pod's last good spec")
	}
	return nil
}

// hold is a pod the planner keeps from starting, and why.
type hold struct {
	pod             *manifests.Pod
	file            string
	reason, message string
	at              time.Time
}

// hold records why a pod waits; a new reason is also an event (a
// Warning unless the pod just waits for another to be Ready).
func (m *Manager) hold(a reconciler.Action) {
	id := podid.ID(a.Key.Namespace, a.Key.Name)
	m.mu.Lock()
	prev, had := m.held[id]
	changed := !had || prev.reason != a.Hold || prev.message != a.Reason
	h := hold{pod: a.Desired.Pod, file: a.Desired.File, reason: a.Hold, message: a.Reason, at: time.Now()}
	if had && !changed {
		h.at = prev.at
	}
	m.held[id] = h
	m.mu.Unlock()
	if changed {
		typ := kube.EventWarning
		if a.Hold == reconciler.HoldWaiting {
			typ = kube.EventNormal
		}
		m.event(a.Desired.Pod, "", typ, a.Hold, a.Reason)
	}
}

// heldPod shows a pod held by the planner: Pending, with why.
func heldPod(h hold) View {
	return failedPod(failure{pod: h.pod, file: h.file, reason: h.reason, message: h.message, at: h.at})
}

// Health implements reconciler.HealthSource from the pods' views: the
// Ready condition, and for each container whether it is ready, has a
// readiness probe, runs and since when, and what keeps it from being
// ready.
func (m *Manager) Health(ctx context.Context, keys []reconciler.PodKey) map[reconciler.PodKey]*reconciler.Health {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[podid.ID(k.Namespace, k.Name)] = true
	}
	out := make(map[reconciler.PodKey]*reconciler.Health, len(keys))
	m.mu.Lock()
	for id, f := range m.failed {
		if _, exists := m.pods[id]; want[id] && !exists {
			out[reconciler.PodKey{Namespace: f.pod.Namespace, Name: f.pod.Name}] = failedHealth(f)
		}
	}
	m.mu.Unlock()
	hostIP := m.hostIP()
	for _, s := range m.statuses(ctx, func(id string) bool { return want[id] }, false) {
		if s.st == nil || s.terminating {
			continue
		}
		p := s.rec.Pod
		probed := s.probeStatuses()
		v := podView(s.rec, s.st, s.terminating, hostIP, probed)
		out[reconciler.PodKey{Namespace: p.Namespace, Name: p.Name}] = podHealth(p, v, probed)
	}
	return out
}

// podHealth is the gate's view of a pod: pure, from its view and what its
// probes said.
func podHealth(p *manifests.Pod, v View, probed map[string]probeStatus) *reconciler.Health {
	h := &reconciler.Health{}
	for _, c := range v.Conditions {
		if c.Type == kube.PodReady {
			h.Ready = c.Status == kube.ConditionTrue
		}
	}
	for i, cv := range v.Containers {
		c := p.Spec.Containers[i]
		ch := reconciler.ContainerHealth{Name: cv.Name, Ready: cv.Ready, ReadinessProbe: c.ReadinessProbe != nil}
		st := cv.State
		switch {
		case st.Running != nil:
			ch.RunningSince = st.Running.StartedAt
			if ps := probed[cv.Name]; ps.failure != "" && !cv.Ready {
				ch.Problem = ps.failure
			}
		case st.Waiting != nil:
			ch.Problem = joinReason(st.Waiting.Reason, st.Waiting.Message)
		case st.Terminated != nil:
			ch.Completed = st.Terminated.ExitCode == 0 && p.Spec.RestartPolicy != "Always" && p.Spec.RestartPolicy != ""
			ch.Problem = fmt.Sprintf("exited with code %d", st.Terminated.ExitCode)
		}
		if ch.Problem == "" && cv.RestartCount > 0 && cv.LastState.Terminated != nil {
			ch.Problem = fmt.Sprintf("restarted %d times, last exit code %d", cv.RestartCount, cv.LastState.Terminated.ExitCode)
		}
		h.Containers = append(h.Containers, ch)
	}
	return h
}

// failedHealth is the gate's view of a pod whose create failed: no
// container runs, for the failure's reason.
func failedHealth(f failure) *reconciler.Health {
	h := &reconciler.Health{}
	for _, c := range f.pod.Spec.Containers {
		h.Containers = append(h.Containers, reconciler.ContainerHealth{Name: c.Name, ReadinessProbe: c.ReadinessProbe != nil,
			Problem: "the pod cannot be created: " + joinReason(f.reason, f.message)})
	}
	return h
}

func joinReason(reason, msg string) string {
	switch {
	case msg == "":
		return reason
	case reason == "":
		return msg
	}
	return reason + ": " + msg
}
