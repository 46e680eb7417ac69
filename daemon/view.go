package daemon

import (
	"errors"
	"strconv"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/pod"
)

// apiPod is the API's Kubernetes shape of a pod's view: berth's own facts
// (the manifest file, the infra process) ride as berth.io/ annotations.
func apiPod(v pod.View) api.Pod {
	out := api.Pod{
		APIVersion: "v1", Kind: "Pod", Spec: v.Spec,
		Metadata: api.ObjectMeta{ObjectMeta: v.Meta, CreationTimestamp: v.Created},
		Status: api.PodStatus{
			Phase: v.Phase, Conditions: apiConditions(v.Conditions), Reason: v.Reason, Message: v.Message,
			StartTime:             v.StartTime,
			InitContainerStatuses: apiContainers(v.InitContainers),
			ContainerStatuses:     apiContainers(v.Containers),
			QOSClass:              v.QOSClass,
		},
	}
	if v.File != "" {
		out.SetAnnotation(api.AnnotationFile, v.File)
	}
	if v.InfraPID != 0 {
		out.SetAnnotation(api.AnnotationInfraPID, strconv.Itoa(v.InfraPID))
	}
	if v.HostIP != "" {
		out.Status.HostIP, out.Status.HostIPs = v.HostIP, []api.PodIP{{IP: v.HostIP}}
	}
	if v.IP != "" {
		out.Status.PodIP, out.Status.PodIPs = v.IP, []api.PodIP{{IP: v.IP}}
	}
	return out
}

func apiPods(vs []pod.View) []api.Pod {
	out := make([]api.Pod, 0, len(vs))
	for _, v := range vs {
		out = append(out, apiPod(v))
	}
	return out
}

func apiContainers(cs []pod.ContainerView) []api.ContainerStatus {
	var out []api.ContainerStatus
	for _, c := range cs {
		out = append(out, api.ContainerStatus{
			Name: c.Name, State: c.State, LastState: c.LastState, Ready: c.Ready, RestartCount: c.RestartCount,
			Image: c.Image, ImageID: c.ImageID, ContainerID: c.ContainerID, Started: c.Started,
		})
	}
	return out
}

func apiConditions(cs []pod.Condition) []api.PodCondition {
	var out []api.PodCondition
	for _, c := range cs {
		out = append(out, api.PodCondition{
			Type: c.Type, Status: c.Status, LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return out
}

// apiEvent is the API's shape of a pod's event.
func apiEvent(e pod.Event) api.Event {
	return api.Event{
		Time: e.Time, FirstTime: e.FirstTime, Count: e.Count, Type: e.Type, Reason: e.Reason,
		Object: api.PodObject(e.Namespace, e.Name), Container: e.Container, Message: e.Message,
	}
}

func apiEvents(es []pod.Event) []api.Event {
	out := make([]api.Event, 0, len(es))
	for _, e := range es {
		out = append(out, apiEvent(e))
	}
	return out
}

// apiError makes the runtime's lookup errors match the API's sentinels,
// which pick the HTTP status, keeping their message.
func apiError(err error) error {
	switch {
	case errors.Is(err, pod.ErrNotFound):
		return &matched{err, api.ErrNotFound}
	case errors.Is(err, pod.ErrNotRunning):
		return &matched{err, api.ErrNotRunning}
	case errors.Is(err, pod.ErrAttachRefused):
		return &matched{err, api.ErrAttachRefused}
	}
	return err
}

// matched is an error that also matches an API sentinel.
type matched struct {
	err, sentinel error
}

func (e *matched) Error() string   { return e.err.Error() }
func (e *matched) Unwrap() []error { return []error{e.err, e.sentinel} }
