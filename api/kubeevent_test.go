package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

func TestKubeEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 600_000_000, time.UTC)
	web := Pod{Metadata: ObjectMeta{ObjectMeta: manifests.ObjectMeta{Namespace: "prod", Name: "web", UID: "u-1"}},
		Spec: manifests.PodSpec{InitContainers: []manifests.Container{{Name: "setup"}}, Containers: []manifests.Container{{Name: "srv"}}}}
	evs := []Event{
		{Time: t0, FirstTime: t0.Add(-time.Minute), Count: 3, Type: EventWarning, Reason: EventBackOff, Object: "pod/prod/web", Container: "srv", Message: "Back-off"},
		{Time: t0, Type: EventNormal, Reason: kube.EventStarted, Object: "pod/prod/web", Container: "setup", Message: "Started"},
		{Time: t0, Type: EventNormal, Reason: kube.EventDeleted, Object: "pod/default/gone", Message: "Pod removed"},
		{Time: t0, Type: EventWarning, Reason: EventFailedValidation, Object: "/etc/berth/manifests/bad.yaml", Message: "bad"},
	}
	l := KubeEvents(evs, []Pod{web}, "node1")
	if l.APIVersion != "v1" || l.Kind != "List" || len(l.Items) != 4 {
		t.Fatalf("list %+v", l)
	}
	for i, want := range []struct {
		name, namespace string
		ref             ObjectReference
		first, last     time.Time
		count           int32
	}{
		{"web.1886f22e90b9a000", "prod", ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "prod", Name: "web", UID: "u-1", FieldPath: "spec.containers{srv}"},
			t0.Add(-time.Minute).Truncate(time.Second), t0.Truncate(time.Second), 3},
		{"web.1886f23c8900f800", "prod", ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "prod", Name: "web", UID: "u-1", FieldPath: "spec.initContainers{setup}"},
			t0.Truncate(time.Second), t0.Truncate(time.Second), 1},
		{"gone.1886f23c8900f800", "default", ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "gone"},
			t0.Truncate(time.Second), t0.Truncate(time.Second), 1},
		{"bad.yaml.1886f23c8900f800", "default", ObjectReference{Kind: KindManifestFile, Name: "/etc/berth/manifests/bad.yaml"},
			t0.Truncate(time.Second), t0.Truncate(time.Second), 1},
	} {
		e := l.Items[i]
		if e.APIVersion != "v1" || e.Kind != "Event" || e.Metadata.Name != want.name || e.Metadata.Namespace != want.namespace ||
			e.InvolvedObject != want.ref || !e.FirstTimestamp.Equal(want.first) || !e.LastTimestamp.Equal(want.last) ||
			!e.Metadata.CreationTimestamp.Equal(want.first) || e.Count != want.count ||
			e.Source != (EventSource{Component: "berth", Host: "node1"}) || e.ReportingComponent != "berth" || e.ReportingInstance != "node1" ||
			e.Reason != evs[i].Reason || e.Message != evs[i].Message || e.Type != evs[i].Type {
			b, _ := json.Marshal(e)
			t.Errorf("event %d: %s", i, b)
		}
	}
	if empty, _ := json.Marshal(KubeEvents(nil, nil, "")); string(empty) != `{"apiVersion":"v1","kind":"List","items":[]}` {
		t.Errorf("no events: %s, want an empty items list", empty)
	}
}
