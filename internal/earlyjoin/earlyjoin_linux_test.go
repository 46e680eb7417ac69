package earlyjoin

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// v1Hierarchies returns two v1 hierarchies of this host for a test
// cgroup, or skips.
func v1Hierarchies(t *testing.T) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	var out []string
	for _, c := range []string{"pids", "memory", "cpu"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c, "tasks")); err == nil {
			out = append(out, c)
		}
	}
	if len(out) < 2 {
		t.Skip("needs two cgroup v1 hierarchies")
	}
	return out[:2]
}

// buildHelper builds testdata/helper, with the entry point when entry.
func buildHelper(t *testing.T, entry bool) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "helper")
	args := []string{"build", "-o", out}
	if entry {
		args = append(args, "-ldflags", "-E "+EntrySymbol)
	}
	cmd := exec.Command("go", append(args, "./testdata/helper")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build helper: %v\n%s", err, b)
	}
	return out
}

// TestEntryJoinsEveryThread: a binary started with its entry point and
// two tasks files at FirstFd is in both cgroups with every thread, and
// says so; without the entry point it is in neither and says so.
func TestEntryJoinsEveryThread(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the entry point is amd64 only")
	}
	hs := v1Hierarchies(t)
	b := make([]byte, 4)
	rand.Read(b)
	name := "berth-earlyjoin-" + hex.EncodeToString(b)
	var procs []string
	for _, h := range hs {
		dir := filepath.Join("/sys/fs/cgroup", h, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := os.Remove(dir); err != nil {
				t.Errorf("remove %s: %v", dir, err)
			}
		})
		procs = append(procs, filepath.Join(dir, "cgroup.procs"))
	}
	for _, tt := range []struct {
		entry bool
		want  string
	}{{true, "true"}, {false, "false"}} {
		tasks, err := Open(procs)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(buildHelper(t, tt.entry), "2")
		cmd.ExtraFiles = Place(nil, tasks, nil)[3:]
		out, err := cmd.Output()
		CloseFiles(tasks)
		if err != nil {
			t.Fatalf("entry %v: %v", tt.entry, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if lines[0] != tt.want {
			t.Errorf("entry %v: Joined = %s, want %s", tt.entry, lines[0], tt.want)
		}
		if len(lines) < 4 {
			t.Errorf("entry %v: %d threads, want several", tt.entry, len(lines)-1)
		}
		for _, l := range lines[1:] {
			for _, h := range hs {
				in := strings.Contains(l, ":"+h+":/"+name)
				if in != tt.entry {
					t.Errorf("entry %v: a thread's cgroups %q, in %s/%s: %v", tt.entry, l, h, name, in)
				}
			}
		}
	}
}

func TestPlace(t *testing.T) {
	a, b := os.Stdin, os.Stdout
	if got := Place([]*os.File{a}, nil, nil); len(got) != 1 {
		t.Errorf("no tasks: %d fds, want 1", len(got))
	}
	got := Place([]*os.File{a, b}, []*os.File{a, b}, nil)
	if len(got) != FirstFd+2 || got[FirstFd] != a || got[FirstFd+1] != b || got[2] != nil || got[1] != b {
		t.Errorf("Place = %v", got)
	}
	fds := Place([]uintptr{0, 1, 2, 7}, []uintptr{8}, ^uintptr(0))
	want := []uintptr{0, 1, 2, 7, ^uintptr(0), ^uintptr(0), ^uintptr(0), ^uintptr(0), ^uintptr(0), ^uintptr(0), 8}
	if !slices.Equal(fds, want) {
		t.Errorf("Place(fds) = %v, want %v", fds, want)
	}
}
