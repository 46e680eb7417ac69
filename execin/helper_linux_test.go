package execin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/procstat"
	"github.com/berth-project/berth/internal/testutil"
)

// TestMain runs exec-init when the test binary is started as one: the
// helpers of these tests run from it.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitSubcommand {
		Main(os.Args[2:])
	}
	os.Exit(m.Run())
}

// target is a container-like process: its own ipc, uts, net, pid and
// mount namespaces (over the host's root, so that the host's sh and
// coreutils run in it) and its own cgroup.
type target struct {
	cmd   *exec.Cmd
	start uint64
	procs string // its cgroup's cgroup.procs
}

// startTarget starts a target; the test's cleanup kills it and removes its
// cgroup.
func startTarget(t testing.TB) *target {
	t.Helper()
	testutil.RequireRoot(t)
	base := "/sys/fs/cgroup/pids" // v1 or hybrid
	if _, err := os.Stat(base); err != nil {
		base = "/sys/fs/cgroup" // v2
	}
	b := make([]byte, 4)
	rand.Read(b)
	dir := filepath.Join(base, "berth-test-helper-"+hex.EncodeToString(b))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		testutil.WaitFor(t, 5*time.Second, "the test cgroup empty", func() bool { return os.Remove(dir) == nil })
	})
	cmd := exec.Command("sleep", "1h")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	procs := filepath.Join(dir, "cgroup.procs")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	st, err := procstat.StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return &target{cmd: cmd, start: st, procs: procs}
}

// config is the Config of a helper in tg, running as uid and gid 65534 in
// cwd with FOO=bar.
func (tg *target) config(cwd string) Config {
	return NewConfig(Target{
		Pod: "ns/pod", Container: "app", PID: tg.cmd.Process.Pid, StartTime: tg.start,
		CgroupProcs: []string{tg.procs},
		Process: container.Process{
			Env: []string{"PATH=/usr/bin:/bin", "FOO=bar"}, Cwd: cwd, User: "65534:65534",
			Capabilities: []string{"CAP_KILL"}, NoNewPrivileges: true,
		},
	}, nil, false, "")
}

// startHelper starts a helper from the test binary; the test's cleanup
// kills it and waits until it was reaped.
func startHelper(t testing.TB, cfg Config) *Helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h, err := StartHelper(exe, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); <-h.done })
	return h
}

func run(t testing.TB, h *Helper, max int, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, out, err := h.Run(ctx, args, max)
	if err != nil {
		t.Fatalf("Run(%q) = %v", args, err)
	}
	return code, string(out)
}

func TestHelperRunsCommandsInTheTarget(t *testing.T) {
	tg := startTarget(t)
	cwd := t.TempDir()
	for _, d := range []string{cwd, filepath.Dir(cwd)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := startHelper(t, tg.config(cwd))
	pid := strconv.Itoa(tg.cmd.Process.Pid)
	var want []string
	for _, ns := range []string{"pid", "mnt", "net", "uts", "ipc"} {
		l, err := os.Readlink("/proc/" + pid + "/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, l)
	}
	script := `id -u; id -g; pwd; echo "$FOO"; for ns in pid mnt net uts ipc; do readlink /proc/self/ns/$ns; done; ` +
		`grep -c ` + filepath.Base(filepath.Dir(tg.procs)) + ` /proc/self/cgroup; grep NoNewPrivs /proc/self/status; ls -l /proc/self/fd/; exit 3`
	for i := range 3 {
		code, out := run(t, h, 10<<10, "sh", "-c", script)
		lines := strings.Split(out, "\n")
		if code != 3 || len(lines) < 10 || lines[0] != "65534" || lines[1] != "65534" || lines[2] != cwd || lines[3] != "bar" ||
			strings.Join(lines[4:9], " ") != strings.Join(want, " ") || lines[9] != "1" || !strings.Contains(out, "NoNewPrivs:\t1") {
			t.Errorf("run %d: exit %d, output:\n%s\nwant exit 3, uid and gid 65534, cwd %s, FOO=bar, namespaces %q, the target's cgroup", i, code, out, cwd, want)
		}
		// No fd of the helper (its socket, the target's pidfd) or of the
		// daemon reaches the command.
		if strings.Contains(out, "socket:") || strings.Contains(out, "pidfd") {
			t.Errorf("run %d: the command inherited fds:\n%s", i, out)
		}
	}
	if !h.Usable() {
		t.Error("the helper is not usable after three commands")
	}
}

func TestHelperCapsOutputAndReportsNotFound(t *testing.T) {
	tg := startTarget(t)
	h := startHelper(t, tg.config("/"))
	if code, out := run(t, h, 10, "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo more >&2; exit 1"); code != 1 || out != "xxxxxxxxxx" {
		t.Errorf("capped output: exit %d, %q; want 1 and 10 bytes", code, out)
	}
	code, out := run(t, h, 10<<10, "/no/such/program")
	if code != ExitNotFound || !strings.Contains(out, "find program") {
		t.Errorf("missing program: exit %d, %q; want %d and the reason", code, out, ExitNotFound)
	}
	if code, out := run(t, h, 10<<10, "echo", "still", "serving"); code != 0 || out != "still serving\n" {
		t.Errorf("after a missing program: exit %d, %q", code, out)
	}
}

func TestHelperReportsSetupFailure(t *testing.T) {
	tg := startTarget(t)
	cfg := tg.config("/")
	cfg.StartTime++ // another process than the one at this PID
	h := startHelper(t, cfg)
	code, out := run(t, h, 10<<10, "true")
	if code != ExitCannotRun || !strings.Contains(out, ErrGone.Error()) {
		t.Errorf("helper of a gone process: exit %d, %q; want %d and %q", code, out, ExitCannotRun, ErrGone)
	}
	<-h.done
	if h.Usable() {
		t.Error("a helper that failed to enter is usable")
	}
}

// gone says whether pid no longer is the process that started at start,
// or is a zombie: a command whose helper was killed with it is re-parented
// to the target's init, which here reaps nothing.
func gone(pid int, start uint64) bool {
	st, err := procstat.StartTime(pid)
	if err != nil || st != start {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := strings.LastIndexByte(string(b), ')')
	return err != nil || i < 0 || strings.HasPrefix(string(b[i+1:]), " Z")
}

func TestHelperTimeoutKillsCommandAndHelper(t *testing.T) {
	tg := startTarget(t)
	h := startHelper(t, tg.config("/"))
	run(t, h, 10, "true")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, _, err := h.Run(ctx, []string{"sleep", "1000"}, 10)
		errc <- err
	}()
	var cmdPID int
	testutil.WaitFor(t, 10*time.Second, "the command to run", func() bool {
		c := childrenOf(h.PID())
		if len(c) == 1 {
			cmdPID = c[0]
		}
		return cmdPID != 0
	})
	cmdStart, err := procstat.StartTime(cmdPID)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Run at the end of its context = %v", err)
	}
	<-h.done
	testutil.WaitFor(t, 5*time.Second, "the command killed", func() bool { return gone(cmdPID, cmdStart) })
	if h.Usable() {
		t.Error("the helper is usable after a timeout")
	}
}

// shutdown closes the daemon's side of h's socket for writing: what the
// helper sees of a daemon that died.
func shutdown(t *testing.T, h *Helper) {
	rc, err := h.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) { err = unix.Shutdown(int(fd), unix.SHUT_WR) })
	if err != nil {
		t.Fatal(err)
	}
}

