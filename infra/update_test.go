package infra

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/kube"
)

func withArgs(name string, args ...string) ContainerConfig {
	return ContainerConfig{Name: name, Init: container.Config{Args: args}}
}

// TestSupervisorUpdate: an Update restarts only the container whose
// definition changed, after a Killing event, SIGTERM and (when the run
// outlives the grace period) SIGKILL; the next run has the new definition,
// starts at once and counts as a restart; the other container keeps its
// run; the answer comes once the new run started; a repeated Update with
// the same definition changes nothing.
func TestSupervisorUpdate(t *testing.T) {
	cfg := validConfig()
	s, p := newTestSupervisor(cfg)
	if err := s.Start(nil, []ContainerConfig{withArgs("a", "v1"), withArgs("b", "v1")}, func() {}); err != nil {
		t.Fatal(err)
	}
	before := s.Status()
	answered := 0
	if err := s.Update([]ContainerConfig{withArgs("a", "v2"), withArgs("b", "v1")}, time.Second, func() { answered++ }); err != nil {
		t.Fatal(err)
	}
	if answered != 0 || len(p.signals) != 1 || p.signals[0] != "terminated" {
		t.Fatalf("after Update: answered %d, signals %v; want SIGTERM to a only", answered, p.signals)
	}
	evs := s.Status().Events
	if last := evs[len(evs)-1]; last.Reason != kube.EventKilling || last.Container != "a" {
		t.Errorf("last event %+v, want a's Killing", last)
	}
	p.fire() // the grace period: the run is still there
	if len(p.signals) != 2 || p.signals[1] != "killed" {
		t.Fatalf("signals after the grace period: %v", p.signals)
	}
	s.Exited(before.Containers[0].PID, signalStatus(syscall.SIGKILL))
	st := s.Status()
	a, b := st.Containers[0], st.Containers[1]
	if a.State.Running == nil || a.RestartCount != 1 || a.LastState.Terminated == nil || a.PID == before.Containers[0].PID {
		t.Fatalf("a after the update: %+v, want a new run, restart count 1", a)
	}
	if got := s.ctrs[0].cfg.Init.Args; len(got) != 1 || got[0] != "v2" {
		t.Errorf("a runs %v, want the new definition", got)
	}
	if b.PID != before.Containers[1].PID || b.RestartCount != 0 {
		t.Errorf("b was touched: %+v", b)
	}
	if answered != 1 || len(p.timers) != 0 {
		t.Errorf("answered %d times, pending timers %d; want one answer, no back-off", answered, len(p.timers))
	}

	// The same definitions again: nothing restarts, the answer is at once.
	if err := s.Update([]ContainerConfig{withArgs("a", "v2")}, time.Second, func() { answered++ }); err != nil {
		t.Fatal(err)
	}
	if answered != 2 || len(p.signals) != 2 {
		t.Errorf("a repeated Update: answered %d, signals %v", answered, p.signals)
	}

	// The same run from another spec (a probe changed): a restart.
	respec := withArgs("a", "v2")
	respec.Spec = []byte(`{"name":"a","readinessProbe":{}}`)
	if err := s.Update([]ContainerConfig{respec}, time.Second, func() { answered++ }); err != nil {
		t.Fatal(err)
	}
	if len(p.signals) != 3 || p.signals[2] != "terminated" {
		t.Errorf("an Update of the spec alone: signals %v, want SIGTERM", p.signals)
	}
	s.Exited(s.Status().Containers[0].PID, signalStatus(syscall.SIGTERM))
	p.fire() // the grace timer of a run that ended: nothing
	if a := s.Status().Containers[0]; a.State.Running == nil || a.RestartCount != 2 || answered != 3 || len(p.signals) != 3 {
		t.Fatalf("after the spec update: %+v, answered %d, signals %v", a, answered, p.signals)
	}

	// Errors change nothing.
	for _, bad := range [][]ContainerConfig{{withArgs("nope")}, {withArgs("a", "v3"), withArgs("a", "v4")}} {
		if err := s.Update(bad, time.Second, func() { t.Error("an Update that failed answered") }); err == nil {
			t.Errorf("Update(%v): want an error", bad)
		}
	}
	if len(p.signals) != 3 {
		t.Errorf("a refused Update signalled: %v", p.signals)
	}
}

