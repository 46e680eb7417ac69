package infra

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/testutil"
)

// TestInfraRealContainers runs the production path: Launch re-executes the
// test binary as `infra` (Main), which starts real containers through
// container.Start (`container-init`) on the demo workload rootfs.
func TestInfraRealContainers(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartOnFailure)
	lower := testutil.WorkloadRootfs(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"web", []string{"demo", "--then-sleep", "hostname"}},
		{"crash", []string{"demo", "exit", "1"}},
	} {
		dir := t.TempDir()
		ctr := ContainerConfig{Name: c.name, Init: container.Config{
			ID:        cfg.Key + "/" + c.name,
			LowerDirs: []string{lower},
			UpperDir:  filepath.Join(dir, "upper"), WorkDir: filepath.Join(dir, "work"), RootfsDir: filepath.Join(dir, "rootfs"),
			Args:          c.args,
			Process:       container.Process{Env: []string{"PATH=/bin"}, Cwd: "/", Capabilities: container.DefaultCapabilities()},
			MaskedPaths:   container.DefaultMaskedPaths(),
			ReadonlyPaths: container.DefaultReadonlyPaths(),
		}}
		for _, d := range []string{ctr.Init.UpperDir, ctr.Init.WorkDir, ctr.Init.RootfsDir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cfg.Containers = append(cfg.Containers, ctr)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := launchWait(cfg, LaunchOptions{Exe: exe}, Subcommand)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	exited := make(chan struct{})
	go func() { proc.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			proc.Kill() // containers die with it (Pdeathsig)
			<-exited
		}
	})
	c := NewClient(cfg.Socket)
	if _, err := c.Status(ctx(t)); err != nil {
		t.Fatal(err)
	}
	started, err := c.Start(ctx(t), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each step of a real start takes time: a zero means a reading was lost.
	if r := started.Containers[0].State.Running; r == nil || r.StartTimings.Clone <= 0 || r.StartTimings.Runtime <= 0 ||
		r.StartTimings.Rootfs <= 0 || r.StartTimings.Setup <= 0 || r.StartTimings.Exec <= 0 {
		t.Errorf("start of web: %+v, want every step timed", started.Containers[0].State)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.LogDir, InfraLogName)); err != nil || !strings.Contains(string(b), `"msg":"container started"`) {
		t.Errorf("infra log: %v\n%s", err, b)
	}
	waitFor(t, "crash restarted", func() bool {
		return status(t, c).Containers[1].RestartCount >= 1
	})
	st := status(t, c)
	web, crash := st.Containers[0], st.Containers[1]
	if web.State.Running == nil {
		t.Fatalf("web: %+v", web)
	}
	if term := crash.LastState.Terminated; term == nil || term.ExitCode != 1 {
		t.Fatalf("crash last state: %+v", crash)
	}
	infraPID, webPID := strconv.Itoa(proc.Pid), strconv.Itoa(web.PID)
	if nsLink(t, webPID, "net") != nsLink(t, infraPID, "net") || nsLink(t, webPID, "uts") != nsLink(t, infraPID, "uts") {
		t.Error("container is not in the pod's net/uts namespaces")
	}
	if nsLink(t, webPID, "mnt") == nsLink(t, infraPID, "mnt") || nsLink(t, webPID, "pid") == nsLink(t, infraPID, "pid") {
		t.Error("container shares the infra's mount or pid namespace")
	}
	webLog := filepath.Join(cfg.LogDir, "web", "0.log")
	waitFor(t, "hostname logged", func() bool {
		l := readLog(t, webLog)
		return len(l) == 1 && l[0] == "stdout F "+cfg.Hostname
	})
	if err := c.Stop(ctx(t), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if term := status(t, c).Containers[0].State.Terminated; term == nil || term.ExitCode != 0 {
		t.Fatalf("web after Stop: %+v", term)
	}
	shutdown(t, c, proc.Pid, cfg.Socket)
}
