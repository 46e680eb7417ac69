package manifestdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

func testPod(name string, mods ...func(*manifests.Pod)) *manifests.Pod {
	p := &manifests.Pod{}
	p.APIVersion, p.Kind, p.Name = "v1", "Pod", name
	p.Spec.Containers = []manifests.Container{{Name: "main", Image: "img:1"}}
	for _, m := range mods {
		m(p)
	}
	return p
}

func testConfigMap(name string, data map[string]string) *manifests.ConfigMap {
	cm := &manifests.ConfigMap{Data: data}
	cm.APIVersion, cm.Kind, cm.Name = "v1", "ConfigMap", name
	return cm
}

// writeManifest writes obj as JSON (valid YAML too) to dir/name.
func writeManifest(t *testing.T, dir, name string, obj any) string {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return writeRaw(t, dir, name, string(raw))
}

func writeRaw(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, l *Loader) *Snapshot {
	t.Helper()
	snap, err := l.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return snap
}

// podFiles renders the snapshot's pods as "ns/name@file" for comparison.
func podFiles(s *Snapshot) []string {
	var out []string
	for _, d := range s.Pods {
		out = append(out, d.Key.String()+"@"+filepath.Base(d.File))
	}
	return out
}

func heldNames(s *Snapshot) []string {
	var out []string
	for f := range s.Held {
		out = append(out, filepath.Base(f))
	}
	slices.Sort(out)
	return out
}

// problemsMatching returns the problems whose text contains substr.
func problemsMatching(s *Snapshot, substr string) []manifests.Problem {
	var out []manifests.Problem
	for _, p := range s.Problems {
		if strings.Contains(p.Error(), substr) {
			out = append(out, p)
		}
	}
	return out
}

func TestLoadListsOnlyCountedFiles(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "web.yaml", testPod("web"))
	writeManifest(t, dir, "db.json", testPod("db"))
	writeManifest(t, dir, "web.yaml.bak", testPod("web-backup"))
	writeManifest(t, dir, ".hidden.yaml", testPod("hidden"))
	writeManifest(t, dir, "web.yaml~", testPod("tilde"))
	writeRaw(t, dir, "notes.txt", "not a manifest")
	sub := filepath.Join(dir, "sub.yaml")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, sub, "nested.yaml", testPod("nested"))
	// A symlink to a file counts, to a directory does not, a dangling one
	// is absent.
	other := t.TempDir()
	target := writeManifest(t, other, "linked.yaml", testPod("linked"))
	mustSymlink(t, target, filepath.Join(dir, "linked.yaml"))
	mustSymlink(t, other, filepath.Join(dir, "dirlink.yaml"))
	mustSymlink(t, filepath.Join(other, "missing.yaml"), filepath.Join(dir, "dangling.yaml"))

	snap := mustLoad(t, NewLoader(dir))
	want := []string{"default/db@db.json", "default/linked@linked.yaml", "default/web@web.yaml"}
	if got := podFiles(snap); !slices.Equal(got, want) {
		t.Errorf("pods = %q, want %q", got, want)
	}
	if len(snap.Problems) != 0 || len(snap.Held) != 0 {
		t.Errorf("problems %v, held %v; want none", snap.Problems, snap.Held)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestConfigMapDataLayout mounts manifests the way the kubelet projects a
// ConfigMap: pod.yaml -> ..data/pod.yaml, ..data -> ..<timestamp>, and an
// update swaps ..data to a new timestamped directory.
func TestConfigMapDataLayout(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "..2026_01_01_00_00_00.1")
	v2 := filepath.Join(dir, "..2026_01_01_00_00_00.2")
	for _, d := range []string{v1, v2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeManifest(t, v1, "pod.yaml", testPod("web"))
	writeManifest(t, v2, "pod.yaml", testPod("web", func(p *manifests.Pod) { p.Spec.Containers[0].Image = "img:2" }))
	mustSymlink(t, filepath.Base(v1), filepath.Join(dir, "..data"))
	mustSymlink(t, filepath.Join("..data", "pod.yaml"), filepath.Join(dir, "pod.yaml"))

	l := NewLoader(dir)
	snap := mustLoad(t, l)
	if got := podFiles(snap); !slices.Equal(got, []string{"default/web@pod.yaml"}) {
		t.Fatalf("pods = %q, want web from pod.yaml only", got)
	}
	if img := snap.Pods[0].Pod.Spec.Containers[0].Image; img != "img:1" {
		t.Fatalf("image = %q, want img:1", img)
	}

	// The atomic swap: a new symlink renamed over ..data.
	mustSymlink(t, filepath.Base(v2), filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	snap = mustLoad(t, l)
	if img := snap.Pods[0].Pod.Spec.Containers[0].Image; img != "img:2" {
		t.Errorf("image after swap = %q, want img:2", img)
	}
}

func TestLoadCachesUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "a.yaml", testPod("a"))
	path := writeManifest(t, dir, "b.yaml", testPod("b"))
	l := NewLoader(dir)
	first := mustLoad(t, l)
	second := mustLoad(t, l)
	for i := range first.Pods {
		if first.Pods[i].Pod != second.Pods[i].Pod {
			t.Errorf("pod %s re-parsed without a change", first.Pods[i].Key)
		}
	}

	// Atomic replace: new inode, so b is re-read and a is not.
	tmp := writeManifest(t, dir, ".b.yaml.tmp", testPod("b", func(p *manifests.Pod) { p.Spec.Containers[0].Image = "img:2" }))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	third := mustLoad(t, l)
	if third.Pods[0].Pod != first.Pods[0].Pod {
		t.Error("unchanged a.yaml was re-parsed")
	}
	if img := third.Pods[1].Pod.Spec.Containers[0].Image; img != "img:2" {
		t.Errorf("b image = %q, want img:2 after replace", img)
	}
	if len(l.cache) != 2 {
		t.Errorf("cache holds %d files, want 2", len(l.cache))
	}
}

