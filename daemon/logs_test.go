package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifests"
)

func testPod(ctrs []string, inits ...string) api.Pod {
	p := api.Pod{Metadata: api.ObjectMeta{ObjectMeta: manifests.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}}}
	for _, c := range ctrs {
		p.Spec.Containers = append(p.Spec.Containers, manifests.Container{Name: c})
	}
	for _, c := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, manifests.Container{Name: c})
	}
	return p
}

func TestPickContainer(t *testing.T) {
	tests := []struct {
		name, ask string
		pod       api.Pod
		want      string
		wantErr   string
	}{
		{name: "one container, none named", pod: testPod([]string{"a"}), want: "a"},
		{name: "named", ask: "b", pod: testPod([]string{"a", "b"}), want: "b"},
		{name: "init container named", ask: "i", pod: testPod([]string{"a"}, "i"), want: "i"},
		{name: "several, none named", pod: testPod([]string{"a", "b"}), wantErr: "a container name must be specified for pod web, choose one of: [a b]"},
		{name: "several with inits", pod: testPod([]string{"a", "b"}, "i"), wantErr: "choose one of: [a b] or one of the init containers: [i]"},
		{name: "unknown", ask: "z", pod: testPod([]string{"a"}), wantErr: "container z is not valid for pod web"},
	}
	for _, tt := range tests {
		got, err := pickContainer(tt.pod, tt.ask)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("%s: error %v, want %q (bad request)", tt.name, err, tt.wantErr)
			}
		case err != nil || got != tt.want:
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestPickRun(t *testing.T) {
	p := testPod([]string{"a"})
	tests := []struct {
		restarts int32
		noStatus bool
		previous bool
		want     int
		wantErr  bool
	}{
		{restarts: 0, want: 0},
		{restarts: 3, want: 3},
		{restarts: 3, previous: true, want: 2},
		{restarts: 0, previous: true, wantErr: true},
		{noStatus: true, want: 0},
		{noStatus: true, previous: true, wantErr: true},
	}
	for _, tt := range tests {
		var st *api.ContainerStatus
		if !tt.noStatus {
			st = &api.ContainerStatus{Name: "a", RestartCount: tt.restarts}
		}
		got, err := pickRun(p, "a", st, tt.previous)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), `previous terminated container "a" in pod "web" not found`) {
				t.Errorf("%+v: error %v", tt, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%+v: got %d, %v; want %d", tt, got, err, tt.want)
		}
	}
}
