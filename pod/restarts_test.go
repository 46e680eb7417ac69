package pod

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

func changeStrings(cs []reconciler.ContentChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind+"/"+c.Name)
	}
	return out
}

func TestChangedDocuments(t *testing.T) {
	cm := func(v string) *manifests.ConfigMap { return &manifests.ConfigMap{Data: map[string]string{"k": v}} }
	sec := func(v string) *manifests.Secret { return &manifests.Secret{Data: map[string][]byte{"k": []byte(v)}} }
	a, s := cm("1"), sec("1")
	tests := []struct {
		name     string
		old, cur map[string]any
		want     []string
	}{
		{name: "the same documents", old: map[string]any{"configmap/a": a, "secret/s": s}, cur: map[string]any{"configmap/a": a, "secret/s": s}},
		{name: "new documents with the same data", old: map[string]any{"configmap/a": a, "secret/s": s}, cur: map[string]any{"configmap/a": cm("1"), "secret/s": sec("1")}},
		{name: "changed data", old: map[string]any{"configmap/a": a, "secret/s": s}, cur: map[string]any{"configmap/a": cm("2"), "secret/s": sec("2")},
			want: []string{"configmaps/a", "secrets/s"}},
		{name: "a document that appears", old: map[string]any{"configmap/a": (*manifests.ConfigMap)(nil)}, cur: map[string]any{"configmap/a": a},
			want: []string{"configmaps/a"}},
		{name: "a document that goes", old: map[string]any{"secret/s": s}, cur: map[string]any{"secret/s": (*manifests.Secret)(nil)},
			want: []string{"secrets/s"}},
	}
	for _, tt := range tests {
		if got := changeStrings(changedDocuments(tt.old, tt.cur)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCheckHostPaths(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "app.conf")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a=1\n")
	p := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "conf", HostPath: &manifests.HostPathVolumeSource{Path: conf}},
		{Name: "dir", HostPath: &manifests.HostPathVolumeSource{Path: dir}},
		{Name: "scratch", EmptyDir: &manifests.EmptyDirVolumeSource{}},
	}}}
	files := map[string]fileState{}
	check := func(step string, want ...string) {
		t.Helper()
		if got := changeStrings(checkHostPaths(p, files)); !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", step, got, want)
		}
	}
	check("first check records")
	check("unchanged")
	write("a=2\n")
	check("content changed", "hostpaths/conf")
	check("unchanged after the change")
	// Times that move without a content change (touch) restart nothing.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(conf, later, later); err != nil {
		t.Fatal(err)
	}
	check("touched")
	// Replaced by rename, as editors and config tools do.
	tmp := conf + ".new"
	if err := os.WriteFile(tmp, []byte("a=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, conf); err != nil {
		t.Fatal(err)
	}
	check("replaced", "hostpaths/conf")
	os.Remove(conf)
	check("removed", "hostpaths/conf")
	write("a=4\n")
	check("back", "hostpaths/conf")
	if fmt.Sprint(files["dir"].missing) != "true" {
		t.Errorf("a directory is watched as a file: %+v", files["dir"])
	}
}