func TestLoadMissingDirectoryIsAnError(t *testing.T) {
	l := NewLoader(filepath.Join(t.TempDir(), "absent"))
	if _, err := l.Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load = %v, want ErrNotExist", err)
	}
	if _, _, _, err := l.Desired(t.Context()); err == nil {
		t.Error("Desired on a missing directory returned no error")
	}
}

func TestInvalidFileIsHeld(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "good.yaml", testPod("good"))
	bad := writeRaw(t, dir, "bad.yaml", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "half`)
	loop := filepath.Join(dir, "loop.yaml")
	mustSymlink(t, loop, loop)

	snap := mustLoad(t, NewLoader(dir))
	if got := podFiles(snap); !slices.Equal(got, []string{"default/good@good.yaml"}) {
		t.Errorf("pods = %q, want only good", got)
	}
	if got := heldNames(snap); !slices.Equal(got, []string{"bad.yaml", "loop.yaml"}) {
		t.Errorf("held = %q, want bad.yaml and loop.yaml", got)
	}
	for _, f := range []string{bad, loop} {
		if len(problemsMatching(snap, f)) == 0 {
			t.Errorf("no problem names %s: %v", f, snap.Problems)
		}
	}
}

func TestDuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "b.yaml", testPod("web"))
	l := NewLoader(dir)
	mustLoad(t, l) // b.yaml now owns default/web

	// a.yaml sorts first, but b.yaml already owns the name.
	writeManifest(t, dir, "a.yaml", testPod("web"))
	snap := mustLoad(t, l)
	if got := podFiles(snap); !slices.Equal(got, []string{"default/web@b.yaml"}) {
		t.Errorf("pods = %q, want web from the owner b.yaml", got)
	}
	if got := heldNames(snap); !slices.Equal(got, []string{"a.yaml"}) {
		t.Errorf("held = %q, want the loser a.yaml", got)
	}
	if len(snap.Duplicates) != 1 || !strings.Contains(snap.Duplicates[0].Error(), "a.yaml") ||
		!strings.Contains(snap.Duplicates[0].Error(), "b.yaml") {
		t.Errorf("duplicates = %v, want one error naming both files", snap.Duplicates)
	}

	// Once the owner drops the pod, the other file takes over.
	writeManifest(t, dir, "b.yaml", testPod("other"))
	snap = mustLoad(t, l)
	want := []string{"default/other@b.yaml", "default/web@a.yaml"}
	if got := podFiles(snap); !slices.Equal(got, want) {
		t.Errorf("pods = %q, want %q", got, want)
	}
	if len(snap.Problems) != 0 {
		t.Errorf("problems = %v, want none", snap.Problems)
	}
}

func TestDuplicateNewKeyGoesToFirstFile(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "b.yaml", testPod("web"))
	writeManifest(t, dir, "a.yaml", testPod("web"))
	snap := mustLoad(t, NewLoader(dir))
	if got := podFiles(snap); !slices.Equal(got, []string{"default/web@a.yaml"}) {
		t.Errorf("pods = %q, want web from a.yaml", got)
	}
	if got := heldNames(snap); !slices.Equal(got, []string{"b.yaml"}) {
		t.Errorf("held = %q, want b.yaml", got)
	}
}

func TestSeedKeepsRunningOwner(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "a.yaml", testPod("web"))
	b := writeManifest(t, dir, "b.yaml", testPod("web"))
	l := NewLoader(dir)
	l.Seed([]reconciler.Observed{{Key: reconciler.PodKey{Namespace: "default", Name: "web"}, UID: "u1", File: b}})
	snap := mustLoad(t, l)
	if got := podFiles(snap); !slices.Equal(got, []string{"default/web@b.yaml"}) {
		t.Errorf("pods = %q, want web from the seeded owner b.yaml", got)
	}
}

