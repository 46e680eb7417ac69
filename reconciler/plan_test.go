package reconciler

import (
	"fmt"
	"slices"
	"testing"

	"github.com/berth-project/berth/manifests"
)

// testPod builds a pod with one container running image.
func testPod(name, image string, labels map[string]string) *manifests.Pod {
	p := &manifests.Pod{}
	p.Kind, p.APIVersion = "Pod", "v1"
	p.Name, p.Namespace, p.Labels = name, "default", labels
	p.Spec.Containers = []manifests.Container{{Name: "main", Image: image}}
	return p
}

func want(name, file, image string, labels map[string]string) Desired {
	return Desired{Key: PodKey{"default", name}, File: file, Pod: testPod(name, image, labels)}
}

func have(name, uid, file, image string, labels map[string]string) Observed {
	return Observed{Key: PodKey{"default", name}, UID: uid, File: file, Pod: testPod(name, image, labels)}
}

func terminating(o Observed) Observed {
	o.Terminating = true
	return o
}

func TestPlan(t *testing.T) {
	app := map[string]string{"app": "web"}
	annotated := testPod("web", "img:1", nil)
	annotated.Annotations = map[string]string{"note": "x"}
	withArgs := testPod("web", "img:1", nil)
	withArgs.Spec.Containers[0].Args = []string{"-v"}
	explicitDefaults := testPod("web", "img:1", nil)
	explicitDefaults.Spec.RestartPolicy = "Always"
	twoContainers := testPod("web", "img:1", nil)
	twoContainers.Spec.Containers = append(twoContainers.Spec.Containers, manifests.Container{Name: "side", Image: "s"})

	tests := []struct {
		name     string
		desired  []Desired
		held     map[string]bool
		observed []Observed
		want     []string
	}{
		{
			name: "nothing to do",
		},
		{
			name:    "desired and not observed creates",
			desired: []Desired{want("web", "/m/web.yaml", "img:1", nil)},
			want:    []string{"create default/web: declared in web.yaml"},
		},
		{
			name:     "observed and not desired deletes",
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
			want:     []string{"delete default/web: no longer declared in any manifest"},
		},
		{
			name:     "held file keeps its pod",
			held:     map[string]bool{"/m/web.yaml": true},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
		},
		{
			name:     "a held file does not protect pods of other files",
			held:     map[string]bool{"/m/other.yaml": true},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
			want:     []string{"delete default/web: no longer declared in any manifest"},
		},
		{
			name:     "same spec and metadata is a no-op",
			desired:  []Desired{want("web", "/m/web.yaml", "img:1", app)},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", app)},
		},
		{
			name:     "spelled-out defaults are no change",
			desired:  []Desired{{Key: PodKey{"default", "web"}, File: "/m/web.yaml", Pod: explicitDefaults}},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
		},
		{
			name:     "image change replaces naming the field",
			desired:  []Desired{want("web", "/m/web.yaml", "img:2", nil)},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
			want:     []string{"replace default/web: spec.containers[name=main].image changed"},
		},
		{
			name:     "added field replaces naming it",
			desired:  []Desired{{Key: PodKey{"default", "web"}, File: "/m/web.yaml", Pod: withArgs}},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
			want:     []string{"replace default/web: spec.containers[name=main].args changed"},
		},
		{
			name:     "added container replaces naming it",
			desired:  []Desired{{Key: PodKey{"default", "web"}, File: "/m/web.yaml", Pod: twoContainers}},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
			want:     []string{"replace default/web: spec.containers[name=side] changed (container side added)"},
		},
		{
			name:     "spec and file change together is one replace",
			desired:  []Desired{want("web", "/m/new.yaml", "img:2", nil)},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
			want:     []string{"replace default/web: spec.containers[name=main].image changed"},
		},
		{
			name:     "labels only update metadata",
			desired:  []Desired{want("web", "/m/web.yaml", "img:1", app)},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
			want:     []string{"update-metadata default/web: labels changed"},
		},
		{
			name:     "annotations only update metadata",
			desired:  []Desired{{Key: PodKey{"default", "web"}, File: "/m/web.yaml", Pod: annotated}},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
			want:     []string{"update-metadata default/web: annotations changed"},
		},
		{
			name:     "nil and empty labels are equal",
			desired:  []Desired{want("web", "/m/web.yaml", "img:1", map[string]string{})},
			observed: []Observed{have("web", "u1", "/m/web.yaml", "img:1", nil)},
		},
		{
			name:     "moved file updates metadata",
			desired:  []Desired{want("web", "/m/b.yaml", "img:1", nil)},
			observed: []Observed{have("web", "u1", "/m/a.yaml", "img:1", nil)},
			want:     []string{"update-metadata default/web: moved from a.yaml to b.yaml"},
		},
		{
			name:     "moved with new labels is one update",
			desired:  []Desired{want("web", "/m/b.yaml", "img:1", app)},
			observed: []Observed{have("web", "u1", "/m/a.yaml", "img:1", nil)},
			want:     []string{"update-metadata default/web: labels changed; moved from a.yaml to b.yaml"},
		},
		{
			name:     "moved while the old file is held still moves",
			desired:  []Desired{want("web", "/m/b.yaml", "img:1", nil)},
			held:     map[string]bool{"/m/a.yaml": true},
			observed: []Observed{have("web", "u1", "/m/a.yaml", "img:1", nil)},
			want:     []string{"update-metadata default/web: moved from a.yaml to b.yaml"},
		},
		{
			name:     "terminating and desired waits",
			desired:  []Desired{want("web", "/m/web.yaml", "img:2", nil)},
			observed: []Observed{terminating(have("web", "u1", "/m/web.yaml", "img:1", nil))},
		},
		{
			name:     "terminating and not desired gets no second delete",
			observed: []Observed{terminating(have("web", "u1", "/m/web.yaml", "img:1", nil))},
		},
		{
			name:    "terminating beside a live pod compares the live one",
			desired: []Desired{want("web", "/m/web.yaml", "img:2", nil)},
			observed: []Observed{
				terminating(have("web", "u0", "/m/web.yaml", "img:0", nil)),
				have("web", "u1", "/m/web.yaml", "img:1", nil),
			},
			want: []string{"replace default/web: spec.containers[name=main].image changed"},
		},
		{
			name:    "two live pods with one key: the extra is deleted",
			desired: []Desired{want("web", "/m/web.yaml", "img:1", nil)},
			observed: []Observed{
				have("web", "u2", "/m/web.yaml", "img:1", nil),
				have("web", "u1", "/m/web.yaml", "img:1", nil),
			},
			want: []string{"delete default/web: duplicate of running pod uid u1"},
		},
		{
			name: "repeated desired key: first wins",
			desired: []Desired{
				want("web", "/m/a.yaml", "img:1", nil),
				want("web", "/m/b.yaml", "img:2", nil),
			},
			want: []string{"create default/web: declared in a.yaml"},
		},
		{
			name: "deletes first, then by key",
			desired: []Desired{
				want("c", "/m/c.yaml", "img:1", nil),
				want("a", "/m/a.yaml", "img:1", nil),
				want("b", "/m/b.yaml", "img:2", nil),
			},
			observed: []Observed{
				have("z", "u9", "/m/z.yaml", "img:1", nil),
				have("b", "u2", "/m/b.yaml", "img:1", nil),
				have("y", "u8", "/m/y.yaml", "img:1", nil),
			},
			want: []string{
				"delete default/y: no longer declared in any manifest",
				"delete default/z: no longer declared in any manifest",
				"create default/a: declared in a.yaml",
				"replace default/b: spec.containers[name=main].image changed",
				"create default/c: declared in c.yaml",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := actionStrings(Plan(tt.desired, tt.held, tt.observed))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Plan:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPlanActionsCarryBothSides(t *testing.T) {
	d := want("web", "/m/web.yaml", "img:2", nil)
	o := have("web", "u1", "/m/web.yaml", "img:1", nil)
	got := Plan([]Desired{d}, nil, []Observed{o})
	if len(got) != 1 || got[0].Desired == nil || got[0].Observed == nil || got[0].Observed.UID != "u1" {
		t.Fatalf("Plan = %+v, want one replace carrying desired and observed uid u1", got)
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	var desired []Desired
	var observed []Observed
	for _, n := range []string{"e", "d", "c", "b", "a"} {
		desired = append(desired, want(n, "/m/"+n+".yaml", "img:2", nil))
		observed = append(observed, have(n+"-old", "u"+n, "/m/"+n+".yaml", "img:1", nil))
	}
	first := actionStrings(Plan(desired, nil, observed))
	for range 20 {
		if got := actionStrings(Plan(desired, nil, observed)); !slices.Equal(got, first) {
			t.Fatalf("Plan order changed:\n%q\n%q", got, first)
		}
	}
}

func TestActionKindString(t *testing.T) {
	tests := []struct {
		k    ActionKind
		want string
	}{
		{Create, "create"}, {Replace, "replace"}, {Delete, "delete"},
		{UpdateMetadata, "update-metadata"}, {ActionKind(42), "ActionKind(42)"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int(tt.k), got, tt.want)
		}
	}
}

func actionStrings(as []Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// BenchmarkPlanUnchanged measures a pass over 1000 pods that all match.
func BenchmarkPlanUnchanged(b *testing.B) {
	var desired []Desired
	var observed []Observed
	for i := range 1000 {
		name := fmt.Sprintf("pod-%04d", i)
		desired = append(desired, want(name, "/m/"+name+".yaml", "img:1", nil))
		observed = append(observed, have(name, "u"+name, "/m/"+name+".yaml", "img:1", nil))
	}
	for b.Loop() {
		if as := Plan(desired, nil, observed); len(as) != 0 {
			b.Fatalf("planned %d actions, want none", len(as))
		}
	}
}
