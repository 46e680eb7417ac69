package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// previousRelease is the commit the upgrade test builds its old daemon
// from: the last one whose records and infras a new daemon must take over.
const previousRelease = "466c529"

// buildPrevious builds berth at commit from a git worktree in a temp dir,
// or skips the test when git or the commit is unavailable.
func buildPrevious(t *testing.T, commit string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(self), "..")
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: cannot build the previous release")
	}
	if out, err := exec.Command("git", "-C", repo, "rev-parse", "--verify", "--quiet", commit+"^{commit}").CombinedOutput(); err != nil {
		t.Skipf("commit %s is not in this repository (%v: %s): cannot build the previous release", commit, err, out)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if out, err := exec.Command("git", "-C", repo, "worktree", "add", "--detach", src, commit).CombinedOutput(); err != nil {
		t.Fatalf("git worktree add %s: %v\n%s", commit, err, out)
	}
	t.Cleanup(func() {
		exec.Command("git", "-C", repo, "worktree", "remove", "--force", src).Run()
	})
	bin := filepath.Join(dir, "berth-"+commit)
	cmd := exec.Command("bash", "hack/build", bin, "-trimpath")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build berth at %s: %v\n%s", commit, err, out)
	}
	return bin
}

// ticks reads `berth logs` of pod and fails unless it is "tick 1" ..
// "tick N" without a gap; it returns N (0 for an empty log).
func ticks(t *testing.T, d *daemon, pod string) int {
	t.Helper()
	out := d.mustBerth("logs", pod)
	if out == "" {
		return 0
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, l := range lines {
		if want := fmt.Sprintf("tick %d", i+1); l != want {
			t.Fatalf("logs of %s: line %d is %q, want %q\n%s", pod, i+1, l, want, out)
		}
	}
	return len(lines)
}

func writeManifest(t *testing.T, d *daemon, name, yaml string) {
	t.Helper()
	if err := os.MkdirAll(d.manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.manifests, name), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeWithRunningPods starts pods with the previous release's
// daemon, replaces it with this one on the same directories, and checks the
// pods were taken over as they were: the same processes, no restart, the
// logs continuous, exit codes kept, and exec, logs, an edit and a delete
// working on pods the old daemon made.
func TestUpgradeWithRunningPods(t *testing.T) {
	testutil.RequireRoot(t)
	old := buildPrevious(t, previousRelease)
	d := startDaemon(t, func(d *daemon) { d.bin = old })

	writeManifest(t, d, "ticker.yaml", podYAML("ticker", "Always", `["/bin/demo", "tick", "50ms"]`))
	writeManifest(t, d, "exiter.yaml", podYAML("exiter", "Never", `["/bin/demo", "exit", "3"]`))
	writeManifest(t, d, "edited.yaml", podYAML("edited", "Always", `["/bin/demo", "sleep"]`))
	api.NewClient(d.sock).Reconcile(context.Background())
	waitPhase(t, d, "ticker", "Running")
	waitPhase(t, d, "edited", "Running")
	waitPhase(t, d, "exiter", "Failed")
	ticker, edited := d.pod("ticker"), d.pod("edited")
	tickerPID, editedPID := containerPID(t, ticker, "main"), containerPID(t, edited, "main")
	testutil.WaitFor(t, 10*time.Second, "ticks from the old daemon's pod", func() bool { return ticks(t, d, "ticker") >= 5 })

	d.stop(syscall.SIGTERM)
	d.bin = ""
	d.start()

	// The old daemon's API named the infra otherwise: the containers' host
	// PIDs say the processes are the same.
	for name, want := range map[string]api.Pod{"ticker": ticker, "edited": edited} {
		p := d.pod(name)
		if got, was := containerPID(t, p, "main"), containerPID(t, want, "main"); got != was || p.Metadata.UID != want.Metadata.UID {
			t.Errorf("pod %s after the upgrade: container %d uid %s, want %d and %s", name, got, p.Metadata.UID, was, want.Metadata.UID)
		}
		if c := p.Status.ContainerStatuses; len(c) != 1 || c[0].RestartCount != 0 {
			t.Errorf("pod %s restarted across the upgrade: %s", name, toJSON(p.Status))
		}
	}
	ex := d.pod("exiter")
	if c := ex.Status.ContainerStatuses; ex.Status.Phase != "Failed" || len(c) != 1 || c[0].State.Terminated == nil || c[0].State.Terminated.ExitCode != 3 || c[0].RestartCount != 0 {
		t.Errorf("exiter after the upgrade: %s", toJSON(ex.Status))
	}

	// The old infra keeps logging into the same run's file, which the new
	// daemon reads without a gap.
	before := ticks(t, d, "ticker")
	testutil.WaitFor(t, 10*time.Second, "more ticks after the upgrade", func() bool { return ticks(t, d, "ticker") > before+5 })

	if out := d.mustBerth("exec", "ticker", "--", "/bin/demo", "hostname"); strings.TrimSpace(out) != "ticker" {
		t.Errorf("exec in the old daemon's pod: %q", out)
	}

	writeManifest(t, d, "edited.yaml", podYAML("edited", "Always", `["/bin/demo", "tick", "1s"]`))
	api.NewClient(d.sock).Reconcile(context.Background())
	testutil.WaitFor(t, 60*time.Second, "the edited pod to run its new command", func() bool {
		p := d.pod("edited")
		c := p.Status.ContainerStatuses
		return len(c) == 1 && c[0].State.Running != nil && strconv.Itoa(editedPID) != strings.TrimPrefix(c[0].ContainerID, "berth://")
	})
	testutil.WaitFor(t, 10*time.Second, "the edited pod's first tick", func() bool { return ticks(t, d, "edited") >= 1 })

	os.Remove(filepath.Join(d.manifests, "ticker.yaml"))
	api.NewClient(d.sock).Reconcile(context.Background())
	testutil.WaitFor(t, 30*time.Second, "the old daemon's pod to be deleted", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", tickerPID))
		for _, p := range d.pods() {
			if p.Metadata.Name == "ticker" {
				return false
			}
		}
		return err != nil
	})
	if _, err := os.Stat(filepath.Join(d.logs, "default_ticker_"+ticker.Metadata.UID)); err == nil {
		t.Errorf("log directory of the deleted pod remains")
	}
}
