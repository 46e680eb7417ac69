package volumes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

// configMapPod is a pod with one configMap volume "conf" of ConfigMap "c".
func configMapPod(items ...manifests.KeyToPath) *manifests.Pod {
	return &manifests.Pod{
		ObjectMeta: manifests.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: manifests.PodSpec{Volumes: []manifests.Volume{{
			Name:      "conf",
			ConfigMap: &manifests.ConfigMapVolumeSource{Name: "c", Items: items},
		}}},
	}
}

func cmaps(data map[string]string) map[string]*manifests.ConfigMap {
	return map[string]*manifests.ConfigMap{"c": {ObjectMeta: manifests.ObjectMeta{Name: "c"}, Data: data}}
}

// readVolume returns what a reader sees through the user-visible names:
// the content of every file reachable from the top-level entries.
func readVolume(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		err := filepath.Walk(filepath.Join(dir, e.Name())+"/", func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			got[rel] = string(b)
			return err
		})
		if err != nil {
			// A plain file entry: Walk of "name/" fails with ENOTDIR.
			b, rerr := os.ReadFile(filepath.Join(dir, e.Name()))
			if rerr != nil {
				t.Fatalf("read %s: %v / %v", e.Name(), err, rerr)
			}
			got[e.Name()] = string(b)
		}
	}
	return got
}

// versionDirs lists the timestamped directories of a volume.
func versionDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, e := range entries {
		if isVersionName(e.Name()) {
			vs = append(vs, e.Name())
		}
	}
	return vs
}