// TestSupervisorUpdateNotRunning: a container waiting for its restart
// starts at once with the new definition; one that ended for good keeps
// it for later without running; an init container is refused; a stopping
// pod refuses updates.
func TestSupervisorUpdateNotRunning(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartOnFailure
	s, p := newTestSupervisor(cfg)
	if err := s.Start([]ContainerConfig{withArgs("init")}, []ContainerConfig{withArgs("a", "v1"), withArgs("b", "v1")}, func() {}); err != nil {
		t.Fatal(err)
	}
	s.Exited(s.Status().InitContainers[0].PID, exitStatus(0))
	st := s.Status()
	s.Exited(st.Containers[0].PID, exitStatus(1)) // a waits for its back-off
	s.Exited(st.Containers[1].PID, exitStatus(0)) // b completed for good
	answered := 0
	if err := s.Update([]ContainerConfig{withArgs("a", "v2"), withArgs("b", "v2")}, time.Second, func() { answered++ }); err != nil {
		t.Fatal(err)
	}
	st = s.Status()
	if a := st.Containers[0]; a.State.Running == nil || a.RestartCount != 1 || s.ctrs[0].cfg.Init.Args[0] != "v2" {
		t.Errorf("a: %+v, want running v2 at once", a)
	}
	if b := st.Containers[1]; b.State.Terminated == nil || s.ctrs[1].cfg.Init.Args[0] != "v2" {
		t.Errorf("b: %+v, want still completed, with v2 kept", b)
	}
	if answered != 1 {
		t.Errorf("answered %d times", answered)
	}
	p.fire() // the cancelled back-off must not start a second run
	if n := len(s.byPID); n != 1 {
		t.Errorf("%d runs, want a's one", n)
	}
	if err := s.Update([]ContainerConfig{withArgs("init", "v2")}, 0, func() {}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Update of an init container = %v, want ErrInvalidConfig", err)
	}
	s.Stop(0, func(error) {})
	if err := s.Update([]ContainerConfig{withArgs("a", "v3")}, 0, func() {}); !errors.Is(err, errStopping) {
		t.Errorf("Update while stopping = %v, want errStopping", err)
	}
}

// TestSupervisorUpdateWhileStarting: an Update that arrives while the
// container's run is starting ends that run (it has the old definition)
// once it is recorded, and starts the new one; a Stop meanwhile answers
// the Update too.
func TestSupervisorUpdateWhileStarting(t *testing.T) {
	s, p := newTestSupervisor(validConfig())
	p.hold = true
	if err := s.Start(nil, []ContainerConfig{withArgs("a", "v1")}, func() {}); err != nil {
		t.Fatal(err)
	}
	answered := 0
	if err := s.Update([]ContainerConfig{withArgs("a", "v2")}, time.Second, func() { answered++ }); err != nil {
		t.Fatal(err)
	}
	p.release()
	if len(p.signals) != 1 || p.signals[0] != "killed" {
		t.Fatalf("signals: %v, want the old run killed", p.signals)
	}
	s.Exited(101, signalStatus(syscall.SIGKILL))
	p.release()
	if a := s.Status().Containers[0]; a.State.Running == nil || s.ctrs[0].cfg.Init.Args[0] != "v2" || answered != 1 {
		t.Fatalf("a: %+v, answered %d", a, answered)
	}

	if err := s.Update([]ContainerConfig{withArgs("a", "v3")}, time.Second, func() { answered++ }); err != nil {
		t.Fatal(err)
	}
	s.Stop(0, func(error) {})
	s.Exited(s.Status().Containers[0].PID, signalStatus(syscall.SIGKILL))
	if answered != 2 {
		t.Errorf("a Stop during an Update: answered %d times, want 2", answered)
	}
}
