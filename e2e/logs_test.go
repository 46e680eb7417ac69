package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// withLogRotation makes the daemon rotate container logs at size, keeping
// files files per run.
func withLogRotation(size string, files int) func(*daemon) {
	return func(d *daemon) {
		d.daemonArgs = append(d.daemonArgs, "--container-log-max-size", size, "--container-log-max-files", fmt.Sprint(files))
	}
}

func printerPod(name, policy string, lines int, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: %s
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "print-lines", "%d"]
%s`, name, policy, lines, extra)
}

// checkNumbered fails unless out is exactly "line 1" .. "line n".
func checkNumbered(t *testing.T, out string, n int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("got %d lines, want %d (first %q, last %q)", len(lines), n, lines[0], lines[len(lines)-1])
	}
	for i, l := range lines {
		if want := fmt.Sprintf("line %d", i+1); l != want {
			t.Fatalf("line %d is %q, want %q", i+1, l, want)
		}
	}
}

func waitPhase(t *testing.T, d *daemon, name, phase string) {
	t.Helper()
	// Generous: the cgroup v2 VM runs under software emulation, ~13x slower.
	testutil.WaitFor(t, 5*time.Minute, name+" to be "+phase, func() bool { return d.pod(name).Status.Phase == phase })
}

// rotatedFiles counts a container's rotated log files.
func rotatedFiles(t *testing.T, d *daemon, ctr string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(d.logs, "*", ctr, "0.log.*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

func TestLogs100kLinesAcrossRotations(t *testing.T) {
	d := startDaemon(t, withLogRotation("256Ki", 100))
	d.apply("printer.yaml", printerPod("printer", "Never", 100000, ""))
	waitPhase(t, d, "printer", "Succeeded")
	if n := rotatedFiles(t, d, "main"); n < 5 {
		t.Fatalf("%d rotated files; 100k lines at 256Ki per file should make more than 5", n)
	}
	checkNumbered(t, d.mustBerth("logs", "printer"), 100000)

	if out := d.mustBerth("logs", "printer", "--tail", "3"); out != "line 99998\nline 99999\nline 100000\n" {
		t.Errorf("--tail 3:\n%q", out)
	}
	out := d.mustBerth("logs", "printer", "--tail", "1", "--timestamps")
	ts, text, _ := strings.Cut(strings.TrimSuffix(out, "\n"), " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || text != "line 100000" {
		t.Errorf("--timestamps: %q (%v)", out, err)
	}
	// The pod finished before the commands above ran.
	if out := d.mustBerth("logs", "printer", "--since", "1ms"); out != "" {
		t.Errorf("--since 1ms printed %d bytes", len(out))
	}
	if out, err := d.berth("logs", "printer", "--previous"); err == nil || !strings.Contains(out, `previous terminated container "main" in pod "printer" not found`) {
		t.Errorf("--previous of a first run: %v\n%s", err, out)
	}
}

func TestLogsNeedContainerName(t *testing.T) {
	d := startDaemon(t)
	d.apply("two.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  containers:
  - name: a
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "print-lines", "2"]
  - name: b
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "print-lines", "3"]
`)
	out, err := d.berth("logs", "two")
	if err == nil || !strings.Contains(out, "a container name must be specified for pod two, choose one of: [a b]") {
		t.Errorf("logs without -c: %v\n%s", err, out)
	}
	testutil.WaitFor(t, 30*time.Second, "b's lines", func() bool {
		out, _ := d.berth("logs", "two", "-c", "b")
		return out == "line 1\nline 2\nline 3\n"
	})
}

// follower runs `berth logs -f` and collects its output.
type follower struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func follow(t *testing.T, d *daemon, args ...string) *follower {
	t.Helper()
	f := &follower{cmd: exec.Command(berthBin, d.args(append([]string{"logs", "-f"}, args...)...)...), done: make(chan struct{})}
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f.cmd.Stderr = os.Stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.mu.Lock()
			f.out.WriteString(sc.Text() + "\n")
			f.mu.Unlock()
		}
		f.cmd.Wait()
	}()
	t.Cleanup(func() {
		f.cmd.Process.Signal(syscall.SIGKILL)
		<-f.done
	})
	return f
}

func (f *follower) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.String()
}

func TestLogsFollowRestartAndPrevious(t *testing.T) {
	d := startDaemon(t)
	// Exits 0 after its lines; Always restarts it (back-off 200ms here).
	d.apply("again.yaml", printerPod("again", "Always", 3, ""))
	f := follow(t, d, "again")
	run := "line 1\nline 2\nline 3\n"
	testutil.WaitFor(t, 60*time.Second, "the follower to see a second run", func() bool {
		return strings.HasPrefix(f.output(), run+run)
	})
	if out := f.output(); strings.ReplaceAll(out, run, "") != "" {
		t.Fatalf("follower output is not whole runs:\n%s", out)
	}
	if out := d.mustBerth("logs", "again", "--previous"); out != run {
		t.Errorf("--previous:\n%q", out)
	}
	if p := d.pod("again"); p.Status.ContainerStatuses[0].RestartCount < 1 {
		t.Errorf("restartCount %d", p.Status.ContainerStatuses[0].RestartCount)
	}
	d.mustBerth("delete", "pod", "again")
	select {
	case <-f.done:
	case <-time.After(60 * time.Second):
		t.Fatal("logs -f did not end when the pod was deleted")
	}
}

// TestLogsSurviveDaemonKill kills the daemon while a container prints: the
// infra writes the logs, so not one line is lost.
func TestLogsSurviveDaemonKill(t *testing.T) {
	d := startDaemon(t, withLogRotation("1Mi", 1000))
	const n = 100000
	// A small CPU share makes the printing outlast the daemon's death.
	d.apply("slow.yaml", printerPod("slow", "Never", n, `    resources:
      limits:
        cpu: 100m
`))
	d.stop(syscall.SIGKILL)
	d.start()
	waitPhase(t, d, "slow", "Succeeded")
	out := d.mustBerth("logs", "slow")
	if got := strings.Count(out, "\n"); got != n {
		// Say where the lines went: the files as the infra left them.
		files, _ := filepath.Glob(filepath.Join(d.logs, "*", "main", "*"))
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				b, _ := os.ReadFile(f)
				t.Logf("%s: %d bytes, mode %v, %d records", f, st.Size(), st.Mode(), strings.Count(string(b), "\n"))
			}
		}
	}
	checkNumbered(t, out, n)
}
