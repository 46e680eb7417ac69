package pod

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// podView builds the view of a pod from its record and what its infra
// reports (nil when the infra did not answer). hostIP is the host's
// address on the pod network ("" when there is none); probed is what the
// probes say of the containers that have some.
func podView(rec *record, st *infra.PodStatus, terminating bool, hostIP string, probed map[string]probeStatus) View {
	p := rec.Pod
	out := podStatus(p, st, rec.ImageIDs)
	applyProbes(out.InitContainers, probed)
	applyProbes(out.Containers, probed)
	out.Meta, out.Spec = p.ObjectMeta, p.Spec
	out.Meta.UID = rec.UID
	out.File, out.InfraPID, out.Created = rec.File, rec.InfraPID, rec.Created
	out.Conditions = conditions(out, rec.Created)
	out.HostIP, out.IP = hostIP, rec.IP
	// A pod on the host's network has the host's address, as the kubelet
	// says.
	if p.Spec.HostNetwork {
		out.IP = hostIP
	}
	if terminating || (st != nil && st.Stopping) {
		out.Reason = kube.ReasonTerminating
	}
	if rb := rec.Rollout.RolledBack; rb != nil && out.Reason == "" {
		out.Reason = kube.ReasonRolledBack
		out.Message = fmt.Sprintf("runs its last good spec: the spec %s asks for was rolled back at %s: %s; edit the file to try again",
			rb.File, rb.At.Format(time.RFC3339), rb.Reason)
	}
	return out
}

// podStatus computes phase and container statuses as Kubernetes does for
// the states berth knows.
func podStatus(p *manifests.Pod, st *infra.PodStatus, imageIDs map[string]string) View {
	if st == nil {
		return View{Phase: kube.PodUnknown, Reason: kube.ReasonInfraUnreachable, Message: "the pod's infra process does not answer", QOSClass: manifests.QOSClass(&p.Spec)}
	}
	out := View{
		InitContainers: containerStatuses(p.Spec.InitContainers, st.InitContainers, st.Started, imageIDs, kube.ReasonPodInitializing),
		Containers:     containerStatuses(p.Spec.Containers, st.Containers, st.Started, imageIDs, creatingReason(p)),
		QOSClass:       manifests.QOSClass(&p.Spec),
	}
	if st.Started {
		t := st.StartedAt
		out.StartTime = &t
	}
	out.Phase = phase(p.Spec.RestartPolicy, sidecars(p), st)
	if st.Reason != "" {
		out.Reason, out.Message = st.Reason, st.Message
	}
	return out
}

// sidecars names the pod's sidecar init containers.
func sidecars(p *manifests.Pod) map[string]bool {
	out := map[string]bool{}
	for _, c := range manifests.Sidecars(&p.Spec) {
		out[c.Name] = true
	}
	return out
}

// ran says whether a regular container with state now and last state
// last has started, in this run or an earlier one: once one has, every
// init container was through.
func ran(now, last kube.ContainerState) bool {
	return now.Waiting == nil || last.Terminated != nil
}

// phase is the pod's phase, as the kubelet computes it: the init
// containers that are not sidecars must have completed, the sidecars
// started (those stopped once the pod ended count for nothing), and the
// regular containers alone decide between Running, Succeeded and Failed,
// so a Job-shaped pod completes while its sidecars still run. A pod that
// failed as a whole (its deadline) is Failed.
func phase(policy string, sidecars map[string]bool, st *infra.PodStatus) string {
	if !st.Started {
		return kube.PodPending
	}
	if st.Reason != "" {
		return kube.PodFailed
	}
	appsRan := slices.ContainsFunc(st.Containers, func(c infra.ContainerStatus) bool { return ran(c.State, c.LastState) })
	for _, c := range st.InitContainers {
		t := c.State.Terminated
		if sidecars[c.Name] {
			if !appsRan && !c.Started && c.LastState.Terminated == nil {
				return kube.PodPending
			}
			continue
		}
		if t != nil && t.ExitCode != 0 && policy == infra.RestartNever {
			return kube.PodFailed
		}
		if t == nil || t.ExitCode != 0 {
			return kube.PodPending
		}
	}
	var running, waiting, failed, succeeded int
	for _, c := range st.Containers {
		switch {
		case c.State.Running != nil:
			running++
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0 && c.State.Terminated.Signal == 0:
			succeeded++
		case c.State.Terminated != nil:
			failed++
		default:
			waiting++
			// a container waiting to restart has run before: the pod runs
			if c.RestartCount > 0 || c.LastState.Terminated != nil {
				running++
			}
		}
	}
	switch {
	case running > 0:
		return kube.PodRunning
	case waiting > 0:
		return kube.PodPending
	case failed > 0:
		return kube.PodFailed
	case succeeded > 0:
		return kube.PodSucceeded
	}
	return kube.PodPending
}

