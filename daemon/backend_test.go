package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/pod"
)

// The socket opens before the recovery: requests wait for it (or for
// their own deadline), then are answered.
func TestRequestsWaitForRecovery(t *testing.T) {
	b := &backend{mgr: pod.NewManager(pod.Config{}), loader: manifestdir.NewLoader(t.TempDir()), events: newEventLog(10, nil), recovered: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Pods(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pods during recovery = %v, want it to wait until its deadline", err)
	}
	if err := b.Reconcile(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Reconcile during recovery = %v, want it to wait until its deadline", err)
	}
	close(b.recovered)
	if pods, err := b.Pods(context.Background()); err != nil || len(pods) != 0 {
		t.Fatalf("Pods after recovery = %v, %v", pods, err)
	}
}

// TestManifestProblemsAsConditions: a running pod whose file stopped
// validating carries the problems in a False berth.io/ManifestValid
// condition; a pod that never ran shows as InvalidManifest, with its file
// as an annotation. Neither gets a field Kubernetes lacks.
func TestManifestProblemsAsConditions(t *testing.T) {
	const file = "/m/pods.yaml"
	f := manifests.Parse(file, []byte(`apiVersion: v1
kind: Pod
metadata: {name: running}
spec:
  restartPolicy: Sometimes
  containers: [{name: c, image: busybox:1.36}]
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  containers: [{name: c, image: busybox:1.36, imagePullPolicy: Sometimes}]
`))
	if len(f.Problems()) != 2 {
		t.Fatalf("problems %v, want two", f.Problems())
	}
	snap := &manifestdir.Snapshot{Problems: f.Problems(), Parsed: map[string]*manifests.File{file: f}}
	running := api.Pod{Metadata: api.ObjectMeta{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "running"}},
		Status: api.PodStatus{Phase: api.PodRunning, Conditions: []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}}}}
	pods := withManifestProblems([]api.Pod{running}, snap)
	if len(pods) != 2 {
		t.Fatalf("pods %+v, want the running one and the invalid one", pods)
	}
	want := []string{f.Problems()[0].String(), f.Problems()[1].String()}
	for _, p := range pods {
		got := p.ManifestProblems()
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: problems %q, want %q", p.Metadata.Name, got, want)
		}
	}
	if c := pods[0].Status.Conditions; len(c) != 2 || c[0].Type != api.PodReady || c[1].Type != api.ConditionManifestValid || c[1].Reason != api.ReasonInvalidManifest {
		t.Errorf("running pod: conditions %+v, want Ready kept and ManifestValid added", c)
	}
	never := pods[1]
	if never.Metadata.Name != "never" || never.Status.Reason != api.ReasonInvalidManifest || never.Status.Message != want[0] || never.File() != file {
		t.Errorf("never-run pod: %+v", never)
	}
}
