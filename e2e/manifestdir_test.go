package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// TestInvalidEditKeepsPodAndDuplicatesAreReported drops files straight into
// the manifest directory as a user editing it would: an edit that breaks a
// file leaves its pod running on the last good spec and is reported; a
// second file declaring the same pod loses and is reported; backup and
// editor files never start anything.
func TestInvalidEditKeepsPodAndDuplicatesAreReported(t *testing.T) {
	d := startDaemon(t)
	pod := podYAML("keeper", "Always", `["/bin/demo", "sleep"]`)
	writeAtomic(t, filepath.Join(d.manifests, "keeper.yaml"), pod)
	var first string
	testutil.WaitFor(t, 30*time.Second, "the pod to run", func() bool {
		for _, p := range d.pods() {
			if p.Metadata.Name == "keeper" && p.Status.Phase == "Running" {
				first = p.Metadata.UID
				return true
			}
		}
		return false
	})

	// Editor leftovers and backups must never start or shadow a pod.
	other := strings.Replace(pod, "name: keeper", "name: ghost", 1)
	for _, name := range []string{"keeper.yaml.bak", "keeper.yaml~", ".keeper.yaml.swp", "4913"} {
		writeAtomic(t, filepath.Join(d.manifests, name), other)
	}

	broken := strings.Replace(pod, "restartPolicy: Always", "restartPolicy: Sometimes", 1)
	writeAtomic(t, filepath.Join(d.manifests, "keeper.yaml"), broken)
	dup := strings.Replace(pod, "sleep", "sleep\", \"1h", 1)
	writeAtomic(t, filepath.Join(d.manifests, "zz-duplicate.yaml"), dup)

	testutil.WaitFor(t, 30*time.Second, "the problems to be reported", func() bool {
		for _, p := range d.pods() {
			if p.Metadata.Name == "keeper" && len(p.ManifestProblems()) > 0 {
				return true
			}
		}
		return false
	})
	time.Sleep(300 * time.Millisecond) // several debounce periods: a wrong action would have happened
	for _, p := range d.pods() {
		switch p.Metadata.Name {
		case "keeper":
			if p.Metadata.UID != first || p.Status.Phase != "Running" {
				t.Errorf("an invalid edit touched the running pod: uid %s -> %s, phase %s", first, p.Metadata.UID, p.Status.Phase)
			}
			if all := strings.Join(p.ManifestProblems(), "\n"); !strings.Contains(all, "spec.restartPolicy") {
				t.Errorf("problems do not name the field:\n%s", all)
			}
		case "ghost":
			t.Errorf("a backup or editor file started pod %s", p.Metadata.Name)
		}
	}
	out, _ := d.berth("validate", d.manifests)
	if !strings.Contains(out, "zz-duplicate.yaml") || !strings.Contains(out, "keeper.yaml") {
		t.Errorf("validate of the directory does not report the duplicate:\n%s", out)
	}
}

// writeAtomic writes a file the documented way: a temp name, then rename.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
