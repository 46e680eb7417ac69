package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// TestKilledInfraIsMadeAgain kills pods' infra processes with SIGKILL
// while the daemon runs, as the OOM killer or an operator might. The
// Always pod comes back Running with the same daemon, its UID, its
// container restarted once (lastState Unknown, 255), one veth and one
// lease; the Never pod, whose container had run, ends Failed holding
// nothing. The re-list is pushed out of the test's reach: the infra's
// watch must bring the pass. d.cleanup checks nothing of either is left.
func TestKilledInfraIsMadeAgain(t *testing.T) {
	d := startDaemon(t, func(d *daemon) { d.daemonArgs = append(d.daemonArgs, "--resync", "1h") })
	d.apply("again.yaml", podYAML("again", "Always", `["/bin/demo", "sleep"]`))
	d.apply("never.yaml", podYAML("never", "Never", `["/bin/demo", "sleep"]`))
	before := d.runningPod("again")
	d.runningPod("never")
	daemonPID := d.cmd.Process.Pid
	ctrPID := containerPID(t, before, "main")

	for _, name := range []string{"again", "never"} {
		if err := syscall.Kill(d.pod(name).InfraPID(), syscall.SIGKILL); err != nil {
			t.Fatalf("kill the infra of %s: %v", name, err)
		}
	}
	var after api.Pod
	testutil.WaitFor(t, 30*time.Second, "the pod to run again with a new infra", func() bool {
		// Between the dead infra's teardown and the create of the same
		// pass, the pod is not listed.
		p, err := api.NewClient(d.sock).Pod(context.Background(), "default", "again")
		after = p
		return err == nil && after.Status.Phase == api.PodRunning && after.InfraPID() != before.InfraPID() &&
			len(after.Status.ContainerStatuses) == 1 && after.Status.ContainerStatuses[0].State.Running != nil
	})
	testutil.WaitFor(t, 10*time.Second, "the dead infra's container to be gone", func() bool {
		// Gone, or a zombie whose new parent has yet to reap it.
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", ctrPID))
		return err != nil || strings.Contains(string(stat), ") Z ")
	})
	c := after.Status.ContainerStatuses[0]
	if last := c.LastState.Terminated; c.RestartCount != 1 || last == nil || last.Reason != "Unknown" || last.ExitCode != 255 {
		t.Errorf("container after its infra died: restartCount %d, lastState %s; want 1 after Unknown, 255", c.RestartCount, toJSON(c.LastState))
	}
	if after.Metadata.UID != before.Metadata.UID {
		t.Errorf("the pod made again has uid %s, was %s", after.Metadata.UID, before.Metadata.UID)
	}
	if !d.hasEvent("again", "", "SandboxChanged", "it will be killed and re-created") {
		t.Errorf("no SandboxChanged event: %s", toJSON(d.podEvents("again")))
	}
	testutil.WaitFor(t, 30*time.Second, "the Never pod to end Failed", func() bool {
		return d.pod("never").Status.Phase == api.PodFailed
	})
	if ports, leases := d.bridgePorts(), d.leases(); len(ports) != 1 || len(leases) != 1 {
		t.Errorf("with one pod running: veths %v, leases %v; want one each", ports, leases)
	}
	if d.cmd == nil || d.cmd.Process.Pid != daemonPID || d.cmd.ProcessState != nil {
		t.Errorf("the daemon was restarted")
	}
}