// creatingReason is what a pod's regular containers wait for while the pod
// is being set up, as the kubelet says it: ContainerCreating, or
// PodInitializing when init containers must run first.
func creatingReason(p *manifests.Pod) string {
	if len(p.Spec.InitContainers) > 0 {
		return kube.ReasonPodInitializing
	}
	return kube.ReasonContainerCreating
}

// containerStatuses pairs each container of spec with what the infra
// reports. Until the infra was told to start, every container waits with
// the reason creating.
func containerStatuses(spec []manifests.Container, st []infra.ContainerStatus, started bool, imageIDs map[string]string, creating string) []ContainerView {
	byName := map[string]infra.ContainerStatus{}
	for _, s := range st {
		byName[s.Name] = s
	}
	var out []ContainerView
	for _, c := range spec {
		s, ok := byName[c.Name]
		cs := ContainerView{Name: c.Name, Image: c.Image, ImageID: imageIDs[c.Name]}
		if !ok || !started {
			cs.State.Waiting = &kube.StateWaiting{Reason: creating}
			out = append(out, cs)
			continue
		}
		cs.State = viewState(s.State)
		cs.LastState = viewState(s.LastState)
		cs.RestartCount = int32(s.RestartCount)
		if s.PID > 0 {
			cs.ContainerID = "berth://" + strconv.Itoa(s.PID)
		}
		running := cs.State.Running != nil
		cs.Ready = running
		cs.Started = &running
		out = append(out, cs)
	}
	return out
}

// applyProbes sets the started and ready of containers with probes from
// what their probes say of the run the view shows: a container whose
// startup probe has not succeeded is not started, and one whose readiness
// probe does not succeed is not ready; results about another run (the
// container restarted since) count for nothing.
func applyProbes(cs []ContainerView, probed map[string]probeStatus) {
	for i := range cs {
		ps, ok := probed[cs[i].Name]
		if !ok {
			continue
		}
		r := cs[i].State.Running
		current := r != nil && r.StartedAt.Equal(ps.run)
		started := current && ps.started
		cs[i].Started = &started
		cs[i].Ready = started && ps.ready
		if current {
			cs[i].ProbedAt = ps.changed
		}
	}
}

// viewState is a container state as the view shows it: without the
// running state's start timings, which the "pod created" log line and the
// StartTimings event report.
func viewState(s kube.ContainerState) kube.ContainerState {
	if s.Running != nil {
		s.Running = &kube.StateRunning{StartedAt: s.Running.StartedAt}
	}
	return s
}

// failedPod shows a pod whose creation failed, with the reason.
func failedPod(f failure) View {
	p := f.pod
	out := View{
		Meta: p.ObjectMeta, Spec: p.Spec,
		Phase: kube.PodPending, Reason: f.reason, Message: f.message, QOSClass: manifests.QOSClass(&p.Spec),
		File: f.file, Created: f.at,
	}
	out.Conditions = conditions(out, f.at)
	return out
}

// creatingPod shows a pod whose creation is under way: Pending, every
// container waiting (ContainerCreating, or PodInitializing behind init
// containers).
func creatingPod(p *manifests.Pod, file string, at time.Time) View {
	out := View{
		Meta: p.ObjectMeta, Spec: p.Spec,
		Phase:          kube.PodPending,
		InitContainers: containerStatuses(p.Spec.InitContainers, nil, false, nil, kube.ReasonPodInitializing),
		Containers:     containerStatuses(p.Spec.Containers, nil, false, nil, creatingReason(p)),
		QOSClass:       manifests.QOSClass(&p.Spec),
		File:           file, Created: at,
	}
	out.Conditions = conditions(out, at)
	return out
}

// podEvents turns the container events an infra keeps into events of pod
// p.
func podEvents(p *manifests.Pod, evs []infra.Event) []Event {
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, Event{
			Time: e.Time, FirstTime: e.FirstTime, Count: int32(e.Count),
			Type: e.Type, Reason: e.Reason, Namespace: p.Namespace, Name: p.Name,
			Container: e.Container, Message: e.Message,
		})
	}
	return out
}

// failedEventReason is the event reason of a failed create with status
// reason r: ImageNotFound for a missing image under Never, BackOff for a
// pull in back-off, none while an image is pulled (its Pulling event
// says so), Failed otherwise.
func failedEventReason(r string) string {
	switch r {
	case kube.ReasonImageNotFound:
		return kube.EventImageNotFound
	case kube.ReasonImagePullBackOff:
		return kube.EventBackOff
	case kube.ReasonContainerCreating:
		return ""
	}
	return kube.EventFailed
}
