package images

import (
	"bytes"
	"crypto/rand"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestGCCandidates(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return now.Add(time.Duration(m) * time.Minute) }
	imgs := []Image{
		{ID: "a", Imported: at(-100), LastUsed: at(-10)},
		{ID: "b", Imported: at(-50)}, // never used: counts from its import
		{ID: "c", Imported: at(-100), LastUsed: at(-60)},
		{ID: "d", Imported: at(-100), LastUsed: at(-1)}, // too recent
		{ID: "e", Imported: at(-1), LastUsed: at(-200)}, // pulled again since
	}
	for _, tc := range []struct {
		name   string
		inUse  []string
		minAge time.Duration
		want   []string
	}{
		{"oldest used first", nil, 0, []string{"e", "c", "b", "a", "d"}},
		{"in use kept", []string{"e", "a"}, 0, []string{"c", "b", "d"}},
		{"recent kept", nil, 2 * time.Minute, []string{"c", "b", "a"}},
		{"nothing", []string{"a", "b", "c", "d", "e"}, 0, nil},
	} {
		inUse := map[string]bool{}
		for _, id := range tc.inUse {
			inUse[id] = true
		}
		var got []string
		for _, im := range gcCandidates(imgs, inUse, now, tc.minAge) {
			got = append(got, im.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGCPolicyCheck(t *testing.T) {
	for _, p := range []GCPolicy{{High: 85, Low: 80}, {High: 100, Low: 0}} {
		if err := p.Check(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	for _, p := range []GCPolicy{{High: 80, Low: 85}, {High: 0, Low: 0}, {High: 101, Low: 80}, {High: 85, Low: -1}} {
		if err := p.Check(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

// GC on a small tmpfs as the store's file system: above the high
// threshold, unused images go, least recently used first, until usage is
// at most the low threshold; the image in use stays.
func TestGCThresholdsOnTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=20m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount tmpfs: %v", err)
		}
	})
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, name := range []string{"a", "b", "c", "d"} {
		payload := make([]byte, 2<<20) // incompressible: 2 MiB blob + 2 MiB unpacked
		rand.Read(payload)
		layer := buildTar(t, []entry{{name: "data", body: string(payload)}})
		imgs, err := s.Import(bytes.NewReader(dockerArchive(t, [][]byte{layer}, "gc/"+name+":1", testConfig(t, [][]byte{layer}, name))))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = imgs[0].ID
	}
	now := time.Now()
	for name, ago := range map[string]time.Duration{"a": 1 * time.Hour, "b": 3 * time.Hour, "c": 10 * time.Minute, "d": 2 * time.Hour} {
		if err := s.MarkUsed(ids[name], now.Add(-ago)); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tmpfs %d%% full with 4 images", u.Percent())
	if u.Percent() < 75 {
		t.Fatalf("tmpfs only %d%% full: the images are smaller than the test assumes", u.Percent())
	}
	inUse := map[string]bool{ids["b"]: true} // the oldest, but a pod runs it
	p := GCPolicy{High: 70, Low: 50}

	removed, err := s.GC(GCPolicy{High: 95, Low: 50}, inUse, now)
	if err != nil || len(removed) != 0 {
		t.Fatalf("below the high threshold: removed %d, %v", len(removed), err)
	}
	removed, err = s.GC(p, inUse, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range removed {
		got = append(got, im.Refs[0])
	}
	if !slices.Equal(got, []string{"gc/d:1", "gc/a:1"}) {
		t.Errorf("removed %v, want gc/d:1 then gc/a:1 (least recently used first, gc/b:1 in use)", got)
	}
	if u, _ = s.Usage(); u.Percent() > p.Low {
		t.Errorf("%d%% full after GC, want at most %d%%", u.Percent(), p.Low)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := s.Get(ids[name]); err != nil {
			t.Errorf("image %s: %v", name, err)
		}
	}

	removed, err = s.Prune(inUse, now)
	if err != nil || len(removed) != 1 || removed[0].ID != ids["c"] {
		t.Errorf("prune --all removed %v, %v; want gc/c:1 only", removed, err)
	}
	if list, _ := s.List(); len(list) != 1 || list[0].ID != ids["b"] {
		t.Errorf("left %v, want the image in use", list)
	}
}
