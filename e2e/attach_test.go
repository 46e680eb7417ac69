package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

// TestAttach runs `berth attach` against pods of one daemon: a shell-like
// container on a terminal typed into through a pseudo-terminal (echo,
// answer, window size, its output in the log), input piped to a container
// without a terminal whose stdinOnce closes its stdin (EOF) when the
// session ends and opens it anew on a restart, output alone with Ctrl-C to
// detach, callers who leave input a container never reads (their sessions
// free up), and the refusals for what a container's spec does not allow.
func TestAttach(t *testing.T) {
	d := startDaemon(t)
	d.apply("attach.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: term
spec:
  restartPolicy: Never
  containers:
  - name: shell
    image: berth.test/demo:latest
    command: ["/bin/demo", "shell"]
    stdin: true
    stdinOnce: true
    tty: true
---
apiVersion: v1
kind: Pod
metadata:
  name: piped
spec:
  restartPolicy: Always
  containers:
  - name: shell
    image: berth.test/demo:latest
    command: ["/bin/demo", "shell"]
    stdin: true
    stdinOnce: true
---
apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "tick", "50ms"]
---
apiVersion: v1
kind: Pod
metadata:
  name: deaf
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "tick", "50ms"]
    stdin: true
---
apiVersion: v1
kind: Pod
metadata:
  name: nostdin
spec:
  restartPolicy: Never
  containers:
  - name: shell
    image: berth.test/demo:latest
    command: ["/bin/demo", "shell"]