func TestConfigMapProjectionAndUpdate(t *testing.T) {
	podDir := filepath.Join(t.TempDir(), "volumes")
	pod := configMapPod()
	set, err := Prepare(podDir, pod, cmaps(map[string]string{"a": "1", "b": "2"}), nil, "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	conf := set["conf"]
	if conf.Kind != KindConfigMap || !conf.ReadOnly || conf.Path != filepath.Join(podDir, "configmap", "conf") {
		t.Fatalf("Prepared = %+v", conf)
	}
	if got := Projected(podDir, pod); len(got) != 1 || got["conf"] != conf {
		t.Errorf("Projected = %+v, want only %+v", got, conf)
	}
	if got := readVolume(t, conf.Path); len(got) != 2 || got["a"] != "1" || got["b"] != "2" {
		t.Fatalf("volume content = %v", got)
	}
	// The kubelet layout: a -> ..data/a, ..data -> ..<timestamp>.
	if l, err := os.Readlink(filepath.Join(conf.Path, "a")); err != nil || l != "..data/a" {
		t.Errorf("a links to %q (%v), want ..data/a", l, err)
	}
	v1 := versionDirs(t, conf.Path)
	if l, err := os.Readlink(filepath.Join(conf.Path, "..data")); err != nil || len(v1) != 1 || l != v1[0] {
		t.Fatalf("..data = %q (%v), versions %v", l, err, v1)
	}
	if fi, err := os.Stat(filepath.Join(conf.Path, "a")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode of a = %v (%v), want 0644", fi.Mode(), err)
	}

	// Same documents: nothing rewritten.
	if err := Update(set, pod, cmaps(map[string]string{"a": "1", "b": "2"}), nil, "", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	if v := versionDirs(t, conf.Path); len(v) != 1 || v[0] != v1[0] {
		t.Errorf("unchanged update made versions %v, want %v", v, v1)
	}

	// Changed documents: a new version, ..data swapped, the old one and the
	// removed key's link gone, the new key linked.
	if err := Update(set, pod, cmaps(map[string]string{"a": "one", "c": "3"}), nil, "", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	if got := readVolume(t, conf.Path); len(got) != 2 || got["a"] != "one" || got["c"] != "3" {
		t.Errorf("after update, volume content = %v", got)
	}
	v2 := versionDirs(t, conf.Path)
	if len(v2) != 1 || v2[0] == v1[0] {
		t.Errorf("after update, versions = %v (before %v)", v2, v1)
	}
	if _, err := os.Lstat(filepath.Join(conf.Path, "b")); !os.IsNotExist(err) {
		t.Errorf("removed key b still present: %v", err)
	}

	// Prepare again (a retry after a crash) converges without rewriting.
	if _, err := Prepare(podDir, pod, cmaps(map[string]string{"a": "one", "c": "3"}), nil, "", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	if v := versionDirs(t, conf.Path); len(v) != 1 || v[0] != v2[0] {
		t.Errorf("repeated Prepare made versions %v, want %v", v, v2)
	}
}

func TestConfigMapItemsNested(t *testing.T) {
	podDir := filepath.Join(t.TempDir(), "volumes")
	pod := configMapPod(
		manifests.KeyToPath{Key: "a", Path: "etc/app/a.conf", Mode: i32(0o600)},
		manifests.KeyToPath{Key: "b", Path: "b"},
	)
	set, err := Prepare(podDir, pod, cmaps(map[string]string{"a": "1", "b": "2", "unused": "x"}), nil, "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	dir := set["conf"].Path
	got := readVolume(t, dir)
	if len(got) != 2 || got["etc/app/a.conf"] != "1" || got["b"] != "2" {
		t.Errorf("volume content = %v", got)
	}
	if l, err := os.Readlink(filepath.Join(dir, "etc")); err != nil || l != "..data/etc" {
		t.Errorf("etc links to %q (%v)", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "etc/app/a.conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of a.conf = %v (%v), want 0600", fi.Mode(), err)
	}
}

func TestConfigMapMissing(t *testing.T) {
	podDir := filepath.Join(t.TempDir(), "volumes")
	if _, err := Prepare(podDir, configMapPod(), nil, nil, "", downward.Node{}); err == nil {
		t.Fatal("Prepare with a missing configMap: want an error")
	}
	pod := configMapPod()
	pod.Spec.Volumes[0].ConfigMap.Optional = yes()
	set, err := Prepare(podDir, pod, nil, nil, "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readVolume(t, set["conf"].Path); len(got) != 0 {
		t.Errorf("optional missing configMap: content = %v, want empty", got)
	}
	// The configMap appears: Update fills the volume.
	if err := Update(set, pod, cmaps(map[string]string{"k": "v"}), nil, "", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	if got := readVolume(t, set["conf"].Path); got["k"] != "v" {
		t.Errorf("after the configMap appeared: content = %v", got)
	}
}

// TestPlantedSymlinks: whoever can write in a volume directory (a container
// that has it writable by some other route) plants links to a directory
// outside; Update and Prepare must neither write through them nor delete
// what they point at.
func TestPlantedSymlinks(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(outside, "a")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	plants := []struct {
		name  string
		plant func(dir string) error
	}{
		{"..data absolute", func(dir string) error { return replaceWithLink(dir, "..data", outside) }},
		{"..data relative", func(dir string) error { return replaceWithLink(dir, "..data", "../../../../../outside") }},
		{"version dir", func(dir string) error {
			// Make the current version itself a link to outside.
			v, err := os.Readlink(filepath.Join(dir, "..data"))
			if err != nil {
				return err
			}
			return replaceWithLink(dir, v, outside)
		}},
		{"top-level key", func(dir string) error { return replaceWithLink(dir, "a", victim) }},
		{"stale entry", func(dir string) error { return os.Symlink(outside, filepath.Join(dir, "..2000_01_01_00_00_00.1")) }},
		{"..data directory", func(dir string) error {
			if err := os.Remove(filepath.Join(dir, "..data")); err != nil {
				return err
			}
			return os.Mkdir(filepath.Join(dir, "..data"), 0o755)
		}},
		{"..data_tmp", func(dir string) error { return os.Symlink(outside, filepath.Join(dir, "..data_tmp")) }},
	}
	for i, pl := range plants {
		t.Run(pl.name, func(t *testing.T) {
			podDir := filepath.Join(tmp, "pods", string(rune('a'+i)), "volumes")
			pod := configMapPod()
			set, err := Prepare(podDir, pod, cmaps(map[string]string{"a": "v1"}), nil, "", downward.Node{})
			if err != nil {
				t.Fatal(err)
			}
			dir := set["conf"].Path
			if err := pl.plant(dir); err != nil {
				t.Fatal(err)
			}
			if err := Update(set, pod, cmaps(map[string]string{"a": "v2"}), nil, "", downward.Node{}); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(victim); err != nil || string(b) != "precious" {
				t.Fatalf("outside file = %q, %v; want it untouched", b, err)
			}
			if entries, err := os.ReadDir(outside); err != nil || len(entries) != 1 {
				t.Fatalf("outside dir = %v, %v; want only a", entries, err)
			}
			if got := readVolume(t, dir); len(got) != 1 || got["a"] != "v2" {
				t.Errorf("volume after update = %v, want a=v2", got)
			}
			l, err := os.Readlink(filepath.Join(dir, "..data"))
			if err != nil || !isVersionName(l) {
				t.Errorf("..data = %q, %v; want a version dir", l, err)
			}
		})
	}
}

// replaceWithLink replaces dir/name (whatever it is) by a link to target.
func replaceWithLink(dir, name, target string) error {
	if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
		return err
	}
	return os.Symlink(target, filepath.Join(dir, name))
}

func TestPrepareVolumeDirIsSymlink(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	podDir := filepath.Join(tmp, "volumes")
	if err := os.MkdirAll(filepath.Join(podDir, "configmap"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(podDir, "configmap", "conf")); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(podDir, configMapPod(), cmaps(map[string]string{"a": "1"}), nil, "", downward.Node{}); err == nil {
		t.Error("Prepare through a symlinked volume dir: want an error")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("Prepare wrote outside: %v", entries)
	}
}

// TestNestedMountPointsKept: a configMap volume with another volume mounted
// below it gets that mount point as a directory, which updates keep; a
// payload name wins over a mount point of the same name.
func TestNestedMountPointsKept(t *testing.T) {
	podDir := filepath.Join(t.TempDir(), "volumes")
	pod := configMapPod()
	pod.Spec.Volumes = append(pod.Spec.Volumes, manifests.Volume{Name: "cache", EmptyDir: &manifests.EmptyDirVolumeSource{}})
	pod.Spec.Containers = []manifests.Container{{Name: "c", VolumeMounts: []manifests.VolumeMount{
		{Name: "conf", MountPath: "/etc/app"},
		{Name: "cache", MountPath: "/etc/app/cache"},
		{Name: "cache", MountPath: "/etc/app/a", SubPath: "x"},
	}}}
	set, err := Prepare(podDir, pod, cmaps(map[string]string{"a": "1"}), nil, "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	dir := set["conf"].Path
	isDir := func(name string) bool {
		fi, err := os.Lstat(filepath.Join(dir, name))
		return err == nil && fi.IsDir()
	}
	if !isDir("cache") {
		t.Fatal("the mount point cache was not made in the configMap volume")
	}
	if isDir("a") {
		t.Error("the mount point a replaced the payload's file a")
	}
	if err := Update(set, pod, cmaps(map[string]string{"a": "2", "b": "3"}), nil, "", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	if !isDir("cache") {
		t.Error("an update removed the mount point cache")
	}
	if got := readVolume(t, dir); got["a"] != "2" || got["b"] != "3" || len(got) != 2 {
		t.Errorf("volume content after update = %v", got)
	}
}
