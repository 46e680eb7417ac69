package api

import (
	"slices"
	"time"

	"github.com/berth-project/berth/kube"
)

// WithKubeTimes returns p with every time as Kubernetes writes them: UTC,
// whole seconds (metav1.Time), the form kubectl prints and jq's
// fromdateiso8601 reads. The daemon's API keeps full precision (restart
// gaps are measured in milliseconds); the CLI prints this form.
func (p Pod) WithKubeTimes() Pod {
	p.Metadata.CreationTimestamp = kubeTime(p.Metadata.CreationTimestamp)
	st := &p.Status
	if st.StartTime != nil {
		t := kubeTime(*st.StartTime)
		st.StartTime = &t
	}
	st.Conditions = slices.Clone(st.Conditions)
	for i := range st.Conditions {
		st.Conditions[i].LastTransitionTime = kubeTime(st.Conditions[i].LastTransitionTime)
	}
	st.InitContainerStatuses = kubeStatuses(st.InitContainerStatuses)
	st.ContainerStatuses = kubeStatuses(st.ContainerStatuses)
	return p
}

func kubeStatuses(in []ContainerStatus) []ContainerStatus {
	out := slices.Clone(in)
	for i := range out {
		out[i].State = kubeState(out[i].State)
		out[i].LastState = kubeState(out[i].LastState)
	}
	return out
}

func kubeState(s kube.ContainerState) kube.ContainerState {
	if s.Running != nil {
		r := *s.Running
		r.StartedAt = kubeTime(r.StartedAt)
		s.Running = &r
	}
	if s.Terminated != nil {
		t := *s.Terminated
		t.StartedAt, t.FinishedAt = kubeTime(t.StartedAt), kubeTime(t.FinishedAt)
		s.Terminated = &t
	}
	return s
}

// kubeTime is t as Kubernetes writes times: UTC, whole seconds; the zero
// time stays zero.
func kubeTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}
