package infra

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/crilog"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/kube"
)

// Sub-commands of the re-executed test binary.
const (
	// execInfra is the infra with plain fork/exec containers (no rootfs),
	// so the infra is tested on its own.
	execInfra = "infra-exec"
	workload  = "workload"
	// launcher plays a daemon that launches an infra and exits.
	launcher = "launch-daemon"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case execInfra:
			os.Exit(run(os.Args[2:], execStart))
		case workload:
			os.Exit(runWorkload(os.Args[2:]))
		case launcher:
			os.Exit(runLauncher(os.Args[2:]))
		case Subcommand:
			Main(os.Args[2:])
		case container.InitSubcommand:
			container.Main(os.Args[2:])
		}
	}
	os.Exit(testutil.RunTests(m))
}

// execStart runs cfg.Args directly in the infra's namespaces; the child
// dies with the infra (Pdeathsig), so no test leaves it behind.
func execStart(cfg container.Config, opt container.StartOptions) (int, error) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	return syscall.ForkExec(cfg.Args[0], cfg.Args, &syscall.ProcAttr{
		Env:   cfg.Env,
		Files: []uintptr{null.Fd(), opt.Stdout.Fd(), opt.Stderr.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	})
}

// runWorkload is the containers' program: each arg is a step.
//
//	hostname       print "hostname=<h>" to stdout
//	err:TEXT       print TEXT to stderr
//	long:N         print a line of N 'x' to stdout
//	exit:N         exit with N
//	wait-term      block until SIGTERM, then exit 0
//	ignore-term    ignore SIGTERM and block forever
func runWorkload(steps []string) int {
	for _, step := range steps {
		name, arg, _ := strings.Cut(step, ":")
		switch name {
		case "hostname":
			h, _ := os.Hostname()
			fmt.Printf("hostname=%s\n", h)
		case "err":
			fmt.Fprintln(os.Stderr, arg)
		case "long":
			n, _ := strconv.Atoi(arg)
			fmt.Println(strings.Repeat("x", n))
		case "exit":
			n, _ := strconv.Atoi(arg)
			return n
		case "wait-term":
			ch := make(chan os.Signal, 1)
			signal.Notify(ch, syscall.SIGTERM)
			fmt.Println("waiting")
			<-ch
			fmt.Println("got SIGTERM")
			return 0
		case "ignore-term":
			signal.Ignore(syscall.SIGTERM)
			fmt.Println("ignoring")
			for {
				time.Sleep(time.Hour)
			}
		}
	}
	return 0
}

// runLauncher launches the infra described by the JSON config in args[0]
// and exits without waiting, like a daemon that restarts.
func runLauncher(args []string) int {
	var cfg PodConfig
	if err := jsonUnmarshal(args[0], &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	exe, _ := os.Executable()
	// No Stderr: the infra must not hold the test's output pipe open.
	proc, err := launchWait(cfg, LaunchOptions{Exe: exe}, execInfra)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(proc.Pid)
	return 0
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func randSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(delay)
	}
}

