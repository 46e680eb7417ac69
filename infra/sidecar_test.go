package infra

import (
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
)

func TestInitStep(t *testing.T) {
	through, fresh, busy := initState{through: true}, initState{fresh: true}, initState{}
	tests := []struct {
		name        string
		inits       []initState
		wantNext    int
		wantThrough bool
	}{
		{"no init containers", nil, -1, true},
		{"first one starts", []initState{fresh, fresh}, 0, false},
		{"the one after a completed (or started sidecar) one", []initState{through, fresh}, 1, false},
		{"one running, starting or backing off holds the next", []initState{busy, fresh}, -1, false},
		{"behind a started sidecar, a running one holds", []initState{through, busy, fresh}, -1, false},
		{"all through", []initState{through, through}, -1, true},
	}
	for _, tt := range tests {
		next, th := initStep(tt.inits)
		if next != tt.wantNext || th != tt.wantThrough {
			t.Errorf("%s: initStep = %d, %v; want %d, %v", tt.name, next, th, tt.wantNext, tt.wantThrough)
		}
	}
}

func TestStopTurn(t *testing.T) {
	app := stopState{running: true}
	appTermed := stopState{running: true, signalled: true}
	side := stopState{sidecar: true, running: true}
	sideTermed := stopState{sidecar: true, running: true, signalled: true}
	gone := stopState{}
	goneSide := stopState{sidecar: true}
	tests := []struct {
		name string
		cs   []stopState
		want []int
	}{
		{"regular containers at once, sidecars wait", []stopState{side, side, app, app}, []int{2, 3}},
		{"nothing twice", []stopState{side, appTermed, app}, []int{2}},
		{"a sidecar waits for the regular containers to exit", []stopState{side, appTermed}, nil},
		{"an ordinary init container is stopped at once", []stopState{side, app, gone}, []int{1}},
		{"then the last sidecar first", []stopState{side, side, gone}, []int{1}},
		{"one sidecar at a time", []stopState{side, sideTermed, gone}, nil},
		{"the one before it once it exited", []stopState{side, goneSide, gone}, []int{0}},
		{"nothing runs", []stopState{goneSide, gone}, nil},
	}
	for _, tt := range tests {
		if got := stopTurn(tt.cs); !slices.Equal(got, tt.want) {
			t.Errorf("%s: stopTurn = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPodCompleted(t *testing.T) {
	running := kube.ContainerState{Running: &kube.StateRunning{}}
	backoff := kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonCrashLoopBackOff}}
	ok := kube.ContainerState{Terminated: &kube.StateTerminated{Reason: kube.ReasonCompleted}}
	failed := kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 1, Reason: kube.ReasonError}}
	tests := []struct {
		name        string
		inits, ctrs []kube.ContainerState
		appsStarted bool
		want        bool
	}{
		{"regular containers all ended", []kube.ContainerState{ok}, []kube.ContainerState{ok, failed}, true, true},
		{"one still runs", nil, []kube.ContainerState{ok, running}, true, false},
		{"one restarts", nil, []kube.ContainerState{ok, backoff}, true, false},
		{"an init container failed for good", []kube.ContainerState{failed}, []kube.ContainerState{{}}, false, true},
		{"an init container retried", []kube.ContainerState{backoff}, []kube.ContainerState{{}}, false, false},
		{"still initialising", []kube.ContainerState{running}, []kube.ContainerState{{}}, false, false},
	}
	for _, tt := range tests {
		if got := podCompleted(tt.inits, tt.ctrs, tt.appsStarted); got != tt.want {
			t.Errorf("%s: podCompleted = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// sidecarPod is a pod with an ordinary init container, two sidecars and
// one regular container, under policy.
func sidecarPod(policy string, waitStarted bool) PodConfig {
	cfg := validConfig()
	cfg.RestartPolicy = policy
	cfg.GracePeriod = 30 * time.Second
	cfg.InitContainers = []ContainerConfig{
		{Name: "side1", Sidecar: true, WaitStarted: waitStarted},
		{Name: "setup"},
		{Name: "side2", Sidecar: true},
	}
	return cfg
}

// pids returns the current pids of the named containers.
func pids(s *supervisor, names ...string) []int {
	st := s.Status()
	var out []int
	for _, n := range names {
		for _, c := range slices.Concat(st.InitContainers, st.Containers) {
			if c.Name == n {
				out = append(out, c.PID)
			}
		}
	}
	return out
}

func TestSupervisorSidecars(t *testing.T) {
	s, p := newTestSupervisor(sidecarPod(RestartAlways, false))
	if err := s.Start(nil, nil, func() {}); err != nil {
		t.Fatal(err)
	}
	// side1 runs and counts as started; setup runs; side2 waits for it.
	if got := pids(s, "side1", "setup", "side2", "app"); !slices.Equal(got, []int{101, 102, 0, 0}) {
		t.Fatalf("pids after Start: %v", got)
	}
	if st := s.Status().InitContainers[0]; !st.Started {
		t.Fatalf("side1 without a startup probe should be started: %+v", st)
	}
	s.Exited(102, exitStatus(0))
	if got := pids(s, "side1", "setup", "side2", "app"); !slices.Equal(got, []int{101, 0, 103, 104}) {
		t.Fatalf("pids after setup completed: %v", got)
	}
	// The app restarts; the sidecars keep running.
	s.Exited(104, exitStatus(1))
	p.fire()
	if got := pids(s, "side1", "side2", "app"); !slices.Equal(got, []int{101, 103, 105}) {
		t.Fatalf("pids after the app's restart: %v", got)
	}
	// A sidecar that exits 0 is restarted anyway.
	s.Exited(103, exitStatus(0))
	if st := s.Status().InitContainers[2]; st.State.Waiting == nil || st.State.Waiting.Reason != kube.ReasonCrashLoopBackOff {
		t.Fatalf("side2 after exit 0: %+v", st.State)
	}
	p.fire()
	if got := pids(s, "side2"); got[0] != 106 || s.Status().InitContainers[2].RestartCount != 1 {
		t.Fatalf("side2 not restarted: %+v", s.Status().InitContainers[2])
	}

	// Stop: the app first, then side2, then side1.
	p.signalled = nil
	var stopped bool
	s.Stop(time.Minute, func(error) { stopped = true })
	if want := []string{"terminated 105"}; !reflect.DeepEqual(p.signalled, want) {
		t.Fatalf("signals at Stop: %v, want %v", p.signalled, want)
	}
	s.Exited(105, signalStatus(syscall.SIGTERM))
	s.Exited(101, exitStatus(0)) // side1 exits on its own: no restart, no signal
	if want := []string{"terminated 105", "terminated 106"}; !reflect.DeepEqual(p.signalled, want) {
		t.Fatalf("signals after the app exited: %v, want %v", p.signalled, want)
	}
	s.Exited(106, signalStatus(syscall.SIGTERM))
	if !stopped || s.Running() {
		t.Fatalf("stop not answered: %v", stopped)
	}
}

// TestSupervisorSidecarOrder: sidecars are stopped one at a time, the
// last declared first.
func TestSupervisorSidecarOrder(t *testing.T) {
	s, p := newTestSupervisor(sidecarPod(RestartAlways, false))
	s.Start(nil, nil, func() {})
	s.Exited(102, exitStatus(0))
	s.Stop(time.Minute, func(error) {})
	s.Exited(104, exitStatus(0))
	s.Exited(103, exitStatus(0))
	if want := []string{"terminated 104", "terminated 103", "terminated 101"}; !reflect.DeepEqual(p.signalled, want) {
		t.Fatalf("signals: %v, want %v", p.signalled, want)
	}
}

// TestSupervisorJobWithSidecar: under Never the pod completes when its
// regular container ends; the sidecars are then stopped and not
// restarted, and are killed once the grace period is over.
func TestSupervisorJobWithSidecar(t *testing.T) {
	for _, policy := range []string{RestartNever, RestartOnFailure} {
		t.Run(policy, func(t *testing.T) {
			s, p := newTestSupervisor(sidecarPod(policy, false))
			s.Start(nil, nil, func() {})
			s.Exited(102, exitStatus(0))
			s.Exited(104, exitStatus(0))
			if want := []string{"terminated 103"}; !reflect.DeepEqual(p.signalled, want) {
				t.Fatalf("signals after the job's end: %v, want %v", p.signalled, want)
			}
			s.Exited(103, signalStatus(syscall.SIGTERM))
			if want := []string{"terminated 103", "terminated 101"}; !reflect.DeepEqual(p.signalled, want) {
				t.Fatalf("signals: %v, want %v", p.signalled, want)
			}
			p.fire() // the grace period
			if want := []string{"terminated 103", "terminated 101", "killed 101"}; !reflect.DeepEqual(p.signalled, want) {
				t.Fatalf("signals after grace: %v, want %v", p.signalled, want)
			}
			s.Exited(101, signalStatus(syscall.SIGKILL))
			st := s.Status()
			if s.Running() || st.InitContainers[0].State.Terminated == nil || st.Containers[0].State.Terminated.ExitCode != 0 || st.Stopping {
				t.Fatalf("after the sidecars stopped: %+v", st)
			}
			for _, ft := range p.timers {
				if !ft.cancelled {
					t.Fatalf("a timer is left after the pod completed: %+v", ft)
				}
			}
		})
	}
}

// TestSupervisorSidecarWaitStarted: a sidecar with a startupProbe holds
// the next init container until OpStarted names its current run.
func TestSupervisorSidecarWaitStarted(t *testing.T) {
	s, _ := newTestSupervisor(sidecarPod(RestartAlways, true))
	s.Start(nil, nil, func() {})
	if got := pids(s, "side1", "setup"); !slices.Equal(got, []int{101, 0}) {
		t.Fatalf("pids before the probe passed: %v", got)
	}
	run := s.Status().InitContainers[0].State.Running.StartedAt
	if err := s.Started("side1", run.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := pids(s, "setup"); got[0] != 0 {
		t.Fatal("a result about another run let setup start")
	}
	if err := s.Started("setup", run); err == nil {
		t.Fatal("Started accepted for an init container that is no sidecar")
	}
	if err := s.Started("side1", run); err != nil {
		t.Fatal(err)
	}
	if got := pids(s, "setup"); got[0] != 102 || !s.Status().InitContainers[0].Started {
		t.Fatalf("setup after the probe passed: %v, %+v", got, s.Status().InitContainers[0])
	}
}

// TestSupervisorActiveDeadline: past its deadline the pod fails with
// DeadlineExceeded, its containers are stopped in order and nothing
// restarts.
func TestSupervisorActiveDeadline(t *testing.T) {
	cfg := sidecarPod(RestartAlways, false)
	cfg.ActiveDeadline = 90 * time.Second
	s, p := newTestSupervisor(cfg)
	s.Start(nil, nil, func() {})
	if len(p.timers) != 1 || p.timers[0].d != cfg.ActiveDeadline {
		t.Fatalf("timers after Start: %+v", p.timers)
	}
	s.Exited(102, exitStatus(0))
	p.fire()
	st := s.Status()
	if st.Reason != kube.ReasonDeadlineExceeded || st.Message == "" || st.Stopping {
		t.Fatalf("status after the deadline: %+v", st)
	}
	if want := []string{"terminated 104"}; !reflect.DeepEqual(p.signalled, want) {
		t.Fatalf("signals: %v, want %v", p.signalled, want)
	}
	if !slices.ContainsFunc(st.Events, func(e Event) bool { return e.Reason == kube.ReasonDeadlineExceeded && e.Container == "" }) {
		t.Fatalf("no DeadlineExceeded event of the pod: %+v", st.Events)
	}
	s.Exited(104, exitStatus(0))
	s.Exited(103, exitStatus(0))
	s.Exited(101, exitStatus(0))
	if s.Running() {
		t.Fatal("still running")
	}
	for _, ft := range p.timers {
		if !ft.cancelled {
			t.Fatalf("a restart or kill is left pending: %+v", ft)
		}
	}
	if err := s.Kill("app", 0, "probe"); err == nil {
		t.Fatal("Kill accepted after the deadline")
	}
}

// TestSupervisorSidecarLivenessKill: a sidecar a failed liveness probe
// kills is restarted even under Never, and its next init container is
// not run again.
func TestSupervisorSidecarLivenessKill(t *testing.T) {
	s, p := newTestSupervisor(sidecarPod(RestartNever, false))
	s.Start(nil, nil, func() {})
	s.Exited(102, exitStatus(0))
	if err := s.Kill("side1", time.Second, "Container side1 failed liveness probe, will be restarted"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"terminated 101"}; !reflect.DeepEqual(p.signalled, want) {
		t.Fatalf("signals: %v, want %v", p.signalled, want)
	}
	s.Exited(101, signalStatus(syscall.SIGTERM))
	p.fire() // the kill's grace (nothing left to kill) and the back-off
	st := s.Status()
	if side := st.InitContainers[0]; side.State.Running == nil || side.RestartCount != 1 || side.PID != 105 {
		t.Fatalf("side1 after the kill: %+v", side)
	}
	if setup := st.InitContainers[1]; setup.State.Terminated == nil || setup.RestartCount != 0 {
		t.Fatalf("setup ran again: %+v", setup)
	}
}

// TestSupervisorSidecarPreStop: at the pod's end a sidecar with a preStop
// hook gets no signal at its turn but shows PreStop, and gets its stop
// signal once the daemon says its hook ended for that run; the sidecar
// before it waits meanwhile, on a Stop as when a Job-shaped pod completes.
func TestSupervisorSidecarPreStop(t *testing.T) {
	for _, tt := range []struct {
		policy string
		end    func(s *supervisor)
		// before: the signals before side2's preStop ended.
		before []string
	}{
		{RestartAlways, func(s *supervisor) { s.Stop(time.Minute, func(error) {}) }, []string{"terminated 104"}},
		{RestartNever, func(s *supervisor) {}, nil},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			cfg := sidecarPod(tt.policy, false)
			cfg.InitContainers[2].PreStopHook = true
			s, p := newTestSupervisor(cfg)
			s.Start(nil, nil, func() {})
			s.Exited(102, exitStatus(0))
			if st := s.Status().InitContainers[2]; st.PreStop {
				t.Fatalf("side2 shows PreStop while the pod runs: %+v", st)
			}
			tt.end(s)
			s.Exited(104, exitStatus(0))
			side2 := s.Status().InitContainers[2]
			if !side2.PreStop || !reflect.DeepEqual(p.signalled, tt.before) {
				t.Fatalf("side2 at its turn: %+v, signals %v, want %v", side2, p.signalled, tt.before)
			}
			run := side2.State.Running.StartedAt
			if err := s.PreStopped("side2", run.Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := s.PreStopped("setup", run); err == nil {
				t.Fatal("PreStopped accepted for an init container that is no sidecar")
			}
			if !s.Status().InitContainers[2].PreStop {
				t.Fatal("news of another run ended the wait")
			}
			n := len(p.signalled)
			if err := s.PreStopped("side2", run); err != nil {
				t.Fatal(err)
			}
			if got := p.signalled[n:]; !reflect.DeepEqual(got, []string{"terminated 103"}) || s.Status().InitContainers[2].PreStop {
				t.Fatalf("signals after the preStop ended: %v, %+v", got, s.Status().InitContainers[2])
			}
			if err := s.PreStopped("side2", run); err != nil || len(p.signalled) != n+1 {
				t.Fatalf("a repeated PreStopped: %v, signals %v", err, p.signalled)
			}
			s.Exited(103, signalStatus(syscall.SIGTERM))
			if got := p.signalled[n+1:]; !reflect.DeepEqual(got, []string{"terminated 101"}) {
				t.Fatalf("signals after side2 exited: %v", got)
			}
		})
	}
}

// TestSupervisorSidecarPreStopKilled: a sidecar whose preStop hook never
// ends is killed at the end of the grace period.
func TestSupervisorSidecarPreStopKilled(t *testing.T) {
	cfg := sidecarPod(RestartAlways, false)
	cfg.InitContainers[0].PreStopHook = true
	s, p := newTestSupervisor(cfg)
	s.Start(nil, nil, func() {})
	s.Exited(102, exitStatus(0))
	var stopped bool
	s.Stop(time.Minute, func(error) { stopped = true })
	s.Exited(104, exitStatus(0))
	s.Exited(103, exitStatus(0))
	if st := s.Status().InitContainers[0]; !st.PreStop || !reflect.DeepEqual(p.signalled, []string{"terminated 104", "terminated 103"}) {
		t.Fatalf("side1 at its turn: %+v, signals %v", st, p.signalled)
	}
	p.fire()
	if !reflect.DeepEqual(p.signalled, []string{"terminated 104", "terminated 103", "killed 101"}) {
		t.Fatalf("signals after the grace period: %v", p.signalled)
	}
	s.Exited(101, signalStatus(syscall.SIGKILL))
	if st := s.Status().InitContainers[0]; !stopped || st.PreStop {
		t.Fatalf("after the kill: stopped %v, %+v", stopped, st)
	}
}
