package pod

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/manifests"
)

func TestImagesInUse(t *testing.T) {
	state := t.TempDir()
	if got, err := ImagesInUse(state); err != nil || len(got) != 0 {
		t.Fatalf("no pods dir: %v, %v", got, err)
	}
	for name, ids := range map[string]map[string]string{
		"default_a": {"web": "sha256:aa", "sidecar": "sha256:bb"},
		"default_b": {"web": "sha256:aa"},
		"default_c": nil, // created, images not resolved yet
	} {
		dir := filepath.Join(state, "pods", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeRecord(dir, &record{UID: name, Pod: &manifests.Pod{}, ImageIDs: ids}); err != nil {
			t.Fatal(err)
		}
	}
	// An image volume's image counts as a container's does.
	dir := filepath.Join(state, "pods", "default_e")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(dir, &record{UID: "e", Pod: &manifests.Pod{}, ImageIDs: map[string]string{"web": "sha256:aa"},
		VolumeImageIDs: map[string]string{"tools": "sha256:cc"}}); err != nil {
		t.Fatal(err)
	}
	// A pod dir whose record is not written yet is skipped.
	if err := os.MkdirAll(filepath.Join(state, "pods", "default_d"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := ImagesInUse(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got["sha256:aa"] || !got["sha256:bb"] || !got["sha256:cc"] {
		t.Errorf("in use: %v, want sha256:aa, sha256:bb and sha256:cc", got)
	}
	if err := os.WriteFile(filepath.Join(state, "pods", "default_d", recordFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ImagesInUse(state); err == nil {
		t.Error("a corrupt record is ignored: the GC could remove an image a pod runs")
	}
}
