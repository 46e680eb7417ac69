package reexec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The join tests run their joins in a child: the test binary itself,
// re-executed with joinHelperEnv set, whose main goroutine init locks to
// the main thread as berth's init stages do.
const (
	joinHelperEnv  = "BERTH_REEXEC_TEST_JOIN"
	joinProcsEnv   = "BERTH_REEXEC_TEST_PROCS"
	joinHierEnv    = "BERTH_REEXEC_TEST_HIERARCHY"
	pidsHierarchy  = "/sys/fs/cgroup/pids"
	helperExitFail = 3
)

func init() {
	if os.Getenv(joinHelperEnv) != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(joinHelperEnv); mode != "" {
		os.Exit(joinHelper(mode, os.Getenv(joinProcsEnv), os.Getenv(joinHierEnv)))
	}
	os.Exit(m.Run())
}

// joinHelper joins the cgroup whose cgroup.procs is procs the way mode
// says and prints, per thread, "tid leader|other cgroup" for the hierarchy
// of the controllers hier ("" is v2's); "refused" first when a thread
// other than the main one was refused the thread-only move.
func joinHelper(mode, procs, hier string) int {
	// A few threads besides the main one, parked in syscalls.
	started := make(chan struct{})
	for range 3 {
		go func() {
			runtime.LockOSThread()
			started <- struct{}{}
			select {}
		}()
	}
	for range 3 {
		<-started
	}
	var err error
	switch mode {
	case "thread":
		refused := make(chan error)
		go func() {
			runtime.LockOSThread() // not the main thread: main holds it
			refused <- JoinThread([]string{procs})
		}()
		if <-refused != nil {
			fmt.Println("refused")
		}
		err = JoinThread([]string{procs})
	case "process":
		// 0 errno: this binary has no cgo, so JoinProcess's own path runs.
		if _, _, e := syscall.AllThreadsSyscall(syscall.SYS_GETPID, 0, 0, 0); e != 0 {
			fmt.Println("no all-threads syscalls:", e)
			return helperExitFail
		}
		err = JoinProcess([]string{procs})
	}
	if err != nil {
		fmt.Println("join:", err)
		return helperExitFail
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		fmt.Println(err)
		return helperExitFail
	}
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/cgroup")
		if err != nil {
			fmt.Println(err)
			return helperExitFail
		}
		who := "other"
		if t.Name() == fmt.Sprint(os.Getpid()) {
			who = "leader"
		}
		fmt.Println(t.Name(), who, cgroupOf(string(b), hier))
	}
	return 0
}

// cgroupOf picks the cgroup of the hierarchy of controllers hier from
// /proc/PID/cgroup text.
func cgroupOf(cgroups, hier string) string {
	for _, l := range strings.Split(cgroups, "\n") {
		if parts := strings.SplitN(l, ":", 3); len(parts) == 3 && parts[1] == hier {
			return parts[2]
		}
	}
	return ""
}

// testCgroup makes a cgroup for the test in the hierarchy mounted at mnt,
// removed after it, or skips unless that is a mount of fs type magic.
func testCgroup(t *testing.T, mnt string, magic int64) string {
	t.Helper()
	// Not testutil.RequireRoot: testutil links cgo, and this test binary
	// must not, or JoinProcess's own path would never run here.
	if os.Geteuid() != 0 {
		t.Skip("needs root: moves a process between cgroups")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil || st.Type != magic {
		t.Skipf("no cgroup hierarchy of this version at %s", mnt)
	}
	dir := filepath.Join(mnt, fmt.Sprintf("berth-reexec-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove cgroup %s: %v", dir, err)
		}
	})
	return dir
}

// runJoin runs the helper and returns its lines.
func runJoin(t *testing.T, mode, dir, hier string) []string {
	t.Helper()
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), joinHelperEnv+"="+mode, joinProcsEnv+"="+filepath.Join(dir, "cgroup.procs"), joinHierEnv+"="+hier)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("join helper (%s): %v\n%s", mode, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestJoinThreadMovesTheMainThreadAlone(t *testing.T) {
	dir := testCgroup(t, pidsHierarchy, unix.CGROUP_SUPER_MAGIC)
	want := "/" + filepath.Base(dir)
	lines := runJoin(t, "thread", dir, "pids")
	if len(lines) == 0 || lines[0] != "refused" {
		t.Errorf("a thread other than the main one was not refused: %q", lines)
	} else {
		lines = lines[1:]
	}
	var leader, others, moved int
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("helper line %q", l)
		}
		switch {
		case f[1] == "leader":
			leader++
			if f[2] != want {
				t.Errorf("main thread in %s, want %s", f[2], want)
			}
		case f[2] == want:
			moved++
		default:
			others++
		}
	}
	if leader != 1 || moved != 0 || others == 0 {
		t.Errorf("threads: %d leader, %d others moved, %d stayed; want the leader alone moved: %q", leader, moved, others, lines)
	}
}

func TestJoinProcessMovesEveryThread(t *testing.T) {
	for _, tc := range []struct{ name, mnt, hier string }{
		{"v1 tasks", pidsHierarchy, "pids"},
		// A v2 cgroup has no tasks file: the pid goes to cgroup.procs.
		{"v2 procs", unifiedMount(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			magic := int64(unix.CGROUP_SUPER_MAGIC)
			if tc.hier == "" {
				magic = unix.CGROUP2_SUPER_MAGIC
			}
			dir := testCgroup(t, tc.mnt, magic)
			want := "/" + filepath.Base(dir)
			lines := runJoin(t, "process", dir, tc.hier)
			if len(lines) < 4 {
				t.Fatalf("helper listed %d threads, want the main one and 3 more: %q", len(lines), lines)
			}
			for _, l := range lines {
				if f := strings.Fields(l); len(f) != 3 || f[2] != want {
					t.Errorf("thread %q, want it in %s", l, want)
				}
			}
		})
	}
}

// unifiedMount is the cgroup2 mount: beside the v1 ones on a hybrid host.
func unifiedMount() string {
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err == nil {
		return "/sys/fs/cgroup/unified"
	}
	return "/sys/fs/cgroup"
}
