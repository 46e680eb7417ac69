package daemon

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/pod"
)

func TestAPIPod(t *testing.T) {
	started := true
	v := pod.View{
		Meta:  manifests.ObjectMeta{Namespace: "prod", Name: "web", UID: "u", Annotations: map[string]string{"team": "a"}},
		Phase: kube.PodRunning, HostIP: "10.88.0.1", IP: "10.88.0.2", QOSClass: kube.QOSBestEffort,
		Conditions: []pod.Condition{{Type: kube.PodReady, Status: kube.ConditionTrue, LastTransitionTime: time.Unix(5, 0)}},
		Containers: []pod.ContainerView{{
			Name: "srv", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: time.Unix(5, 0)}},
			Ready: true, RestartCount: 2, Image: "demo", ContainerID: "berth://7", Started: &started,
		}},
		File: "/m/web.yaml", InfraPID: 42, Created: time.Unix(3, 0),
	}
	got := apiPod(v)
	if got.APIVersion != "v1" || got.Kind != "Pod" || got.Metadata.UID != "u" || !got.Metadata.CreationTimestamp.Equal(time.Unix(3, 0)) {
		t.Errorf("header: %+v", got)
	}
	if got.Status.PodIP != "10.88.0.2" || len(got.Status.PodIPs) != 1 || got.Status.PodIPs[0].IP != "10.88.0.2" ||
		got.Status.HostIP != "10.88.0.1" || len(got.Status.HostIPs) != 1 || got.Status.HostIPs[0].IP != "10.88.0.1" {
		t.Errorf("addresses: %+v", got.Status)
	}
	if api.DisplayStatus(got) != kube.PodRunning || api.Restarts(got) != 2 || got.Status.ContainerStatuses[0].ContainerID != "berth://7" {
		t.Errorf("status: %+v", got.Status)
	}
	if c := got.Status.Conditions; got.Status.QOSClass != kube.QOSBestEffort || len(c) != 1 || c[0].Type != api.PodReady || c[0].Status != api.ConditionTrue || !c[0].LastTransitionTime.Equal(time.Unix(5, 0)) {
		t.Errorf("conditions, QoS class: %+v", got.Status)
	}
	if got.File() != "/m/web.yaml" || got.InfraPID() != 42 || got.Metadata.Annotations["team"] != "a" {
		t.Errorf("annotations: %v", got.Metadata.Annotations)
	}
	if v.Meta.Annotations[api.AnnotationFile] != "" {
		t.Errorf("the manifest's annotations were written: %v", v.Meta.Annotations)
	}
	p := apiPod(pod.View{Phase: kube.PodPending})
	if p.Status.PodIP != "" || p.Status.PodIPs != nil || p.Status.HostIPs != nil || p.Metadata.Annotations != nil {
		t.Errorf("a pod without an address, file or infra shows one: %+v", p)
	}
}

func TestAPIEventAndError(t *testing.T) {
	e := apiEvent(pod.Event{Type: kube.EventWarning, Reason: kube.EventBackOff, Namespace: "prod", Name: "web", Container: "srv", Count: 3})
	if e.Object != "pod/prod/web" || e.Container != "srv" || e.Count != 3 || e.Reason != "BackOff" {
		t.Errorf("event: %+v", e)
	}
	for _, tc := range []struct {
		err         error
		notFound    bool
		notRunning  bool
		wantMessage string
	}{
		{fmt.Errorf("pod a/b not found: %w", pod.ErrNotFound), true, false, "pod a/b not found: not found"},
		{fmt.Errorf("container c is waiting: %w", pod.ErrNotRunning), false, true, "container c is waiting: container is not running"},
		{errors.New("infra down"), false, false, "infra down"},
	} {
		err := apiError(tc.err)
		if errors.Is(err, api.ErrNotFound) != tc.notFound || errors.Is(err, api.ErrNotRunning) != tc.notRunning || err.Error() != tc.wantMessage {
			t.Errorf("apiError(%v) = %v", tc.err, err)
		}
	}
}
