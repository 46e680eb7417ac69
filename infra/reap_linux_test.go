package infra

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// The reaper reaps each of its children that exits, among many, while
// os/exec's children exit around them and their Waits still get their
// exit statuses (the reaper never takes another's), and past a zombie
// nobody waits for.
func TestReapManyAmongOtherChildren(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skipf("no /bin/sh to run children: %v", err)
	}
	const n = 60
	// pid is kept apart: Reap releases the process, which sets its Pid
	// to -1, and kill(-1) signals every process there is.
	type child struct {
		pid  int
		done chan struct{}
	}
	// A child nobody waits for stays a zombie; started first, it is the
	// first exited child the kernel shows, ahead of every other.
	stray, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "exit 0"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stray.Wait() })
	testutil.WaitFor(t, 5*time.Second, "the stray child to exit", func() bool {
		st, err := procState(stray.Pid)
		return err == nil && st == "Z"
	})

	var kids []child
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "read x"}, &os.ProcAttr{Files: []*os.File{r, nil, nil}})
		r.Close()
		if err != nil {
			w.Close()
			t.Fatal(err)
		}
		if p.Pid <= 0 {
			t.Fatalf("child pid %d", p.Pid)
		}
		c := child{pid: p.Pid, done: make(chan struct{})}
		// The child exits on EOF, and the reaper reaps it: never a
		// kill by a pid that may have been reaped and reused.
		t.Cleanup(func() {
			w.Close()
			<-c.done
		})
		go func() {
			(&Launching{Proc: p}).Reap()
			close(c.done)
		}()
		kids = append(kids, c)
	}
	reaped := func(c child) bool {
		select {
		case <-c.done:
			return true
		default:
			return false
		}
	}

	// os/exec's children exit with their own statuses while every other
	// reaped child is killed.
	type status struct {
		code int
		err  error
	}
	statuses := make(chan status, n)
	for i := range n {
		go func() {
			statuses <- status{1 + i, exec.Command("/bin/sh", "-c", fmt.Sprintf("exit %d", 1+i)).Run()}
		}()
		if i%2 == 0 {
			if err := unix.Kill(kids[i].pid, unix.SIGKILL); err != nil {
				t.Fatalf("kill child %d: %v", kids[i].pid, err)
			}
		}
	}
	for range n {
		var ee *exec.ExitError
		if st := <-statuses; !errors.As(st.err, &ee) || ee.ExitCode() != st.code {
			t.Errorf("os/exec child: %v, want its own exit status %d", st.err, st.code)
		}
	}
	for i, c := range kids {
		if i%2 == 0 {
			testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("killed child %d reaped", c.pid), func() bool { return reaped(c) })
			var ws unix.WaitStatus
			if _, err := unix.Wait4(c.pid, &ws, unix.WNOHANG, nil); !errors.Is(err, unix.ECHILD) {
				t.Errorf("wait4(%d) after Reap: %v, want ECHILD", c.pid, err)
			}
		} else if reaped(c) {
			t.Errorf("child %d: Reap returned while it runs", c.pid)
		}
	}
	if st, err := procState(stray.Pid); err != nil || st != "Z" {
		t.Errorf("the stray child: state %q (%v), want still a zombie: the reaper took it", st, err)
	}
}

// procState is the state letter of pid in /proc/pid/stat.
func procState(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return "", fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return s[i+2 : i+3], nil
}