func TestHeldOwnerKeepsKey(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "b.yaml", testPod("web"))
	l := NewLoader(dir)
	mustLoad(t, l)

	// The owner breaks and another file declares the same pod: the owner
	// keeps the name while it is held, the other file gets an error.
	writeRaw(t, dir, "b.yaml", "{broken")
	writeManifest(t, dir, "a.yaml", testPod("web"))
	snap := mustLoad(t, l)
	if len(snap.Pods) != 0 {
		t.Errorf("pods = %q, want none while the owner is held", podFiles(snap))
	}
	if got := heldNames(snap); !slices.Equal(got, []string{"a.yaml", "b.yaml"}) {
		t.Errorf("held = %q, want both", got)
	}
	if len(problemsMatching(snap, "owned by b.yaml, which currently has errors")) != 1 {
		t.Errorf("problems = %v, want a duplicate error naming the held owner", snap.Problems)
	}
}

func TestReferences(t *testing.T) {
	yes := true
	envFromCM := func(name string, optional *bool) func(*manifests.Pod) {
		return func(p *manifests.Pod) {
			p.Spec.Containers[0].EnvFrom = []manifests.EnvFromSource{{ConfigMapRef: &manifests.LocalObjectRef{Name: name, Optional: optional}}}
		}
	}
	envKey := func(name, key string) func(*manifests.Pod) {
		return func(p *manifests.Pod) {
			p.Spec.Containers[0].Env = []manifests.EnvVar{{Name: "X", ValueFrom: &manifests.EnvVarSource{
				ConfigMapKeyRef: &manifests.KeySelector{Name: name, Key: key}}}}
		}
	}
	secretVol := func(name string) func(*manifests.Pod) {
		return func(p *manifests.Pod) {
			p.Spec.Volumes = []manifests.Volume{{Name: "v", Secret: &manifests.SecretVolumeSource{SecretName: name}}}
		}
	}
	initSecretKey := func(name string) func(*manifests.Pod) {
		return func(p *manifests.Pod) {
			p.Spec.InitContainers = []manifests.Container{{Name: "init", Image: "img:1", Env: []manifests.EnvVar{{Name: "X",
				ValueFrom: &manifests.EnvVarSource{SecretKeyRef: &manifests.KeySelector{Name: name, Key: "k"}}}}}}
		}
	}
	tests := []struct {
		name     string
		mod      func(*manifests.Pod)
		wantPath string // empty: no problem expected
	}{
		{"declared ConfigMap", envFromCM("settings", nil), ""},
		{"missing ConfigMap", envFromCM("absent", nil), "spec.containers[0].envFrom[0].configMapRef.name"},
		{"missing optional ConfigMap", envFromCM("absent", &yes), ""},
		{"declared key", envKey("settings", "level"), ""},
		{"missing key", envKey("settings", "nope"), "spec.containers[0].env[0].valueFrom.configMapKeyRef.key"},
		{"missing Secret volume", secretVol("creds"), "spec.volumes[0].secret.secretName"},
		{"missing Secret in init container", initSecretKey("creds"), "spec.initContainers[0].env[0].valueFrom.secretKeyRef.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeManifest(t, dir, "config.yaml", testConfigMap("settings", map[string]string{"level": "debug"}))
			writeManifest(t, dir, "web.yaml", testPod("web", tt.mod))
			snap := mustLoad(t, NewLoader(dir))
			if tt.wantPath == "" {
				if len(snap.Problems) != 0 || len(snap.Pods) != 1 {
					t.Errorf("problems %v, pods %q; want the pod and no problem", snap.Problems, podFiles(snap))
				}
				return
			}
			if len(snap.Problems) != 1 || snap.Problems[0].Path != tt.wantPath || !snap.Held[filepath.Join(dir, "web.yaml")] {
				t.Errorf("problems = %#v, held %v; want one at %s and web.yaml held", snap.Problems, snap.Held, tt.wantPath)
			}
			if len(snap.Pods) != 0 {
				t.Errorf("pods = %q, want none", podFiles(snap))
			}
		})
	}
}

func TestDesiredMatchesSnapshot(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "a.yaml", testPod("a"))
	writeRaw(t, dir, "bad.yaml", "{")
	l := NewLoader(dir)
	desired, held, problems, err := l.Desired(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(desired) != 1 || desired[0].Key.Name != "a" || !held[filepath.Join(dir, "bad.yaml")] || len(problems) == 0 {
		t.Errorf("Desired = %v, %v, %v; want pod a, bad.yaml held, problems", desired, held, problems)
	}
	if l.Latest() == nil || len(l.Latest().Pods) != 1 {
		t.Errorf("Latest = %+v, want the loaded snapshot", l.Latest())
	}
}

