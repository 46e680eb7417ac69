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
		Meta:  manifests.ObjectMeta{Namespace: "prod", Name: "web", UID: "u"},
		Phase: kube.PodRunning, IP: "10.88.0.2",
		Containers: []pod.ContainerView{{
			Name: "srv", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: time.Unix(5, 0)}},
			Ready: true, RestartCount: 2, Image: "demo", ContainerID: "berth://7", Started: &started,
		}},
		File: "/m/web.yaml", InfraPID: 42, Problems: []string{"p"},
	}
	got := apiPod(v)
	if got.APIVersion != "v1" || got.Kind != "Pod" || got.Metadata.UID != "u" {
		t.Errorf("header: %+v", got)
	}
	if got.Status.PodIP != "10.88.0.2" || len(got.Status.PodIPs) != 1 || got.Status.PodIPs[0].IP != "10.88.0.2" {
		t.Errorf("addresses: %+v", got.Status)
	}
	if api.DisplayStatus(got) != kube.PodRunning || api.Restarts(got) != 2 || got.Status.ContainerStatuses[0].ContainerID != "berth://7" {
		t.Errorf("status: %+v", got.Status)
	}
	if got.Berth.File != "/m/web.yaml" || got.Berth.InfraPID != 42 || len(got.Berth.Problems) != 1 {
		t.Errorf("berth: %+v", got.Berth)
	}
	if p := apiPod(pod.View{Phase: kube.PodPending}); p.Status.PodIP != "" || p.Status.PodIPs != nil {
		t.Errorf("a pod without an address shows one: %+v", p.Status)
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
