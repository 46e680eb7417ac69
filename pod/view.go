package pod

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/netsetup"
)

// View is what the runtime shows of a pod: its metadata (with the UID
// berth gave it) and spec, its status computed as Kubernetes does, and
// berth's own facts. The daemon serves it in the API's Kubernetes shape.
type View struct {
	Meta manifests.ObjectMeta
	Spec manifests.PodSpec

	Phase string
	// Conditions are the kubelet's five, in its order.
	Conditions []Condition
	Reason     string
	Message    string
	// HostIP is the host's address on the pod network ("" when there is
	// none); IP is the pod's, "" before it has one (the host's for a pod on
	// the host's network).
	HostIP string
	IP     string
	// StartTime is when the infra was told to start the containers.
	StartTime      *time.Time
	InitContainers []ContainerView
	Containers     []ContainerView
	// QOSClass is the pod's quality of service class (kube's QOS*).
	QOSClass string

	// File is the manifest the pod comes from, InfraPID its infra process,
	// Created when its creation (or the failed attempt shown) began.
	File     string
	InfraPID int
	Created  time.Time
}

// Condition is one of a pod's conditions, as the kubelet reports them:
// a type and status of kube's, since when it holds and, when False, why.
type Condition struct {
	Type               string
	Status             string
	LastTransitionTime time.Time
	Reason             string
	Message            string
}

// ContainerView is the status of one container, as Kubernetes' container
// status has it.
type ContainerView struct {
	Name         string
	State        kube.ContainerState
	LastState    kube.ContainerState
	Ready        bool
	RestartCount int32
	Image        string
	ImageID      string
	ContainerID  string
	Started      *bool
	// ProbedAt is when the container's probes last changed its Started
	// or Ready in its current run (the run's start until they do); zero
	// for a container without probes, whose readiness follows its state.
	ProbedAt time.Time
}

// Event is something that happened to a pod (kube's Event* reasons).
// Repeats the infra folded carry a Count, seen first at FirstTime.
type Event struct {
	Time      time.Time
	FirstTime time.Time
	Count     int32
	Type      string
	Reason    string
	Namespace string
	Name      string
	Container string
	Message   string
}

// setFailed records why the create of pod p failed, for its status and
// as an event.
func (m *Manager) setFailed(p *manifests.Pod, file string, ro rollout, err error) {
	m.mu.Lock()
	m.failed[podid.ID(p.Namespace, p.Name)] = failure{pod: p, file: file, reason: failureReason(err), message: err.Error(), at: time.Now(), rollout: ro}
	m.mu.Unlock()
	if r := failedEventReason(failureReason(err)); r != "" {
		m.event(p, "", kube.EventWarning, r, err.Error())
	}
}

// failureReason is the status reason of a failed create: specific where the
// user can act on the cause, CreateContainerError otherwise.
func failureReason(err error) string {
	var ie *imageError
	if r, ok := pullReason(err); ok {
		return r
	}
	switch {
	case errors.As(err, &ie) && errors.Is(err, images.ErrNotFound):
		return kube.ReasonImageNotFound
	case errors.Is(err, netsetup.ErrHostPortInUse):
		return kube.ReasonHostPortInUse
	case errors.Is(err, netsetup.ErrRangeExhausted):
		return kube.ReasonNoPodIP
	case errors.Is(err, ErrClaimHeld):
		return kube.ReasonClaimInUse
	case errors.Is(err, cgroups.ErrControllerMissing):
		return kube.ReasonControllerMissing
	}
	return kube.ReasonCreateFailed
}

// Forget drops the recorded create failure of a pod that is no longer
// desired, and what a dead pod that is no longer desired left to its
// successor, with its logs.
func (m *Manager) Forget(keep func(namespace, name string) bool) {
	m.mu.Lock()
	var gone []string
	for id, f := range m.failed {
		if !keep(f.pod.Namespace, f.pod.Name) {
			delete(m.failed, id)
		}
	}
	for id, h := range m.held {
		if !keep(h.pod.Namespace, h.pod.Name) {
			delete(m.held, id)
		}
	}
	for id, cr := range m.carried {
		if !keep(cr.pod.Namespace, cr.pod.Name) {
			gone = append(gone, id)
		}
	}
	m.mu.Unlock()
	for _, id := range gone {
		if err := m.dropCarried(id, false); err != nil {
			m.cfg.Log.Warn("remove the logs of a pod no longer declared", "pod", id, "err", err)
		}
	}
}

// Pods returns the status of every pod (the one its infra pushed last, or,
// without one, asking the infras in parallel), of every pod being created,
// and of every pod whose creation failed.
func (m *Manager) Pods(ctx context.Context) []View {
	return m.views(ctx, func(string) bool { return true })
}

// Pod returns the status of one pod, asking only its infra when it pushed
// none.
func (m *Manager) Pod(ctx context.Context, namespace, name string) (View, bool) {
	id := podid.ID(namespace, name)
	out := m.views(ctx, func(other string) bool { return other == id })
	if len(out) == 0 {
		return View{}, false
	}
	return out[0], true
}

