package manifestdir

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

// memRuntime is an in-memory reconciler.Runtime.
type memRuntime struct {
	mu   sync.Mutex
	pods map[reconciler.PodKey]reconciler.Observed
}

func (m *memRuntime) ListPods(context.Context) ([]reconciler.Observed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []reconciler.Observed
	for _, o := range m.pods {
		out = append(out, o)
	}
	return out, nil
}

func (m *memRuntime) Apply(_ context.Context, a reconciler.Action) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a.Kind == reconciler.Delete {
		delete(m.pods, a.Key)
		return nil
	}
	m.pods[a.Key] = reconciler.Observed{Key: a.Key, UID: "uid-" + a.Key.Name, File: a.Desired.File, Pod: a.Desired.Pod}
	return nil
}

func (m *memRuntime) image(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.pods[reconciler.PodKey{Namespace: "default", Name: name}]
	if !ok {
		return ""
	}
	return o.Pod.Spec.Containers[0].Image
}

// TestLoaderDrivesReconciler runs the Loader as the reconciler's Source
// through the life of a file: created, broken (the pod keeps running its
// last good spec), fixed with a change (replaced), removed (deleted).
func TestLoaderDrivesReconciler(t *testing.T) {
	dir := t.TempDir()
	rt := &memRuntime{pods: map[reconciler.PodKey]reconciler.Observed{}}
	r := reconciler.New(NewLoader(dir), rt, nil, reconciler.Options{})
	pass := func() reconciler.Result {
		t.Helper()
		res := r.Pass(t.Context())
		if res.Err != nil || len(res.Failed) != 0 {
			t.Fatalf("pass = %+v", res)
		}
		return res
	}
	kinds := func(res reconciler.Result) []string {
		var out []string
		for _, a := range res.Done {
			out = append(out, a.String())
		}
		return out
	}

	writeManifest(t, dir, "web.yaml", testPod("web"))
	if got := kinds(pass()); !slices.Equal(got, []string{"create default/web: declared in web.yaml"}) {
		t.Fatalf("create pass = %q", got)
	}

	// Half-written: the file is held, the pod keeps running.
	writeRaw(t, dir, "web.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: main\n    image: [")
	if got := kinds(pass()); len(got) != 0 || rt.image("web") != "img:1" {
		t.Fatalf("held pass did %q, image %q; want nothing and img:1", got, rt.image("web"))
	}
	if len(r.Problems()) == 0 {
		t.Error("no problem reported for the broken file")
	}

	writeManifest(t, dir, "web.yaml", testPod("web", func(p *manifests.Pod) { p.Spec.Containers[0].Image = "img:2" }))
	if got := kinds(pass()); !slices.Equal(got, []string{"replace default/web: spec.containers[name=main].image changed"}) {
		t.Fatalf("fixed pass = %q", got)
	}

	if err := os.Remove(filepath.Join(dir, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	if got := kinds(pass()); !slices.Equal(got, []string{"delete default/web: no longer declared in any manifest"}) {
		t.Fatalf("removed pass = %q", got)
	}
}

// TestMissingDirectoryKeepsPods: a directory that vanishes is not an
// empty desired state.
func TestMissingDirectoryKeepsPods(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	rt := &memRuntime{pods: map[reconciler.PodKey]reconciler.Observed{
		{Namespace: "default", Name: "web"}: {Key: reconciler.PodKey{Namespace: "default", Name: "web"},
			UID: "u1", File: filepath.Join(dir, "web.yaml"), Pod: testPod("web")},
	}}
	res := reconciler.New(NewLoader(dir), rt, nil, reconciler.Options{}).Pass(t.Context())
	if res.Err == nil || rt.image("web") == "" {
		t.Errorf("pass = %+v, pods %v; want an error and the pod kept", res, rt.pods)
	}
}