func TestDuplicateInOneFile(t *testing.T) {
	dir := t.TempDir()
	doc := func(image string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: main\n    image: " + image + "\n"
	}
	writeRaw(t, dir, "pods.yaml", doc("img:1")+"---\n"+doc("img:2"))
	snap := mustLoad(t, NewLoader(dir))
	if len(snap.Duplicates) != 1 || snap.Duplicates[0].Document != 1 || snap.Duplicates[0].Line == 0 {
		t.Errorf("duplicates = %#v, want one on the second document with a line", snap.Duplicates)
	}
	if len(snap.Pods) != 0 || !snap.Held[filepath.Join(dir, "pods.yaml")] {
		t.Errorf("pods = %q, held %v; want the file held", podFiles(snap), snap.Held)
	}
}

// BenchmarkReloadUnchanged measures the no-op re-list of 1000 manifests
// that the periodic resync performs.
func BenchmarkReloadUnchanged(b *testing.B) {
	dir := b.TempDir()
	for i := range 1000 {
		raw, err := json.Marshal(testPod(fmt.Sprintf("pod-%04d", i)))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("pod-%04d.yaml", i)), raw, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	l := NewLoader(dir)
	if _, err := l.Load(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := l.Load(); err != nil {
			b.Fatal(err)
		}
	}
}

// An imagePullSecrets entry naming a missing Secret, or one that holds no
// registry credentials, is a warning: the pod runs and pulls without it,
// as on a kubelet.
func TestImagePullSecretsWarn(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, dir, "opaque.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: opaque\nstringData:\n  k: v\n")
	writeManifest(t, dir, "web.yaml", testPod("web", func(p *manifests.Pod) {
		p.Spec.ImagePullSecrets = []manifests.LocalObjectReference{{Name: "absent"}, {Name: "opaque"}}
	}))
	snap := mustLoad(t, NewLoader(dir))
	if len(snap.Pods) != 1 || snap.Held[filepath.Join(dir, "web.yaml")] {
		t.Fatalf("pods %q, held %v: want the pod", podFiles(snap), snap.Held)
	}
	want := map[string]string{"spec.imagePullSecrets[0].name": `Secret "absent" not found`, "spec.imagePullSecrets[1].name": `type "Opaque"`}
	for _, p := range snap.Problems {
		if w, ok := want[p.Path]; ok && p.Severity == manifests.Warning && strings.Contains(p.Message, w) {
			delete(want, p.Path)
		}
	}
	if len(want) != 0 {
		t.Errorf("problems %v; missing warnings %v", snap.Problems, want)
	}
}

// A re-list that finds the same files unchanged returns the snapshot it
// resolved before; any change, an unreadable file or a Seed resolves anew.
func TestNoOpLoadReturnsLastSnapshot(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "a.yaml", testPod("a"))
	writeManifest(t, dir, "b.yaml", testPod("web"))
	writeManifest(t, dir, "c.yaml", testPod("web"))
	l := NewLoader(dir)
	first := mustLoad(t, l)
	if again := mustLoad(t, l); again != first {
		t.Fatal("a no-op re-list resolved a new snapshot")
	}
	want := []string{"default/a@a.yaml", "default/web@b.yaml"}

	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"file added", func() { writeManifest(t, dir, "d.yaml", testPod("d")) }, append(slices.Clone(want), "default/d@d.yaml")},
		{"file removed", func() { os.Remove(filepath.Join(dir, "d.yaml")) }, want},
		{"file rewritten", func() { writeManifest(t, dir, "a.yaml", testPod("a2")) }, []string{"default/a2@a.yaml", "default/web@b.yaml"}},
		{"owner seeded", func() {
			l.Seed([]reconciler.Observed{{Key: reconciler.PodKey{Namespace: "default", Name: "web"}, File: filepath.Join(dir, "c.yaml")}})
		}, []string{"default/a2@a.yaml", "default/web@c.yaml"}},
	}
	prev := first
	for _, s := range steps {
		s.change()
		snap := mustLoad(t, l)
		if snap == prev {
			t.Errorf("%s: the last snapshot came back", s.name)
		}
		got := podFiles(snap)
		slices.Sort(got)
		w := slices.Clone(s.want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: pods = %q, want %q", s.name, got, w)
		}
		if again := mustLoad(t, l); again != snap {
			t.Errorf("%s: the no-op re-list after it resolved anew", s.name)
		}
		prev = snap
	}

	loop := filepath.Join(dir, "loop.yaml")
	mustSymlink(t, loop, loop)
	withErr := mustLoad(t, l)
	if again := mustLoad(t, l); again == withErr {
		t.Error("a snapshot with an unreadable file was reused")
	}
	if got := heldNames(withErr); !slices.Contains(got, "loop.yaml") {
		t.Errorf("held = %q, want loop.yaml", got)
	}
}