// views builds the views of the pods whose identity want accepts.
func (m *Manager) views(ctx context.Context, want func(id string) bool) []View {
	m.mu.Lock()
	var out []View
	// A retry of a failed create shows the last failure until it succeeds,
	// so that the status does not flip between the two.
	for id, c := range m.creating {
		_, exists := m.pods[id]
		_, failed := m.failed[id]
		if want(id) && !exists && !failed {
			out = append(out, creatingPod(c.pod, c.file, c.at))
		}
	}
	for id, f := range m.failed {
		if _, exists := m.pods[id]; want(id) && !exists {
			out = append(out, failedPod(f))
		}
	}
	for id, h := range m.held {
		_, exists := m.pods[id]
		_, failed := m.failed[id]
		_, creating := m.creating[id]
		if want(id) && !exists && !failed && !creating {
			out = append(out, heldPod(h))
		}
	}
	m.mu.Unlock()
	hostIP := m.hostIP()
	for _, s := range m.statuses(ctx, want, false) {
		out = append(out, podView(s.rec, applyPostStart(s.st, s.postStartRuns()), s.terminating, hostIP, s.probeStatuses()))
	}
	return out
}

// hostIP is the host's address on the pod network, the pods' gateway: the
// address a pod reaches the host at, which the kubelet calls the pod's
// host IP.
func (m *Manager) hostIP() string {
	if m.cfg.Net == nil {
		return ""
	}
	return m.cfg.Net.Gateway().String()
}

// Events returns the container events the infras of the existing pods
// keep, oldest first per pod. Events change without a push: every infra is
// asked.
func (m *Manager) Events(ctx context.Context) []Event {
	var out []Event
	for _, s := range m.statuses(ctx, func(string) bool { return true }, true) {
		if s.st != nil {
			out = append(out, podEvents(s.rec.Pod, s.st.Events)...)
		}
	}
	return out
}

// podState is one existing pod with what its infra reports (st is nil when
// the infra did not answer).
type podState struct {
	rec         *record
	st          *infra.PodStatus
	terminating bool
	probes      *prober
	// probesPending and hooksPending are the entry's: its prober or its
	// hooker is not yet running.
	probesPending, hooksPending bool
	hooks                       *hooker
}

// postStartRuns is what the pod's hooker knows of its postStart hooks;
// while it is not yet running (hooksPending), a container with one has no
// run whose hook succeeded, as when the hooker has just started.
func (s podState) postStartRuns() map[string]hookRun {
	runs := s.hooks.postStartRuns()
	if !s.hooksPending {
		return runs
	}
	return withNoResult(s.rec.Pod, runs, hasPostStartHook)
}

// probeStatuses is what the pod's probes said of its containers; while
// its prober is not yet running (probesPending), a container with probes
// has no result yet, so it shows neither started nor ready, as when the
// prober has just started.
func (s podState) probeStatuses() map[string]probeStatus {
	statuses := s.probes.statuses()
	if !s.probesPending {
		return statuses
	}
	return withNoResult(s.rec.Pod, statuses, hasProbe)
}

// withNoResult gives each sidecar and regular container of p that has
// what its follower (prober, hooker) acts on, and of which got holds
// nothing, the zero value: no result yet.
func withNoResult[V any](p *manifests.Pod, got map[string]V, has func(*manifests.Container) bool) map[string]V {
	for _, c := range sidecarsAndApps(&p.Spec) {
		if _, ok := got[c.Name]; !ok && has(c) {
			if got == nil {
				got = map[string]V{}
			}
			var none V
			got[c.Name] = none
		}
	}
	return got
}

// statuses returns the status of every existing pod that want accepts:
// the one its infra pushed last (statuscache.go) unless fresh, else asking
// the infras, in parallel.
func (m *Manager) statuses(ctx context.Context, want func(id string) bool, fresh bool) []podState {
	m.mu.Lock()
	var res []podState
	var socks []string
	for id, e := range m.pods {
		if !want(id) {
			continue
		}
		st := e.ended
		if st == nil && !fresh {
			st = e.cached
		}
		res = append(res, podState{rec: e.rec, st: st, terminating: e.terminating,
			probes: e.probes, probesPending: e.probesPending, hooks: e.hooks, hooksPending: e.hooksPending})
		socks = append(socks, e.layout.Socket())
	}
	m.mu.Unlock()

	var wg sync.WaitGroup
	slots := make(chan struct{}, infraFanOut)
	for i := range res {
		if res[i].st != nil {
			continue // ended (its infra is gone), or pushed
		}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			if s, err := m.cfg.Infra.Status(ctx, socks[i]); err == nil {
				res[i].st = &s
			}
		}()
	}
	wg.Wait()
	return res
}

// infraFanOut is how many infras one listing (or the recovery) asks at
// once. Each call holds a socket, an fd, until its infra answers: unbounded,
// a listing of 10000 pods would hold 10000 fds at once, half of a host's
// typical hard limit of 20000, and on two cores more calls at once than
// this do not answer sooner.
const infraFanOut = 64

// failure is the last failed create of a pod, shown until the pod is
// created or no longer desired (Forget).
type failure struct {
	pod     *manifests.Pod
	file    string
	reason  string
	message string
	at      time.Time
	// rollout is the gate's state the failed create started with.
	rollout rollout
}