// exitedByItself says whether h exited with 0, not killed.
func exitedByItself(h *Helper) bool {
	<-h.done
	ws, ok := h.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Exited() && ws.ExitStatus() == 0
}

func TestHelperExitsOnEOF(t *testing.T) {
	tg := startTarget(t)
	t.Run("idle", func(t *testing.T) {
		h := startHelper(t, tg.config("/"))
		run(t, h, 10, "true")
		shutdown(t, h)
		if !exitedByItself(h) {
			t.Errorf("helper at EOF: %v", h.cmd.ProcessState)
		}
	})
	t.Run("running a command", func(t *testing.T) {
		h := startHelper(t, tg.config("/"))
		run(t, h, 10, "true")
		go h.Run(context.Background(), []string{"sleep", "1000"}, 10)
		var cmdPID int
		testutil.WaitFor(t, 10*time.Second, "the command to run", func() bool {
			if c := childrenOf(h.PID()); len(c) == 1 {
				cmdPID = c[0]
			}
			return cmdPID != 0
		})
		cmdStart, err := procstat.StartTime(cmdPID)
		if err != nil {
			t.Fatal(err)
		}
		shutdown(t, h)
		if !exitedByItself(h) {
			t.Errorf("helper at EOF: %v", h.cmd.ProcessState)
		}
		testutil.WaitFor(t, 5*time.Second, "the command killed", func() bool { return gone(cmdPID, cmdStart) })
	})
}

func TestHelperEndsWithTheTarget(t *testing.T) {
	tg := startTarget(t)
	h := startHelper(t, tg.config("/"))
	run(t, h, 10, "true")
	tg.cmd.Process.Kill()
	tg.cmd.Wait()
	if !exitedByItself(h) {
		t.Errorf("helper after its target's end: %v", h.cmd.ProcessState)
	}
}

func TestHelperKilledForABadReply(t *testing.T) {
	testutil.RequireRoot(t)
	exe := filepath.Join(t.TempDir(), "bad-helper")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nprintf 'x\\000\\000\\000\\000\\177\\377\\377\\377' >&4\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := StartHelper(exe, Config{PID: 1, StartTime: 1, CgroupProcs: []string{"/x/cgroup.procs"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pid := h.PID()
	start, err := procstat.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = h.Run(context.Background(), []string{"true"}, 10)
	if !errors.Is(err, ErrHelperGone) || !errors.Is(err, errProtocol) {
		t.Errorf("Run with a reply over the cap = %v, want the helper gone for a protocol error", err)
	}
	<-h.done
	if !gone(pid, start) {
		t.Error("the helper that sent a bad reply lives")
	}
}

func TestFailedReplyIsOutputsReport(t *testing.T) {
	err := step("find program", func() error { return errors.New("nope") })
	rp := failedReply(err, 10)
	if rp.Status != ExitCannotRun || string(rp.Output) != "find progr" {
		t.Errorf("failedReply = %d, %q; want %d and the report cut at the cap", rp.Status, rp.Output, ExitCannotRun)
	}
}

// BenchmarkHelperRun: the CPU a helper uses per command, apart from the
// command's own (its children's, reaped by it), from its /proc stat.
func BenchmarkHelperRun(b *testing.B) {
	tg := startTarget(b)
	h := startHelper(b, tg.config("/"))
	run(b, h, 10, "true")
	cpu := func() (own, children int64) {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(h.PID()) + "/stat")
		if err != nil {
			b.Fatal(err)
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
		// utime, stime, cutime, cstime: fields 14 to 17, from the state (3).
		return n(11) + n(12), n(13) + n(14)
	}
	own0, ch0 := cpu()
	b.ResetTimer()
	for range b.N {
		run(b, h, 10, "true")
	}
	b.StopTimer()
	own1, ch1 := cpu()
	tick := float64(10 * time.Millisecond / time.Microsecond)
	b.ReportMetric(float64(own1-own0)*tick/float64(b.N), "helper-µs/op")
	b.ReportMetric(float64(ch1-ch0)*tick/float64(b.N), "command-µs/op")
}