`)

	t.Run("terminal", func(t *testing.T) {
		master, peer := openTestPTY(t)
		if err := unix.IoctlSetWinsize(int(peer.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101}); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(berthBin, d.args("attach", "-it", "term")...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = peer, peer, peer
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		peer.Close()
		out := &syncBuffer{}
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := master.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					return
				}
			}
		}()
		waitOutput := func(what string) {
			t.Helper()
			testutil.WaitFor(t, 20*time.Second, what, func() bool { return strings.Contains(out.String(), what) })
		}
		waitOutput("If you don't see a command prompt, try pressing enter.")
		// The session is open: the caller's window size went first, then
		// what is typed.
		master.Write([]byte("tty\r"))
		waitOutput("size: 33x101")
		// The terminal is the container's own: its name is a node of the
		// container's /dev/pts.
		m := regexp.MustCompile(`tty: yes (\S+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("the container's stdin is no terminal:\n%s", out)
		}
		t.Logf("the container's terminal: %s", m[1])
		if o, err := d.berth("exec", "term", "--", "/bin/demo", "open", m[1]); err != nil {
			t.Errorf("the container's terminal %s is not in its /dev/pts: %v\n%s", m[1], err, o)
		}
		master.Write([]byte("hello attach\r"))
		// The terminal's echo, then the shell's answer.
		waitOutput("hello attach\r\n")
		waitOutput("you said: hello attach")

		// A new size of the caller's terminal (SIGWINCH to berth attach)
		// reaches the container's.
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
			t.Fatal(err)
		}
		// The signal races with what is typed: ask again until it shows.
		testutil.WaitFor(t, 20*time.Second, "the new window size in the container", func() bool {
			if strings.Contains(out.String(), "size: 40x120") {
				return true
			}
			master.Write([]byte("tty\r"))
			return false
		})

		// The shell exits; its run ends, and so does the session.
		master.Write([]byte("exit\r"))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("berth attach: %v\n%s", err, out)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("berth attach still runs after the container exited:\n%s", out)
		}
		waitOutput("Session ended, resume using 'berth attach term -i -t'")

		testutil.WaitFor(t, 30*time.Second, "container shell to finish", func() bool {
			cs := d.pod("term").Status.ContainerStatuses
			return len(cs) == 1 && cs[0].State.Terminated != nil
		})
		// The terminal's output is the log's stdout.
		logs := d.mustBerth("logs", "term")
		for _, want := range []string{"you said: hello attach", "size: 40x120"} {
			if !strings.Contains(logs, want) {
				t.Errorf("berth logs lacks %q:\n%s", want, logs)
			}
		}
		if raw := readRunLog(t, d, "term", "shell"); !strings.Contains(raw, " stdout ") || strings.Contains(raw, " stderr ") {
			t.Errorf("a terminal's output is logged as stdout only:\n%s", raw)
		}
	})

	t.Run("stdin without terminal", func(t *testing.T) {
		attachInput := func(input string) string {
			t.Helper()
			cmd := exec.Command(berthBin, d.args("attach", "-i", "piped")...)
			cmd.Stdin = strings.NewReader(input)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("attach -i: %v\n%s\ndaemon log:\n%s", err, out, d.logBuf.String())
			}
			return string(out)
		}
		// Without an attacher the container's read blocks: it still runs.
		if cs := d.pod("piped").Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Running == nil {
			t.Fatalf("container of pod piped: %+v, want running", cs)
		}
		// The input arrives, then stdinOnce closes the stdin when the
		// session's input ends: the container sees EOF and exits, which
		// ends the session.
		out := attachInput("hello\nworld\n")
		for _, want := range []string{"you said: hello", "you said: world", "stdin: EOF"} {
			if !strings.Contains(out, want) {
				t.Errorf("attach -i output lacks %q:\n%s", want, out)
			}
		}
		// The restart opens the stdin anew.
		testutil.WaitFor(t, 30*time.Second, "container shell to run again", func() bool {
			cs := d.pod("piped").Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount >= 1 && cs[0].State.Running != nil
		})
		if out := attachInput("again\n"); !strings.Contains(out, "you said: again") || !strings.Contains(out, "stdin: EOF") {
			t.Errorf("attach -i after the restart:\n%s", out)
		}
		// Without stdin: true the stdin is /dev/null: EOF at once.
		testutil.WaitFor(t, 30*time.Second, "container of nostdin to finish", func() bool {
			cs := d.pod("nostdin").Status.ContainerStatuses
			return len(cs) == 1 && cs[0].State.Terminated != nil
		})
		if logs := d.mustBerth("logs", "nostdin"); !strings.Contains(logs, "stdin: EOF") {
			t.Errorf("a container without stdin: true reads more than /dev/null:\n%s", logs)
		}
	})

	t.Run("output and detach", func(t *testing.T) {
		cmd := exec.Command(berthBin, d.args("attach", "ticker")...)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 20*time.Second, "ticks through attach", func() bool { return strings.Count(out.String(), "tick ") >= 2 })
		cmd.Process.Signal(unix.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("berth attach after Ctrl-C: %v\n%s", err, out)
		}
		if cs := d.pod("ticker").Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Running == nil || cs[0].RestartCount != 0 {
			t.Errorf("the container after a detach: %+v, want it still running", cs)
		}
	})

	// More callers than a run takes sessions pipe input to a container
	// that never reads its stdin, and leave (killed) while it is backed
	// up: each leaving frees its session, so the next attach gets in.
	t.Run("callers leaving unread input", func(t *testing.T) {
		input := strings.Repeat("x", 4<<20)
		attachAndLeave := func() bool {
			cmd := exec.Command(berthBin, d.args("attach", "-i", "deaf")...)
			out := &syncBuffer{}
			cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(input), out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			in := false
			testutil.WaitFor(t, 20*time.Second, "ticks through attach -i, or its refusal", func() bool {
				select {
				case <-exited:
					return true
				default:
				}
				in = strings.Count(out.String(), "tick ") >= 2
				return in
			})
			cmd.Process.Kill()
			<-exited
			if !in {
				t.Logf("attach -i deaf: %s", out)
			}
			return in
		}
		for i := range 17 {
			testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("attach %d to get in", i+1), attachAndLeave)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			msg  string
		}{
			{[]string{"-i", "ticker"}, "container app takes no input (its spec has no stdin: true); attach without -i"},
			{[]string{"-t", "ticker"}, "unable to use a TTY: container app did not allocate one"},
			{[]string{"-it", "piped", "-c", "nope"}, "container nope not found"},
			{[]string{"nope"}, "pod default/nope not found"},
			{[]string{"nostdin"}, "is terminated"},
		} {
			out, err := d.berth(append([]string{"attach"}, tc.args...)...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !strings.Contains(out, tc.msg) {
				t.Errorf("attach %v: %v, output %q; want a failure with %q", tc.args, err, out, tc.msg)
			}
		}
	})
}

// readRunLog returns the CRI records of the first run of container ctr of
// pod name, as the infra wrote them.
func readRunLog(t *testing.T, d *daemon, name, ctr string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(d.logs, "default_"+name+"_*", ctr, "0.log"))
	if err != nil || len(files) != 1 {
		t.Fatalf("log of %s/%s: %v, %v", name, ctr, files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
