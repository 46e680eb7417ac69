package volumes

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

// TestDownwardAndProjectedFollowLabels prepares a downwardAPI and a
// projected volume, then updates them after a label edit, as Refresh does:
// the labels files change in place, through a new ..data version.
func TestDownwardAndProjectedFollowLabels(t *testing.T) {
	needRoot(t)
	podDir := newPodDir(t)
	items := []manifests.DownwardAPIVolumeFile{fieldItem("labels", "metadata.labels", nil), fieldItem("name", "metadata.name", nil)}
	pod := &manifests.Pod{
		ObjectMeta: manifests.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"v": "1"}},
		Spec: manifests.PodSpec{Volumes: []manifests.Volume{
			{Name: "info", DownwardAPI: &manifests.DownwardAPIVolumeSource{Items: items}},
			{Name: "all", Projected: &manifests.ProjectedVolumeSource{Sources: []manifests.VolumeProjection{
				{Secret: &manifests.SecretProjection{Name: "s"}},
				{DownwardAPI: &manifests.DownwardAPIProjection{Items: items}},
			}}},
		}},
	}
	secrets := map[string]*manifests.Secret{"s": {Data: map[string][]byte{"key": []byte("k")}}}
	set, err := Prepare(podDir, pod, nil, secrets, "u-1", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	if got := Projected(podDir, pod); len(got) != 2 || got["info"] != set["info"] || got["all"] != set["all"] {
		t.Errorf("Projected = %+v, want %+v", got, set)
	}
	if st := statfs(t, set["all"].Path); st.Type != unix.TMPFS_MAGIC {
		t.Errorf("projected volume: fs type %#x, want tmpfs (it may hold secrets)", st.Type)
	}
	want := map[string]string{"labels": `v="1"`, "name": "web"}
	if got := readVolume(t, set["info"].Path); !maps.Equal(got, want) {
		t.Errorf("downwardAPI volume = %v, want %v", got, want)
	}
	before := versionDirs(t, set["info"].Path)

	edited := *pod
	edited.Labels = map[string]string{"v": "2", "added": "yes"}
	if err := Update(Projected(podDir, &edited), &edited, nil, secrets, "u-1", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"labels": "added=\"yes\"\nv=\"2\"", "name": "web"}
	if got := readVolume(t, set["info"].Path); !maps.Equal(got, want) {
		t.Errorf("downwardAPI volume after the edit = %v, want %v", got, want)
	}
	want["key"] = "k"
	if got := readVolume(t, set["all"].Path); !maps.Equal(got, want) {
		t.Errorf("projected volume after the edit = %v, want %v", got, want)
	}
	if after := versionDirs(t, set["info"].Path); len(after) != 1 || after[0] == before[0] {
		t.Errorf("versions %v -> %v: want one new version", before, after)
	}
	if b, err := os.ReadFile(filepath.Join(set["info"].Path, "..data", "labels")); err != nil || string(b) != want["labels"] {
		t.Errorf("..data/labels = %q, %v", b, err)
	}
}
