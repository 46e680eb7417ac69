package pod

import (
	"os/exec"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/procstat"
	"github.com/berth-project/berth/internal/testutil"
)

// TestAliveZombie: a child killed and not yet reaped keeps its PID and
// start time; alive says it is dead all the same, or a pass that follows
// its exit at once (the pidfd watch) would take it for alive.
func TestAliveZombie(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	start, err := procstat.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !alive(pid, start) {
		t.Fatal("a running child is not alive")
	}
	if alive(pid, start+1) {
		t.Error("a process with another start time is alive")
	}
	cmd.Process.Kill()
	testutil.WaitFor(t, 10*time.Second, "the child to be a zombie", func() bool {
		_, state, err := procstat.StartTimeAndState(pid)
		return err == nil && state == 'Z'
	})
	if alive(pid, start) {
		t.Error("a zombie is alive")
	}
}
