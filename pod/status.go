package pod

import (
	"strconv"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/manifests"
)

// apiPod builds the Kubernetes-shaped view of a pod from its record and
// what its infra reports (nil when the infra did not answer). hostIP is
// the host's address on the pod network ("" when there is none).
func apiPod(rec *record, st *infra.PodStatus, terminating bool, hostIP string) api.Pod {
	p := rec.Pod
	out := newAPIPod(p, rec.File, rec.Created)
	out.Metadata.UID = rec.UID
	if rec.InfraPID != 0 {
		out.SetAnnotation(api.AnnotationInfraPID, strconv.Itoa(rec.InfraPID))
	}
	out.Status = podStatus(p, st, rec.ImageIDs)
	out.Status.Conditions = conditions(out, rec.Created)
	setIPs(&out.Status, rec.IP, hostIP, p.Spec.HostNetwork)
	if terminating || (st != nil && st.Stopping) {
		out.Status.Reason = api.ReasonTerminating
	}
	return out
}

// newAPIPod is the pod of manifest p, declared in file and created at
// created, with no status yet.
func newAPIPod(p *manifests.Pod, file string, created time.Time) api.Pod {
	out := api.Pod{
		APIVersion: "v1", Kind: "Pod", Spec: p.Spec,
		Metadata: api.ObjectMeta{ObjectMeta: p.ObjectMeta, CreationTimestamp: created},
	}
	if file != "" {
		out.SetAnnotation(api.AnnotationFile, file)
	}
	return out
}

// setIPs fills the pod's and the host's addresses as the kubelet does: a
// pod on the host's network has the host's address.
func setIPs(st *api.PodStatus, podIP, hostIP string, hostNetwork bool) {
	if hostIP != "" {
		st.HostIP, st.HostIPs = hostIP, []api.PodIP{{IP: hostIP}}
	}
	if hostNetwork {
		podIP = hostIP
	}
	if podIP != "" {
		st.PodIP, st.PodIPs = podIP, []api.PodIP{{IP: podIP}}
	}
}

// podStatus computes phase and container statuses as Kubernetes does for
// the states berth knows.
func podStatus(p *manifests.Pod, st *infra.PodStatus, imageIDs map[string]string) api.PodStatus {
	if st == nil {
		return api.PodStatus{Phase: api.PodUnknown, Reason: "InfraUnreachable", Message: "the pod's infra process does not answer", QOSClass: qosClass(&p.Spec)}
	}
	out := api.PodStatus{
		InitContainerStatuses: containerStatuses(p.Spec.InitContainers, st.InitContainers, st.Started, imageIDs, api.ReasonPodInitializing),
		ContainerStatuses:     containerStatuses(p.Spec.Containers, st.Containers, st.Started, imageIDs, creatingReason(p)),
		QOSClass:              qosClass(&p.Spec),
	}
	if st.Started {
		t := st.StartedAt
		out.StartTime = &t
	}
	out.Phase = phase(p.Spec.RestartPolicy, st)
	return out
}

func phase(policy string, st *infra.PodStatus) string {
	if !st.Started {
		return api.PodPending
	}
	for _, c := range st.InitContainers {
		t := c.State.Terminated
		if t != nil && t.ExitCode != 0 && policy == infra.RestartNever {
			return api.PodFailed
		}
		if t == nil || t.ExitCode != 0 {
			return api.PodPending
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
		return api.PodRunning
	case waiting > 0:
		return api.PodPending
	case failed > 0:
		return api.PodFailed
	case succeeded > 0:
		return api.PodSucceeded
	}
	return api.PodPending
}

// creatingReason is what a pod's regular containers wait for while the pod
// is being set up, as the kubelet says it: ContainerCreating, or
// PodInitializing when init containers must run first.
func creatingReason(p *manifests.Pod) string {
	if len(p.Spec.InitContainers) > 0 {
		return api.ReasonPodInitializing
	}
	return api.ReasonContainerCreating
}

// containerStatuses pairs each container of spec with what the infra
// reports. Until the infra was told to start, every container waits with
// the reason creating.
func containerStatuses(spec []manifests.Container, st []infra.ContainerStatus, started bool, imageIDs map[string]string, creating string) []api.ContainerStatus {
	byName := map[string]infra.ContainerStatus{}
	for _, s := range st {
		byName[s.Name] = s
	}
	var out []api.ContainerStatus
	for _, c := range spec {
		s, ok := byName[c.Name]
		cs := api.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageIDs[c.Name]}
		if !ok || !started {
			cs.State.Waiting = &api.StateWaiting{Reason: creating}
			out = append(out, cs)
			continue
		}
		cs.State = apiState(s.State)
		cs.LastState = apiState(s.LastState)
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

func apiState(s infra.ContainerState) api.ContainerState {
	var out api.ContainerState
	switch {
	case s.Running != nil:
		out.Running = &api.StateRunning{StartedAt: s.Running.StartedAt}
	case s.Terminated != nil:
		t := s.Terminated
		out.Terminated = &api.StateTerminated{
			ExitCode: int32(t.ExitCode), Signal: int32(t.Signal), Reason: t.Reason, Message: t.Message,
			StartedAt: t.StartedAt, FinishedAt: t.FinishedAt,
		}
	case s.Waiting != nil:
		out.Waiting = &api.StateWaiting{Reason: s.Waiting.Reason, Message: s.Waiting.Message}
	}
	return out
}

// failedPod shows a pod whose creation failed, with the reason.
func failedPod(f failure) api.Pod {
	out := newAPIPod(f.pod, f.file, f.at)
	out.Status = api.PodStatus{Phase: api.PodPending, Reason: f.reason, Message: f.message, QOSClass: qosClass(&f.pod.Spec)}
	out.Status.Conditions = conditions(out, f.at)
	return out
}

// creatingPod shows a pod whose creation is under way: Pending, every
// container waiting (ContainerCreating, or PodInitializing behind init
// containers).
func creatingPod(p *manifests.Pod, file string, at time.Time) api.Pod {
	out := newAPIPod(p, file, at)
	out.Status = api.PodStatus{
		Phase:                 api.PodPending,
		InitContainerStatuses: containerStatuses(p.Spec.InitContainers, nil, false, nil, api.ReasonPodInitializing),
		ContainerStatuses:     containerStatuses(p.Spec.Containers, nil, false, nil, creatingReason(p)),
		QOSClass:              qosClass(&p.Spec),
	}
	out.Status.Conditions = conditions(out, at)
	return out
}

// podEvents turns the container events an infra keeps into API events of
// pod p.
func podEvents(p *manifests.Pod, evs []infra.Event) []api.Event {
	out := make([]api.Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, api.Event{
			Time: e.Time, FirstTime: e.FirstTime, Count: int32(e.Count),
			Type: e.Type, Reason: e.Reason, Object: api.PodObject(p.Namespace, p.Name),
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
	case api.ReasonImageNotFound:
		return api.EventImageNotFound
	case api.ReasonImagePullBackOff:
		return api.EventBackOff
	case api.ReasonContainerCreating:
		return ""
	}
	return api.EventFailed
}
