package infra

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

// Reap returns once its child exited, has reaped it, and holds no pidfd
// while it waits.
func TestReapHoldsNoFdAndReaps(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// cat fails at once without a valid stdout.
	cat, err := os.StartProcess("/bin/cat", []string{"cat"}, &os.ProcAttr{Files: []*os.File{r, null, null}})
	if err != nil {
		t.Skipf("no /bin/cat to run as a child: %v", err)
	}
	t.Cleanup(func() { cat.Kill(); cat.Wait() })
	pid := cat.Pid
	held := func() bool { return pidfdsOf(t, pid) > 0 }
	if !held() {
		t.Skip("this Go or kernel holds no pidfd for a child: nothing to release")
	}
	done := make(chan struct{})
	go func() {
		(&Launching{Proc: cat}).Reap()
		close(done)
	}()
	testutil.WaitFor(t, 5*time.Second, "pidfd of the waiting child closed", func() bool { return !held() })
	select {
	case <-done:
		t.Fatal("Reap returned while its child still runs")
	default:
	}
	w.Close() // cat exits on EOF
	testutil.WaitFor(t, 5*time.Second, "Reap to return", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); !errors.Is(err, unix.ECHILD) {
		t.Fatalf("wait4(%d) after Reap: %v, want ECHILD (already reaped)", pid, err)
	}
}

// pidfdsOf counts this process's pidfds that refer to pid.
func pidfdsOf(t *testing.T, pid int) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || link != "anon_inode:[pidfd]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err == nil && slices.Contains(strings.Split(string(info), "\n"), fmt.Sprintf("Pid:\t%d", pid)) {
			n++
		}
	}
	return n
}