// testPod is a pod config in temp dirs whose containers run the workload.
func testPod(t *testing.T, policy string, ctrs ...[]string) PodConfig {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := PodConfig{
		Key: "test/pod-" + randSuffix(t), UID: randSuffix(t), Hostname: "pod-" + randSuffix(t),
		Socket: filepath.Join(dir, "run", "infra.sock"), LogDir: filepath.Join(dir, "logs"),
		RestartPolicy: policy,
		Backoff:       BackoffConfig{Initial: 100 * time.Millisecond, Max: time.Second, ResetAfter: time.Minute},
		GracePeriod:   time.Second,
	}
	if err := os.Mkdir(cfg.LogDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Dir(cfg.Socket), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, steps := range ctrs {
		cfg.Containers = append(cfg.Containers, ContainerConfig{
			Name: steps[0],
			Init: container.Config{ID: cfg.Key + "/" + steps[0], Args: append([]string{exe, workload}, steps[1:]...)},
		})
	}
	return cfg
}

// launchPod starts an infra for cfg and registers its clean-up: a
// Shutdown, or SIGKILL of the infra (its containers die with it).
func launchPod(t *testing.T, cfg PodConfig) (*os.Process, *Client) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The infra's own log, shown only when the test fails.
	t.Cleanup(func() {
		if data, _ := os.ReadFile(filepath.Join(cfg.LogDir, InfraLogName)); t.Failed() {
			t.Logf("infra log:\n%s", data)
		}
	})
	proc, err := launchWait(cfg, LaunchOptions{Exe: exe}, execInfra)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	exited := make(chan struct{})
	go func() { proc.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		proc.Kill()
		<-exited
	})
	c := NewClient(cfg.Socket)
	if _, err := c.Status(ctx(t)); err != nil {
		t.Fatalf("dial: %v", err)
	}
	return proc, c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func status(t *testing.T, c *Client) PodStatus {
	t.Helper()
	st, err := c.Status(ctx(t))
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

func nsLink(t *testing.T, pid, ns string) string {
	l, err := os.Readlink(filepath.Join("/proc", pid, "ns", ns))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var criLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [FP] `)

func readLog(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if !criLine.MatchString(sc.Text()) {
			t.Fatalf("%s: not a CRI log line: %.100q", path, sc.Text())
		}
		lines = append(lines, sc.Text()[31:])
	}
	return lines
}

func TestInfraPodLifecycle(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartOnFailure,
		[]string{"app", "hostname", "err:to stderr", "long:20000", "wait-term"},
		[]string{"crasher", "err:crashing", "exit:1"},
	)
	proc, c := launchPod(t, cfg)
	pid := strconv.Itoa(proc.Pid)

	for _, ns := range []string{"net", "ipc", "uts"} {
		if nsLink(t, pid, ns) == nsLink(t, "self", ns) {
			t.Errorf("infra shares the test's %s namespace", ns)
		}
	}
	if nsLink(t, pid, "pid") != nsLink(t, "self", "pid") {
		t.Error("infra has its own pid namespace without SharePID")
	}
	fi, err := os.Stat(cfg.Socket)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket %v mode %v", err, fi.Mode())
	}
	st := status(t, c)
	if st.Started || st.PID != proc.Pid || st.StartTime == 0 {
		t.Fatalf("before Start: %+v", st)
	}
	// ps and a shared pid namespace show the thread group leader's name.
	if comm, err := os.ReadFile("/proc/" + pid + "/comm"); err != nil || string(comm) != ProcessName+"\n" {
		t.Errorf("infra's comm %q (%v), want %s", comm, err, ProcessName)
	}

	if _, err := c.Start(ctx(t), nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "crasher restarted", func() bool {
		cs := status(t, c).Containers[1]
		return cs.RestartCount >= 1 && cs.LastState.Terminated != nil
	})
	st = status(t, c)
	app, crasher := st.Containers[0], st.Containers[1]
	if app.State.Running == nil || app.PID == 0 || app.RestartCount != 0 {
		t.Fatalf("app: %+v", app)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", app.PID)); err != nil {
		t.Fatalf("app pid %d: %v", app.PID, err)
	}
	if term := crasher.LastState.Terminated; term.ExitCode != 1 || term.Reason != kube.ReasonError {
		t.Fatalf("crasher last state: %+v", term)
	}
	if !st.Started || st.StartedAt.IsZero() {
		t.Fatalf("Start not recorded: %+v", st)
	}

	appLog := filepath.Join(cfg.LogDir, "app", "0.log")
	waitFor(t, "app log complete", func() bool { return len(readLog(t, appLog)) == 5 })
	got := readLog(t, appLog)
	want := map[string]bool{
		"stdout F hostname=" + cfg.Hostname: true, "stderr F to stderr": true,
		"stdout P " + strings.Repeat("x", crilog.MaxRecordText): true, "stdout F " + strings.Repeat("x", 20000-crilog.MaxRecordText): true,
		"stdout F waiting": true,
	}
	for _, l := range got {
		if !want[l] {
			t.Errorf("unexpected log record %.60q", l)
		}
	}
	if l := readLog(t, filepath.Join(cfg.LogDir, "crasher", "1.log")); len(l) > 0 && l[0] != "stderr F crashing" {
		t.Errorf("crasher restart log: %q", l)
	}
	for path, mode := range map[string]os.FileMode{appLog: 0o640, filepath.Dir(appLog): 0o750} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), mode, err)
		}
	}

	t.Run("peer check", func(t *testing.T) { testPeerCheck(t, cfg.Socket) })

	// A client that dies mid-request (the daemon crashing) disturbs nothing.
	conn, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(conn, &unix.SockaddrUnix{Name: cfg.Socket}); err != nil {
		t.Fatal(err)
	}
	unix.Write(conn, []byte{0, 0, 1})
	unix.Close(conn)
	c2 := NewClient(cfg.Socket)
	if _, err := c2.Status(ctx(t)); err != nil {
		t.Fatalf("re-dial: %v", err)
	}
	if st2 := status(t, c2); st2.Containers[0].PID != app.PID || !st2.Started {
		t.Fatalf("state after re-attach: %+v", st2)
	}

	if err := c2.Stop(ctx(t), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st = status(t, c2)
	if term := st.Containers[0].State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != kube.ReasonCompleted {
		t.Fatalf("app after Stop (exits on SIGTERM): %+v", st.Containers[0])
	}
	if !st.Stopping || st.Containers[1].State.Running != nil {
		t.Fatalf("after Stop: %+v", st)
	}
	waitFor(t, "SIGTERM logged", func() bool { return len(readLog(t, appLog)) == 6 })

	shutdown(t, c2, proc.Pid, cfg.Socket)
}

// shutdown asks the infra to exit and checks it left nothing.
func shutdown(t *testing.T, c *Client, pid int, socket string) {
	t.Helper()
	if err := c.Shutdown(ctx(t)); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	waitFor(t, "infra gone", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return os.IsNotExist(err)
	})
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

// testPeerCheck connects with euid 65534 on one locked thread (credentials
// are per thread in Linux; the raw syscalls change only this one) and
// expects the infra to hang up. The fsuid stays 0 so that the socket's
// 0600 mode lets the connection through and only SO_PEERCRED (the euid)
// can refuse it.
func testPeerCheck(t *testing.T, socket string) {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 65534, 65534, 0); e != 0 {
			errc <- e
			return // the thread dies with its goroutine: never reused
		}
		unix.RawSyscall(unix.SYS_SETFSUID, 0, 0, 0)
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Connect(fd, &unix.SockaddrUnix{Name: socket})
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0); e != 0 {
			errc <- fmt.Errorf("restore uid: %w", e)
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			errc <- fmt.Errorf("connect as 65534: %w", err)
			return
		}
		defer unix.Close(fd)
		req := []byte(`{"version":1,"op":"status"}`)
		unix.Write(fd, append([]byte{0, 0, 0, byte(len(req))}, req...))
		buf := make([]byte, 64)
		// EOF or ECONNRESET are both a refusal; only an answer is not.
		if n, _ := unix.Read(fd, buf); n > 0 {
			errc <- fmt.Errorf("infra answered uid 65534: %q", buf[:n])
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestInfraNeverAndGrace(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartNever,
		[]string{"done", "exit:0"},
		[]string{"stubborn", "ignore-term"},
	)
	cfg.InitContainers = []ContainerConfig{{Name: "setup", Init: container.Config{Args: []string{cfg.Containers[0].Init.Args[0], workload, "err:init ran", "exit:0"}}}}
	cfg.SharePID = true
	proc, c := launchPod(t, cfg)
	if nsLink(t, strconv.Itoa(proc.Pid), "pid") == nsLink(t, "self", "pid") {
		t.Error("SharePID infra has no pid namespace of its own")
	}
	if _, err := c.Start(ctx(t), nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "done completed and stubborn running", func() bool {
		st := status(t, c)
		return st.Containers[0].State.Terminated != nil && st.Containers[1].State.Running != nil
	})
	st := status(t, c)
	if term := st.InitContainers[0].State.Terminated; term == nil || term.Reason != kube.ReasonCompleted {
		t.Fatalf("init: %+v", st.InitContainers[0])
	}
	if done := st.Containers[0]; done.State.Terminated.Reason != kube.ReasonCompleted || done.RestartCount != 0 || done.LastState.Terminated != nil {
		t.Fatalf("done under Never: %+v", done)
	}
	stubbornLog := filepath.Join(cfg.LogDir, "stubborn", "0.log")
	waitFor(t, "stubborn ignores SIGTERM", func() bool { return len(readLog(t, stubbornLog)) == 1 })

	const grace = 300 * time.Millisecond
	begin := time.Now()
	if err := c.Stop(ctx(t), grace); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < grace {
		t.Errorf("Stop returned after %s, before the grace period", took)
	}
	term := status(t, c).Containers[1].State.Terminated
	if term == nil || term.Signal != int32(syscall.SIGKILL) || term.ExitCode != 137 {
		t.Fatalf("stubborn after Stop: %+v", term)
	}
	shutdown(t, c, proc.Pid, cfg.Socket)
}

// TestInfraOutlivesDaemon launches the infra from a separate "daemon"
// process that then exits, and re-attaches to it from here.
func TestInfraOutlivesDaemon(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartAlways, []string{"app", "wait-term"})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(exe, launcher, jsonMarshal(t, cfg))
	if err != nil {
		t.Fatalf("daemon: %v: %s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("daemon output %q: %v", out, err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			unix.Kill(pid, syscall.SIGKILL)
		}
	})
	c := NewClient(cfg.Socket)
	if _, err := c.Status(ctx(t)); err != nil {
		t.Fatalf("re-attach: %v", err)
	}
	if _, err := c.Start(ctx(t), nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "app running", func() bool { return status(t, c).Containers[0].State.Running != nil })
	if err := c.Stop(ctx(t), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	shutdown(t, c, pid, cfg.Socket)
}

func TestLaunchReportsInfraError(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartAlways, []string{"app", "wait-term"})
	// A socket directory others can enter is refused before the infra
	// starts (controlSocket).
	if err := os.Chmod(filepath.Dir(cfg.Socket), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, err = launchWait(cfg, LaunchOptions{Exe: exe}, execInfra)
	if err == nil || !strings.Contains(err.Error(), "mode 0700") {
		t.Fatalf("launch = %v, want the infra's socket directory error", err)
	}
}

// TestInfraKill: a real infra kills one container on request (SIGKILL once
// the grace period passed, for a container that ignores SIGTERM) and
// restarts it under its policy; a daemon of an older protocol version
// still gets its answers from this infra.
func TestInfraKill(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartAlways, []string{"stubborn", "ignore-term"}, []string{"other", "ignore-term"})
	proc, c := launchPod(t, cfg)
	if _, err := c.Start(ctx(t), nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	stubbornLog := filepath.Join(cfg.LogDir, "stubborn", "0.log")
	waitFor(t, "stubborn ignores SIGTERM", func() bool { return len(readLog(t, stubbornLog)) == 1 })
	if err := c.Kill(ctx(t), "stubborn", 200*time.Millisecond, "Container stubborn failed liveness probe, will be restarted"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stubborn restarted", func() bool {
		cs := status(t, c).Containers[0]
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	st := status(t, c)
	if term := st.Containers[0].LastState.Terminated; term == nil || term.Signal != int32(syscall.SIGKILL) {
		t.Errorf("stubborn's last state: %+v, want killed by SIGKILL", st.Containers[0].LastState)
	}
	if other := st.Containers[1]; other.RestartCount != 0 || other.State.Running == nil {
		t.Errorf("the other container was touched: %+v", other)
	}
	found := false
	for _, e := range st.Events {
		found = found || (e.Reason == kube.EventKilling && e.Container == "stubborn" && e.Message == "Container stubborn failed liveness probe, will be restarted")
	}
	if !found {
		t.Errorf("no Killing event for stubborn in %+v", st.Events)
	}
	if err := c.Kill(ctx(t), "nope", 0, "x"); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("Kill of an unknown container = %v, want the infra's error", err)
	}

	// A daemon of protocol version 3 asks for the status.
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: cfg.Socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var resp Response
	if err := writeFrame(conn, Request{Version: 3, Op: OpStatus}); err != nil {
		t.Fatal(err)
	}
	if err := readFrame(conn, &resp); err != nil || resp.Error != "" || resp.Status == nil || len(resp.Status.Containers) != 2 {
		t.Fatalf("status for a version 3 daemon: %+v, %v", resp, err)
	}
	shutdown(t, c, proc.Pid, cfg.Socket)
}

// TestInfraJoinsItsV1Cgroups launches an infra with a v1 cgroup to join
// and finds every thread of it there once Start, which waits for the
// join, returned. (This test binary links cgo, so the infra joins by its
// pid here; the e2e tests run berth's own static binary, whose threads
// move themselves.)
func TestInfraJoinsItsV1Cgroups(t *testing.T) {
	needRoot(t)
	const pids = "/sys/fs/cgroup/pids"
	var st unix.Statfs_t
	if err := unix.Statfs(pids, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		t.Skip("no cgroup v1 pids hierarchy: on v2 the infra is cloned into its cgroup")
	}
	dir := filepath.Join(pids, "berth-infra-test-"+randSuffix(t))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		testutil.WaitFor(t, 10*time.Second, "the test cgroup to empty and go", func() bool {
			return os.Remove(dir) == nil
		})
	})
	cfg := testPod(t, RestartNever, []string{"app", "exit", "0"})
	cfg.CgroupProcs = []string{filepath.Join(dir, "cgroup.procs")}
	proc, c := launchPod(t, cfg)
	if _, err := c.Start(ctx(t), nil, nil, nil); err != nil {
		t.Fatalf("start: %v", err)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", proc.Pid))
	if err != nil {
		t.Fatal(err)
	}
	want := "pids:/" + filepath.Base(dir) + "\n"
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/cgroup", proc.Pid, task.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("infra thread %s is in %q, want a line %q", task.Name(), b, want)
		}
	}
}

// TestInfraJoinFailureFailsStart gives the infra a cgroup it cannot join:
// it still reports ready, and Start fails with the join's error, before
// any container is cloned.
func TestInfraJoinFailureFailsStart(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartNever, []string{"app", "exit", "0"})
	cfg.CgroupProcs = []string{filepath.Join(t.TempDir(), "missing", "cgroup.procs")}
	_, c := launchPod(t, cfg)
	_, err := c.Start(ctx(t), nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "move infra of pod "+cfg.Key+" into its cgroups") {
		t.Fatalf("start = %v, want the join's failure", err)
	}
	if st := status(t, c); len(st.Containers) != 1 || st.Containers[0].State.Running != nil || st.Containers[0].State.Terminated != nil {
		t.Errorf("containers after the failed Start: %s, want none run", jsonMarshal(t, st.Containers))
	}
}

// launchNoWait launches cfg's infra from the test binary and returns at
// once, as the pod manager does.
func launchNoWait(t *testing.T, cfg PodConfig) *Launching {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l, err := launch(cfg, LaunchOptions{Exe: exe}, execInfra)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestStartBeforeReady: the Start goes to the control socket as soon as
// the infra is cloned, waits there while it starts, and is answered once
// the containers started, as after a Wait.
func TestStartBeforeReady(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartAlways, []string{"app", "wait-term"})
	l := launchNoWait(t, cfg)
	reaped := make(chan struct{})
	go func() {
		if l.Wait() == nil {
			l.Proc.Wait()
		}
		close(reaped)
	}()
	t.Cleanup(func() { l.Proc.Kill(); <-reaped })
	c := NewClient(cfg.Socket)
	st, err := c.Start(ctx(t), l.Wait, nil, nil)
	if err != nil {
		t.Fatalf("Start before the infra was ready: %v", err)
	}
	if len(st.Containers) != 1 || st.Containers[0].State.Running == nil {
		t.Fatalf("Start answered %+v, want app running", st.Containers)
	}
	shutdown(t, c, l.PID, cfg.Socket)
}

// TestStartWhenLaunchFails: a Start sent to an infra that then fails to
// start ends with the launch's error, not the broken connection's, and the
// socket the launcher made is gone.
func TestStartWhenLaunchFails(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartNever, []string{"app", "wait-term"})
	cfg.Sysctls = []Sysctl{{Name: "net.ipv4.no_such_sysctl", Path: "net/ipv4/no_such_sysctl", Value: "1", Namespace: "net"}}
	l := launchNoWait(t, cfg)
	_, err := NewClient(cfg.Socket).Start(ctx(t), l.Wait, nil, nil)
	if !errors.Is(err, ErrLaunch) || !strings.Contains(err.Error(), "no_such_sysctl") {
		t.Fatalf("Start = %v, want the launch's failure", err)
	}
	if _, err := os.Lstat(cfg.Socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		want launchFds
		ok   bool
	}{
		{[]string{"--config-fd=3", "--ready-fd=4", "--listen-fd=5"}, launchFds{3, 4, 5}, true},
		{[]string{Subcommand, "--listen-fd=3", "--config-fd=7", "--ready-fd=4"}, launchFds{7, 4, 3}, true},
		{[]string{"--config-fd=3", "--ready-fd=4"}, launchFds{}, false},
		{[]string{"--config-fd=3", "--ready-fd=4", "--listen-fd=4"}, launchFds{}, false},
		{[]string{"--config-fd=5", "--ready-fd=4", "--listen-fd=5"}, launchFds{}, false},
		{[]string{"--config-fd=2", "--ready-fd=4", "--listen-fd=5"}, launchFds{}, false},
		{[]string{"--config-fd=3", "--ready-fd=4", "--listen-fd=5", "--other"}, launchFds{}, false},
	}
	for _, tt := range tests {
		got, err := parseFlags(tt.args)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseFlags(%q) = %+v, %v; want %+v, ok %v", tt.args, got, err, tt.want, tt.ok)
		}
	}
}

// TestLaunchWithoutInfraLeavesNoSocket: when the infra cannot even be
// started, the control socket the launcher made is removed.
func TestLaunchWithoutInfraLeavesNoSocket(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartNever, []string{"app", "wait-term"})
	if _, err := launch(cfg, LaunchOptions{Exe: filepath.Join(t.TempDir(), "missing")}, execInfra); err == nil {
		t.Fatal("launch of a missing binary succeeded")
	}
	if _, err := os.Lstat(cfg.Socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
