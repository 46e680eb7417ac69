package reexec

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testutil"
)

// ownV1Cgroup is the calling process's cgroup in the v1 hierarchy of
// controller, or "" when the host has none.
func ownV1Cgroup(t *testing.T, controller string) string {
	t.Helper()
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && parts[1] == controller {
			return parts[2]
		}
	}
	return ""
}

// TestForkInCgroupsBornInPlace forks a child on a thread moved into a
// fresh v1 pids cgroup: the child is in it from the start, and no thread
// of the test process is left there.
func TestForkInCgroupsBornInPlace(t *testing.T) {
	testutil.RequireRoot(t)
	mount := "/sys/fs/cgroup/pids"
	own := ownV1Cgroup(t, "pids")
	if own == "" {
		t.Skip("no v1 pids hierarchy on this host")
	}
	dir := filepath.Join(mount, fmt.Sprintf("berth-forkin-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	home := filepath.Join(mount, own, "cgroup.procs")

	var child *os.Process
	err := ForkInCgroups([]string{filepath.Join(dir, "cgroup.procs")}, []string{home}, func() error {
		var err error
		child, err = os.StartProcess("/bin/sleep", []string{"sleep", "30"}, &os.ProcAttr{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Kill(); child.Wait() })
	tasks, err := os.ReadFile(filepath.Join(dir, "tasks"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(string(tasks)), []string{fmt.Sprint(child.Pid)}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the cgroup holds tasks %v, want only the child %v", got, want)
	}
}

// TestForkInCgroupsNeedsAHome refuses a fork whose thread would not know
// where to return.
func TestForkInCgroupsNeedsAHome(t *testing.T) {
	called := false
	err := ForkInCgroups([]string{"/sys/fs/cgroup/pids/x/cgroup.procs"}, nil, func() error { called = true; return nil })
	if err == nil || called {
		t.Fatalf("ForkInCgroups without home: %v, fork called %v", err, called)
	}
}
