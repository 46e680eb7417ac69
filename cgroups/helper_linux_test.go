package cgroups

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary re-executes itself as a workload: helperEnv names what it
// does, procsEnv lists the v1 cgroup.procs files it joins first (as a
// container init does before exec), pathEnv is the device node the open and
// mknod modes use.
const (
	helperEnv = "BERTH_CGROUPS_TEST_HELPER"
	procsEnv  = "BERTH_CGROUPS_TEST_PROCS"
	pathEnv   = "BERTH_CGROUPS_TEST_PATH"
)

// Exit codes of the open and mknod modes besides 0 (success).
const (
	exitEPERM = 10
	exitOther = 11
)

// errnoExit maps the result of the open and mknod modes to an exit code.
func errnoExit(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, unix.EPERM):
		return exitEPERM
	}
	fmt.Fprintln(os.Stderr, err)
	return exitOther
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is the workload. Every mode ends by itself, so a test that
// fails to kill it leaks nothing for long.
func runHelper(mode string) int {
	if procs := os.Getenv(procsEnv); procs != "" {
		p := Placement{Procs: strings.Split(procs, string(os.PathListSeparator))}
		if err := p.AddProcess(os.Getpid()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	fmt.Println("ready")
	switch mode {
	case "sleep":
		time.Sleep(time.Minute)
	case "alloc":
		// Touch every page of 256 MiB so the memory is really charged.
		buf := make([]byte, 256<<20)
		for i := 0; i < len(buf); i += os.Getpagesize() {
			buf[i] = 1
		}
	case "spin":
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		}
	case "open":
		fd, err := unix.Open(os.Getenv(pathEnv), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return errnoExit(err)
	case "mknod":
		return errnoExit(unix.Mknod(os.Getenv(pathEnv), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0))))
	default:
		return 3
	}
	return 0
}

// child is a helper process started by a test.
type child struct {
	pid  int
	done chan error // receives Wait's result once
	err  error
	exit bool
}

// wait returns Wait's result, failing the test after timeout.
func (c *child) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	if c.exit {
		return c.err
	}
	select {
	case c.err = <-c.done:
		c.exit = true
		return c.err
	case <-time.After(timeout):
		t.Fatalf("process %d still running after %s", c.pid, timeout)
		return nil
	}
}

// startHelper starts the test binary in mode inside p (an empty Placement:
// wherever the test runs) and returns once the helper is in its cgroup.
func startHelper(t *testing.T, mode string, p Placement) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	if len(p.Procs) > 0 {
		cmd.Env = append(cmd.Env, procsEnv+"="+strings.Join(p.Procs, string(os.PathListSeparator)))
	}
	if p.Dir != "" {
		f, err := p.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper %s: %v", mode, err)
	}
	c := &child{pid: cmd.Process.Pid, done: make(chan error, 1)}
	t.Cleanup(func() {
		if !c.exit {
			_ = cmd.Process.Kill() // only our own child, by its PID
			_ = c.wait(t, 10*time.Second)
		}
	})
	// A helper that never gets ready (a slow emulated VM, a CPU limit) fails
	// the test after a minute instead of holding the whole run: the kill
	// above ends the read.
	ready := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	line, readErr := bufio.NewReader(out).ReadString('\n')
	ready.Stop()
	go func() {
		_, _ = io.Copy(io.Discard, out)
		c.done <- cmd.Wait()
	}()
	if readErr != nil || line != "ready\n" {
		t.Fatalf("helper %s did not get ready: %q, %v (exit: %v)", mode, line, readErr, c.wait(t, 10*time.Second))
	}
	return c
}

// killedBySIGKILL reports whether Wait's error says the process died of SIGKILL.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// newTestManager returns a Manager on root under a parent unique to the
// test, and removes everything under that parent when the test ends.
func newTestManager(t *testing.T, root string) *Manager {
	t.Helper()
	return newTestManagerIn(t, root, "")
}

// newTestManagerIn is newTestManager with the parent cgroup "berth-test-<rand>"
// followed by sub; prepare runs first with the v2 path of the top directory
// (on V2 roots only), to shape the hierarchy above the parent.
func newTestManagerIn(t *testing.T, root, sub string, prepare ...func(top string)) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	top := "berth-test-" + hex.EncodeToString(b)
	for _, f := range prepare {
		t.Cleanup(func() {
			if err := (&Manager{log: slog.Default()}).removeTree(filepath.Join(root, top)); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		f(filepath.Join(root, top))
	}
	m, err := New(Options{Root: root, Parent: filepath.Join(top, sub),
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("New(%s): %v", root, err)
	}
	t.Cleanup(func() {
		pods, err := m.Pods()
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, p := range pods {
			if err := m.Kill(p); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		for _, k := range m.l.keys() {
			if err := m.removeTree(filepath.Join(m.l.hierarchies[k], top)); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return m
}

// testWriter sends log output to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// roots returns the cgroup mounts to test on: the host's, and on a hybrid
// host also its cgroup2 mount, treated as a v2 host without controllers.
// The last one is always a v2 mount when the host has one.
func roots(t *testing.T) []string {
	t.Helper()
	mode, err := Detect(DefaultRoot)
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	r := []string{DefaultRoot}
	if mode == Hybrid {
		r = append(r, filepath.Join(DefaultRoot, "unified"))
	}
	return r
}

// waitFor polls cond with back-off until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(delay)
	}
}

// readFile returns the trimmed content of a cgroup file.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// ctrlFile returns the path of file in the cgroup at rel for controller c.
func ctrlFile(m *Manager, c, file string, rel ...string) string {
	k := c
	if m.mode == V2 {
		k = ""
	}
	return filepath.Join(append([]string{m.l.hierarchies[k], m.l.parent}, append(rel, file)...)...)
}

// assertIn checks through /proc that pid sits in the cgroup at rel in every
// hierarchy of m.
func assertIn(t *testing.T, m *Manager, pid int, rel ...string) {
	t.Helper()
	data := readFile(t, "/proc/"+strconv.Itoa(pid)+"/cgroup")
	for _, k := range m.l.keys() {
		if !inCgroup(data, k, m.l.cgroupPath(rel...)) {
			t.Errorf("process %d not in %s (hierarchy %q):\n%s", pid, m.l.cgroupPath(rel...), k, data)
		}
	}
}
