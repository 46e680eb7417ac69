package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

// TestExec runs `berth exec` against pods of one daemon: the command's
// exit code, its namespaces and cgroups, user and capabilities compared
// with the container's own process, a terminal, a shared pid namespace,
// and the errors for what cannot be entered.
func TestExec(t *testing.T) {
	d := startDaemon(t)
	d.apply("exec.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: solo
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    env: [{name: GREETING, value: hello-exec}]
---
apiVersion: v1
kind: Pod
metadata:
  name: unpriv
spec:
  securityContext: {supplementalGroups: [4242]}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
---
apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  shareProcessNamespace: true
  containers:
  - name: a
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
  - name: b
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	// A pod whose only container has finished: apply reports its Error.
	finished := filepath.Join(d.dir, "finished.yaml")
	if err := os.WriteFile(finished, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: finished
spec:
  restartPolicy: Never
  containers:
  - name: once
    image: berth.test/demo:latest
    command: ["/bin/demo", "exit", "3"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	d.berth("apply", "-f", finished, "--timeout", "60s")
	solo := d.pod("solo")
	soloPID := containerPID(t, solo, "app")

	t.Run("exit code", func(t *testing.T) {
		if code := d.execCode("solo", "--", "/bin/demo", "exit", "7"); code != 7 {
			t.Errorf("exit code %d, want 7", code)
		}
		if code := d.execCode("solo", "--", "/bin/demo", "exit", "0"); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	})

	t.Run("namespaces and cgroups of the container", func(t *testing.T) {
		out := d.mustBerth("exec", "solo", "--", "/bin/demo", "self")
		got := parseSelf(t, out)
		for _, ns := range []string{"ipc", "mnt", "net", "pid", "uts"} {
			if want := nsLink(t, soloPID, ns); got["ns "+ns] != want {
				t.Errorf("%s namespace: exec'd process in %q, container in %q", ns, got["ns "+ns], want)
			}
		}
		if got["ns mnt"] == nsLink(t, os.Getpid(), "mnt") {
			t.Errorf("exec'd process runs in the host's mount namespace")
		}
		want, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", soloPID))
		if err != nil {
			t.Fatal(err)
		}
		if g := got["cgroup"]; g != strings.TrimSpace(string(want)) {
			t.Errorf("cgroups of the exec'd process:\n%s\nof the container:\n%s", g, want)
		}
	})

	t.Run("environment", func(t *testing.T) {
		out := d.mustBerth("exec", "solo", "-c", "app", "--", "demo", "env")
		// "demo" is found through Docker's default PATH: the image sets none.
		for _, want := range []string{"GREETING=hello-exec", "HOME=/root"} {
			if !strings.Contains(out, want) {
				t.Errorf("env lacks %s:\n%s", want, out)
			}
		}
	})

	t.Run("user and capabilities of the container", func(t *testing.T) {
		for _, name := range []string{"solo", "unpriv"} {
			pid := containerPID(t, d.pod(name), "app")
			out := d.mustBerth("exec", name, "--", "/bin/demo", "id")
			want := idLines(t, pid)
			if got := strings.TrimSpace(out); got != want {
				t.Errorf("pod %s: exec'd process:\n%s\ncontainer:\n%s", name, got, want)
			}
		}
	})

	t.Run("terminal", func(t *testing.T) {
		out, code := d.execOnPTY(t, "", "-t", "solo", "--", "/bin/demo", "tty")
		if code != 0 || !strings.Contains(out, "tty: yes") {
			t.Fatalf("exit %d, output %q: want a terminal", code, out)
		}
		if !strings.Contains(out, "size: 33x101") {
			t.Errorf("output %q: want the caller's window size 33x101", out)
		}
		if out := d.mustBerth("exec", "solo", "--", "/bin/demo", "tty"); !strings.Contains(out, "tty: no") {
			t.Errorf("without -t: %q, want no terminal", out)
		}
	})

	t.Run("terminal with stdin", func(t *testing.T) {
		out, code := d.execOnPTY(t, "typed-line\n\x04", "-it", "solo", "--", "/bin/demo", "read", "/dev/stdin")
		// The line shows twice: the pty's echo and the command's print.
		if code != 0 || strings.Count(out, "typed-line") != 2 {
			t.Errorf("exit %d, output %q: want the typed line echoed and printed", code, out)
		}
	})

	t.Run("stdin without terminal", func(t *testing.T) {
		cmd := exec.Command(berthBin, d.args("exec", "-i", "solo", "--", "/bin/demo", "read", "/dev/stdin")...)
		cmd.Stdin = strings.NewReader("piped-input\n")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "piped-input" {
			t.Errorf("exec -i: %v, output %q", err, out)
		}
	})

	t.Run("shared pid namespace", func(t *testing.T) {
		p := d.pod("shared")
		infra := p.InfraPID()
		b := hostPIDOf(t, infra, containerPID(t, p, "b"))
		got := parseSelf(t, d.mustBerth("exec", "shared", "-c", "b", "--", "/bin/demo", "self"))
		for _, ns := range []string{"ipc", "mnt", "net", "pid", "uts"} {
			if want := nsLink(t, b, ns); got["ns "+ns] != want {
				t.Errorf("%s namespace: exec'd process in %q, container b in %q", ns, got["ns "+ns], want)
			}
		}
		// The pod's processes see each other: the infra as PID 1, both
		// containers and the exec'd ps itself.
		ps := d.mustBerth("exec", "shared", "-c", "a", "--", "/bin/demo", "ps")
		if lines := strings.Split(strings.TrimSpace(ps), "\n"); len(lines) < 4 || !strings.HasPrefix(lines[0], "1 ") {
			t.Errorf("ps in the shared pid namespace:\n%s", ps)
		}
	})

	t.Run("errors", func(t *testing.T) {
		testutil.WaitFor(t, 30*time.Second, "container once to finish", func() bool {
			cs := d.pod("finished").Status.ContainerStatuses
			return len(cs) == 1 && cs[0].State.Terminated != nil
		})
		for _, tc := range []struct {
			args []string
			code int
			msg  string
		}{
			{[]string{"nope", "--", "/bin/demo", "exit", "0"}, 1, "pod default/nope not found"},
			{[]string{"solo", "-c", "nope", "--", "/bin/demo", "exit", "0"}, 1, "container nope not found"},
			{[]string{"shared", "--", "/bin/demo", "exit", "0"}, 1, "has 2 containers (a, b)"},
			{[]string{"finished", "--", "/bin/demo", "exit", "0"}, 1, "is terminated"},
			{[]string{"solo", "--", "/bin/no-such-program"}, 127, "find program"},
			{[]string{"solo", "--", "no-such-program"}, 127, "executable file not found"},
			{[]string{"solo", "/bin/demo"}, 1, `missing "--"`},
		} {
			out, err := d.berth(append([]string{"exec"}, tc.args...)...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code || !strings.Contains(out, tc.msg) {
				t.Errorf("exec %v: %v, output %q; want exit %d and %q", tc.args, err, out, tc.code, tc.msg)
			}
		}
	})
}

// execCode runs berth exec and returns its exit code.
func (d *daemon) execCode(args ...string) int {
	d.t.Helper()
	cmd := exec.Command(berthBin, d.args(append([]string{"exec"}, args...)...)...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		d.t.Fatalf("berth exec %v: %v\n%s", args, err, out)
	}
	return 0
}

// execOnPTY runs berth exec with a new pseudo-terminal (33 rows, 101
// columns, raw so that typed bytes pass unchanged) as its stdio and
// controlling terminal, types input, and returns what the terminal showed
// and the exit code.
func (d *daemon) execOnPTY(t *testing.T, input string, args ...string) (string, int) {
	t.Helper()
	master, peer := openTestPTY(t)
	if err := unix.IoctlSetWinsize(int(peer.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(berthBin, d.args(append([]string{"exec"}, args...)...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = peer, peer, peer
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { defer close(done); io.Copy(&out, master) }()
	if input != "" {
		master.Write([]byte(input))
	}
	err := cmd.Wait()
	// The pty's buffered output is read at once; EIO ends the copy when
	// the last holder of the peer has gone.
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	<-done
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// openTestPTY allocates a raw pseudo-terminal pair, closed at the end of
// the test.
func openTestPTY(t *testing.T) (master, peer *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	master = os.NewFile(uintptr(m), "ptmx")
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	peer, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	tio, err := unix.IoctlGetTermios(int(peer.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN
	if err := unix.IoctlSetTermios(int(peer.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	return master, peer
}

// parseSelf reads `demo self`: "ns NAME LINK" lines by "ns NAME", and the
// cgroup lines joined under "cgroup".
func parseSelf(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	var cg []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		switch f := strings.Fields(line); {
		case len(f) == 3 && f[0] == "ns":
			m["ns "+f[1]] = f[2]
		case len(f) == 2 && f[0] == "cgroup":
			cg = append(cg, f[1])
		default:
			t.Fatalf("unexpected line %q in:\n%s", line, out)
		}
	}
	m["cgroup"] = strings.Join(cg, "\n")
	return m
}

// idLines renders the credential lines of /proc/PID/status as `demo id`
// prints them.
func idLines(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:"} {
			if strings.HasPrefix(line, k) {
				out = append(out, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return strings.Join(out, "\n")
}

// hostPIDOf finds the host PID of the child of infra whose PID in the
// pod's pid namespace is podPID.
func hostPIDOf(t *testing.T, infra, podPID int) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue
		}
		var ppid string
		var nspid []string
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok {
				ppid = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
				nspid = strings.Fields(v)
			}
		}
		if ppid == strconv.Itoa(infra) && len(nspid) == 2 && nspid[1] == strconv.Itoa(podPID) {
			pid, _ := strconv.Atoi(nspid[0])
			return pid
		}
	}
	t.Fatalf("no child of infra %d has pod pid %d", infra, podPID)
	return 0
}

// TestExecEnvIsTheContainers: `berth exec` gets the environment the
// container was started with, as kubectl exec does, not one recomputed
// from a ConfigMap that changed since.
func TestExecEnvIsTheContainers(t *testing.T) {
	d := startDaemon(t)
	d.apply("cm.yaml", greetingConfigMap("greetings", "before"))
	d.apply("env.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: envpod
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: greetings, key: greeting}}
`)
	uid := d.pod("envpod").Metadata.UID
	if out := d.mustBerth("exec", "envpod", "--", "/bin/demo", "env"); !strings.Contains(out, "GREETING=before\n") {
		t.Fatalf("env before the change:\n%s", out)
	}
	d.apply("cm.yaml", greetingConfigMap("greetings", "after"))
	if p := d.pod("envpod"); p.Metadata.UID != uid {
		t.Fatalf("the pod was re-created (uid %s -> %s): a ConfigMap change must not restart it", uid, p.Metadata.UID)
	}
	if out := d.mustBerth("exec", "envpod", "--", "/bin/demo", "env"); !strings.Contains(out, "GREETING=before\n") {
		t.Errorf("exec after the ConfigMap changed, want the container's own GREETING=before:\n%s", out)
	}
}
