package e2e

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// smallDisk mounts a tmpfs of size (mount(8)'s size=) on a temp dir, which
// t.Cleanup unmounts (after the daemon's cleanup, registered later, ran).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Fatalf("mount a %s tmpfs: %v", size, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fill writes a file in dir until its file system is full and returns the
// file, whose removal frees the space again.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{'x'}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// What is left below one chunk.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			return p
		}
	}
}

// podEvent returns the pod's event of reason, if it has one.
func podEvent(d *daemon, pod, reason string) (api.Event, bool) {
	evs, _ := api.NewClient(d.sock).Events(context.Background(), time.Time{}, api.PodObject("default", pod))
	for _, e := range evs {
		if e.Reason == reason {
			return e, true
		}
	}
	return api.Event{}, false
}

var tickLine = regexp.MustCompile(`^tick (\d+)$`)

// lastTick checks that the logs of pod are "tick N" lines with N rising
// (lines lost to a full disk leave a gap, never a torn line) and returns
// the last N.
func lastTick(t *testing.T, d *daemon, pod string) int {
	t.Helper()
	out := d.mustBerth("logs", pod)
	last := 0
	if out == "" {
		return 0
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := tickLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("logs of %s: line %q is no tick", pod, l)
		}
		n, _ := strconv.Atoi(m[1])
		if n <= last {
			t.Fatalf("logs of %s: tick %d after %d", pod, n, last)
		}
		last = n
	}
	return last
}

// TestFullLogDisk: with the log directory's disk full the container runs
// on (its output is drained and dropped, never blocking it), a
// LogWriteFailed event says so, and once space returns the log goes on
// (LogWriteResumed, with how many lines were dropped).
func TestFullLogDisk(t *testing.T) {
	testutil.RequireRoot(t)
	logs := smallDisk(t, "1m")
	d := startDaemon(t, func(d *daemon) { d.logs = logs })
	d.apply("chatty.yaml", podYAML("chatty", "Always", `["/bin/demo", "tick", "10ms"]`))
	pid := containerPID(t, d.pod("chatty"), "main")
	testutil.WaitFor(t, 10*time.Second, "ticks in the log", func() bool { return lastTick(t, d, "chatty") >= 5 })

	filler := fill(t, logs)
	testutil.WaitFor(t, 60*time.Second, "a LogWriteFailed event", func() bool {
		_, ok := podEvent(d, "chatty", "LogWriteFailed")
		return ok
	})
	before := lastTick(t, d, "chatty")
	if e, _ := podEvent(d, "chatty", "LogWriteFailed"); e.Type != "Warning" || !strings.Contains(e.Message, "no space left") || e.Container != "main" {
		t.Errorf("LogWriteFailed event: %+v", e)
	}
	p := d.pod("chatty")
	if got := containerPID(t, p, "main"); got != pid || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("the container did not run on with its log disk full: %s", toJSON(p.Status))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "a LogWriteResumed event", func() bool {
		_, ok := podEvent(d, "chatty", "LogWriteResumed")
		return ok
	})
	// The container kept ticking while its lines were dropped: the log
	// goes on well past where it stopped.
	testutil.WaitFor(t, 30*time.Second, "the log to go on", func() bool { return lastTick(t, d, "chatty") > before+100 })
	if got := containerPID(t, d.pod("chatty"), "main"); got != pid {
		t.Errorf("the container was restarted: pid %d, was %d", got, pid)
	}
}

// TestFullStateDisk: with the state directory's disk full a new pod fails
// to be created with the reason in its status, running pods are untouched,
// nothing half-written is left (a daemon restarted then adopts what runs),
// and the pod is created once space returns.
func TestFullStateDisk(t *testing.T) {
	testutil.RequireRoot(t)
	state := smallDisk(t, "48m")
	d := startDaemon(t, func(d *daemon) { d.state = state })
	d.apply("steady.yaml", podYAML("steady", "Always", `["/bin/demo", "sleep"]`))
	pid := containerPID(t, d.pod("steady"), "main")

	filler := fill(t, state)
	writeManifest(t, d, "blocked.yaml", podYAML("blocked", "Always", `["/bin/demo", "sleep"]`))
	api.NewClient(d.sock).Reconcile(context.Background())
	testutil.WaitFor(t, 30*time.Second, "the create to fail for the full disk", func() bool {
		return strings.Contains(toJSON(d.pod("blocked")), "no space left on device")
	})
	if p := d.pod("blocked"); p.Status.Phase != "Pending" {
		t.Errorf("blocked pod's status: %s", toJSON(p.Status))
	}
	if got := containerPID(t, d.pod("steady"), "main"); got != pid {
		t.Errorf("the running pod changed: container %d, was %d", got, pid)
	}
	var partial []string
	filepath.WalkDir(state, func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.Contains(e.Name(), ".tmp-") {
			partial = append(partial, p)
		}
		return nil
	})
	if len(partial) > 0 {
		t.Errorf("half-written files left in the state dir: %v", partial)
	}
	pods, _ := os.ReadDir(filepath.Join(state, "pods"))
	if len(pods) != 1 {
		t.Errorf("pod state dirs with the disk full: %d, want only the running pod's", len(pods))
	}

	// A daemon that starts now reads only whole files.
	d.stop(syscall.SIGKILL)
	d.start()
	if got := containerPID(t, d.pod("steady"), "main"); got != pid {
		t.Errorf("after a restart on the full disk: container %d, was %d\n%s", got, pid, d.logBuf.String())
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	api.NewClient(d.sock).Reconcile(context.Background())
	testutil.WaitFor(t, 60*time.Second, "the blocked pod to run once space returned", func() bool {
		return d.pod("blocked").Status.Phase == "Running"
	})
}
