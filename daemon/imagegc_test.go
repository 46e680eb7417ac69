package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/reconciler"
)

// One collection pass with thresholds the file system is surely past:
// every image no pod record and no manifest names, for a container or an
// image volume, is removed, each with an event naming it.
func TestImageGCKeepsWhatPodsAndManifestsName(t *testing.T) {
	state := t.TempDir()
	store, err := images.Open(filepath.Join(state, "images"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"wanted", "running", "unused", "mounted", "volume", "lastgood"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := store.ImportRootfs(dir, "localhost/gc-"+name+":1"); err != nil {
			t.Fatal(err)
		}
	}
	running, err := store.Get("localhost/gc-running:1")
	if err != nil {
		t.Fatal(err)
	}
	mounted, err := store.Get("localhost/gc-mounted:1")
	if err != nil {
		t.Fatal(err)
	}
	// A pod record naming the running image, as the pod package writes it,
	// on trial with a last good spec naming another.
	podDir := filepath.Join(state, "pods", "default_r")
	if err := os.MkdirAll(podDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(podDir, "pod.json"), []byte(`{"version":1,"pod":{"metadata":{"name":"r"}},"imageIDs":{"main":"`+running.ID+`"},"volumeImageIDs":{"tools":"`+mounted.ID+`"},`+
		`"rollout":{"trial":true,"lastGood":{"metadata":{"name":"r"},"spec":{"containers":[{"name":"main","image":"localhost/gc-lastgood:1"}]}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	snap := &manifestdir.Snapshot{Pods: []reconciler.Desired{{Pod: &manifests.Pod{Spec: manifests.PodSpec{
		Containers: []manifests.Container{{Name: "main", Image: "localhost/gc-wanted:1"}},
		Volumes:    []manifests.Volume{{Name: "v", Image: &manifests.ImageVolumeSource{Reference: "localhost/gc-volume:1"}}}}}}}}
	events := newEventLog(100, slog.New(slog.DiscardHandler))
	g := &imageGC{store: store, policy: images.GCPolicy{High: 0, Low: 0}, stateDir: state,
		latest: func() *manifestdir.Snapshot { return snap }, events: events, log: slog.New(slog.DiscardHandler)}
	if u, err := store.Usage(); err != nil || u.Percent() == 0 {
		t.Skipf("the test's file system is empty or unreadable: %+v, %v", u, err)
	}
	g.once(time.Now())

	list, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, im := range list {
		left = append(left, im.Refs...)
	}
	slices.Sort(left)
	if strings.Join(left, ",") != "localhost/gc-lastgood:1,localhost/gc-mounted:1,localhost/gc-running:1,localhost/gc-volume:1,localhost/gc-wanted:1" {
		t.Errorf("left %v, want the running, mounted, wanted and last good spec's images", left)
	}
	evs := events.since(time.Time{})
	if len(evs) != 1 || evs[0].Reason != "ImageGCRemoved" || !strings.Contains(evs[0].Message, "localhost/gc-unused:1") {
		t.Errorf("events: %+v", evs)
	}
}

// A collection pass below the threshold still removes the partial blob
// downloads no pull has written for a day, and keeps a recent one.
func TestImageGCRemovesIdlePartials(t *testing.T) {
	state := t.TempDir()
	store, err := images.Open(filepath.Join(state, "images"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(store.Root(), "partial", "sha256")
	now := time.Now()
	for name, age := range map[string]time.Duration{"idle": 25 * time.Hour, "recent": time.Minute} {
		p := filepath.Join(dir, strings.Repeat(name[:1], 64))
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	g := &imageGC{store: store, policy: images.GCPolicy{High: 100, Low: 100}, stateDir: state,
		latest: func() *manifestdir.Snapshot { return &manifestdir.Snapshot{} }, events: newEventLog(100, slog.New(slog.DiscardHandler)),
		log: slog.New(slog.DiscardHandler)}
	g.once(now)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 || ents[0].Name() != strings.Repeat("r", 64) {
		t.Errorf("partials left %v, %v; want the recent one", ents, err)
	}
}
