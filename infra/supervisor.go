package infra

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"syscall"
	"time"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/kube"
)

// procs is what the supervisor needs from the OS; procsLinux is the real
// one, tests use a fake that records calls.
type procs interface {
	// start prepares and starts the given runs, at the same time where it
	// can (fresh writable layer, log pipes and file, init stage), and calls
	// done on the supervisor loop with, for each run in order, its pid and
	// log path or why it failed. The loop keeps serving meanwhile: an init
	// stage may take up to its timeout.
	start(runs []runSpec, done func([]runStart))
	// signal sends sig to pid.
	signal(pid int, sig syscall.Signal) error
	// oomKills reads the container's oom_kill counter; ok is false when it
	// is unknown.
	oomKills(c *ContainerConfig) (n uint64, ok bool)
	// terminationMessage reads what the ended run of c left in its
	// termination message file, or, for a failed run under
	// FallbackToLogsOnError that left it empty, the tail of its log.
	terminationMessage(c *ContainerConfig, logPath string, failed bool) string
	// afterFunc runs f on the supervisor loop after d; the returned func
	// cancels it.
	afterFunc(d time.Duration, f func()) (cancel func())
}

// runSpec is one run of a container to start: run n counts restarts.
type runSpec struct {
	cfg *ContainerConfig
	n   int
}

// runStart is how the start of a run went.
type runStart struct {
	pid     int
	logPath string
	timings kube.StartTimings
	err     error
}

// ctr is the supervisor's record of one container.
type ctr struct {
	cfg    *ContainerConfig
	isInit bool
	status ContainerStatus
	// pid and the time its run began; pid 0 when not running.
	pid       int
	startedAt time.Time
	// oomBefore is the oom_kill count read before this run.
	oomBefore   uint64
	oomBeforeOK bool
	// runEnv is the environment the current (or last) run started with;
	// cfg.Init.Env is what the next run gets (SetEnv).
	runEnv []string
	// backoff is the last restart delay; cancelRestart is set only while a
	// restart is pending.
	backoff       time.Duration
	cancelRestart func()
	// starting is set while a run's start is under way; createFailed after
	// a start failed with a create error, whose retry is no restart.
	starting     bool
	createFailed bool
}

// supervisor is the pod's state machine. All methods run on one goroutine
// (the loop), so it has no locks.
type supervisor struct {
	cfg  *PodConfig
	log  *slog.Logger
	os   procs
	now  func() time.Time
	self PodStatus // PID and StartTime of the infra

	inits, ctrs []*ctr
	byPID       map[int]*ctr
	// pending counts the start batches under way. Exits of pids not known
	// yet are kept in early meanwhile: a container may exit (and be reaped)
	// before its start is recorded.
	pending int
	early   map[int]syscall.WaitStatus
	// onStarted is called once the first start batch is recorded.
	onStarted func()

	started   bool
	startedAt time.Time
	// appsStarted is set once the regular containers were started.
	appsStarted bool

	stopping bool
	// holding: restarts ended ahead of a Stop (HoldRestarts).
	holding     bool
	stopWaiters []func(error)
	cancelGrace func()

	// events are the recent container events, shown by `berth describe`.
	events eventRing
}

func newSupervisor(cfg *PodConfig, log *slog.Logger, p procs, now func() time.Time, self PodStatus) *supervisor {
	s := &supervisor{cfg: cfg, log: log, os: p, now: now, self: self, byPID: map[int]*ctr{}, early: map[int]syscall.WaitStatus{}}
	s.inits = newCtrs(cfg.InitContainers, true)
	s.ctrs = newCtrs(cfg.Containers, false)
	return s
}

// newCtrs makes the supervisor's records of a list of containers, all
// waiting to be initialised.
func newCtrs(list []ContainerConfig, isInit bool) []*ctr {
	out := make([]*ctr, len(list))
	for i := range list {
		c := &ctr{cfg: &list[i], isInit: isInit}
		c.status = ContainerStatus{Name: list[i].Name, State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonPodInitializing}}}
		if last := list[i].LastState; last != nil {
			c.status.LastState = kube.ContainerState{Terminated: last}
			c.status.RestartCount = list[i].RestartCount
		}
		out[i] = c
	}
	return out
}

// errStopping refuses a Start after the tear-down began.
var errStopping = errors.New("pod is stopping")

// Start begins running the pod: init containers one by one, then the
// containers. Containers given here replace those of the launch config:
// the daemon learns values the containers need (the pod's IP) only after
// the infra exists. A repeated Start is a no-op, so a daemon may retry it.
// started is called once the first containers' starts are recorded (at
// once for a repeated Start), never when Start returns an error.
func (s *supervisor) Start(inits, ctrs []ContainerConfig, started func()) error {
	if s.stopping {
		return fmt.Errorf("start pod %s: %w", s.cfg.Key, errStopping)
	}
	if s.started {
		started()
		return nil
	}
	if len(ctrs) > 0 {
		if err := validateContainers(s.cfg.Key, inits, ctrs); err != nil {
			return err
		}
		s.cfg.InitContainers, s.cfg.Containers = inits, ctrs
		s.inits, s.ctrs = newCtrs(inits, true), newCtrs(ctrs, false)
	}
	if len(s.ctrs) == 0 {
		return fmt.Errorf("start pod %s: %w: no containers", s.cfg.Key, ErrInvalidConfig)
	}
	s.started, s.startedAt = true, s.now()
	s.onStarted = started
	s.advance()
	return nil
}

// Env returns the environment container name's current run started with,
// or the one its first run will get.
func (s *supervisor) Env(name string) ([]string, error) {
	c, err := s.byName(name)
	if err != nil {
		return nil, err
	}
	if c.runEnv != nil {
		return slices.Clone(c.runEnv), nil
	}
	return slices.Clone(c.cfg.Init.Env), nil
}

// SetEnv gives the named containers a new environment from their next run
// on. Every name must be known; nothing changes otherwise.
func (s *supervisor) SetEnv(envs map[string][]string) error {
	for name := range envs {
		if _, err := s.byName(name); err != nil {
			return err
		}
	}
	for name, env := range envs {
		c, _ := s.byName(name)
		c.cfg.Init.Env = slices.Clone(env)
	}
	return nil
}

func (s *supervisor) byName(name string) (*ctr, error) {
	for _, c := range slices.Concat(s.inits, s.ctrs) {
		if c.cfg.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("pod %s has no container %q", s.cfg.Key, name)
}

// advance starts whatever comes next: the first init container that has
// not completed, or, once all have, every regular container.
func (s *supervisor) advance() {
	if s.stopping || s.holding || s.appsStarted {
		return
	}
	for _, c := range s.inits {
		t := c.status.State.Terminated
		if t != nil && t.ExitCode == 0 {
			continue
		}
		if c.pid == 0 && c.cancelRestart == nil && !c.starting && t == nil {
			s.run(c)
		}
		// Running, waiting for a restart, or failed for good: the next
		// ones wait for it.
		return
	}
	s.appsStarted = true
	s.run(s.ctrs...)
}

// run starts one run of each of cs, all at once, and records how each
// start went when they are done (recordStart).
func (s *supervisor) run(cs ...*ctr) {
	specs := make([]runSpec, len(cs))
	for i, c := range cs {
		c.cancelRestart = nil
		c.starting = true
		// Every run after the first is a restart (LastState holds the
		// previous run, see scheduleRestart); retrying a create is not.
		if c.status.LastState.Terminated != nil && !c.createFailed {
			c.status.RestartCount++
		}
		c.oomBefore, c.oomBeforeOK = s.os.oomKills(c.cfg)
		c.startedAt = s.now()
		c.runEnv = c.cfg.Init.Env
		specs[i] = runSpec{cfg: c.cfg, n: c.status.RestartCount}
	}
	s.pending++
	s.os.start(specs, func(rs []runStart) {
		s.pending--
		for i, r := range rs {
			cs[i].starting = false
			s.recordStart(cs[i], r)
		}
		if s.pending == 0 {
			clear(s.early)
		}
		if f := s.onStarted; f != nil {
			s.onStarted = nil
			f()
		}
	})
}

// recordStart records how the start of c's run went: running, waiting to
// retry a create error, or a failed start that counts as a terminated run.
func (s *supervisor) recordStart(c *ctr, r runStart) {
	c.status.LogPath = r.logPath
	if r.err != nil && container.IsCreateError(r.err) {
		s.recordCreateError(c, r.err)
		return
	}
	c.createFailed = false
	if r.err != nil {
		s.log.Warn("container failed to start", "pod", s.cfg.Key, "container", c.cfg.Name, "err", r.err)
		s.event(c, kube.EventWarning, kube.EventFailed, "Error: "+r.err.Error())
		s.finish(c, &kube.StateTerminated{
			ExitCode: 128, Reason: kube.ReasonStartError, Message: r.err.Error(),
			StartedAt: c.startedAt, FinishedAt: s.now(),
		})
		return
	}
	c.pid = r.pid
	s.byPID[r.pid] = c
	c.status.PID = r.pid
	c.status.State = kube.ContainerState{Running: &kube.StateRunning{StartedAt: c.startedAt, StartTimings: r.timings}}
	s.event(c, kube.EventNormal, kube.EventCreated, "Created container "+c.cfg.Name)
	s.event(c, kube.EventNormal, kube.EventStarted, "Started container "+c.cfg.Name)
	s.log.Info("container started", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", r.pid, "restartCount", c.status.RestartCount)
	switch ws, exited := s.early[r.pid]; {
	case exited:
		delete(s.early, r.pid)
		s.Exited(r.pid, ws)
	case s.stopping:
		// Started while the pod stops: it gets what the others got.
		sig := c.cfg.stopSignal()
		if s.cancelGrace == nil {
			sig = syscall.SIGKILL
		}
		if err := s.os.signal(r.pid, sig); err != nil {
			s.log.Warn("signal container", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", r.pid, "signal", sig, "err", err)
		}
	}
}

// recordCreateError records a run that could not be created (its init stage
// timed out, or the image's user database is unusable): the container
// waits with CreateContainerError and is tried again after a back-off,
// whatever the restart policy, as the kubelet does; its program never ran.
func (s *supervisor) recordCreateError(c *ctr, err error) {
	s.log.Warn("container could not be created", "pod", s.cfg.Key, "container", c.cfg.Name, "err", err)
	s.event(c, kube.EventWarning, kube.EventFailed, "Error: "+err.Error())
	c.createFailed = true
	c.status.State = kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonCreateFailed, Message: err.Error()}}
	if s.stopping || s.holding {
		s.checkStopped()
		return
	}
	c.backoff = Backoff(c.backoff, 0, s.cfg.Backoff)
	c.cancelRestart = s.os.afterFunc(c.backoff, func() {
		if c.cancelRestart == nil || s.stopping {
			return
		}
		s.run(c)
	})
}

// Exited handles the reaped exit of pid with wait status ws. Pids that are
// not containers (orphans re-parented to the infra) are ignored, unless a
// start is under way: the pid may be its container's, and is kept for
// recordStart.
func (s *supervisor) Exited(pid int, ws syscall.WaitStatus) {
	c, ok := s.byPID[pid]
	if !ok {
		if s.pending > 0 {
			s.early[pid] = ws
		}
		return
	}
	delete(s.byPID, pid)
	c.pid = 0
	c.status.PID = 0
	t := &kube.StateTerminated{StartedAt: c.startedAt, FinishedAt: s.now()}
	switch {
	case ws.Signaled():
		t.Signal = int32(ws.Signal())
		t.ExitCode = 128 + t.Signal
	default:
		t.ExitCode = int32(ws.ExitStatus())
	}
	t.Reason = kube.ReasonError
	if t.ExitCode == 0 {
		t.Reason = kube.ReasonCompleted
	}
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL && c.oomBeforeOK {
		if n, ok := s.os.oomKills(c.cfg); ok && n > c.oomBefore {
			t.Reason = kube.ReasonOOMKilled
			s.event(c, kube.EventWarning, kube.EventOOMKilled, "Container "+c.cfg.Name+" was killed by the OOM killer: it reached its memory limit")
		}
	}
	t.Message = s.os.terminationMessage(c.cfg, c.status.LogPath, t.ExitCode != 0)
	s.log.Info("container exited", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", pid, "exitCode", t.ExitCode, "reason", t.Reason)
	s.finish(c, t)
}

// finish records a terminated run and applies the restart policy.
func (s *supervisor) finish(c *ctr, t *kube.StateTerminated) {
	c.status.State = kube.ContainerState{Terminated: t}
	switch {
	case s.stopping || s.holding:
		s.checkStopped()
	case ShouldRestart(s.cfg.RestartPolicy, int(t.ExitCode), c.isInit):
		s.scheduleRestart(c, t.FinishedAt.Sub(t.StartedAt))
	case c.isInit && t.ExitCode == 0:
		s.advance()
	}
}

// scheduleRestart puts c in CrashLoopBackOff until its back-off elapses.
func (s *supervisor) scheduleRestart(c *ctr, ranFor time.Duration) {
	c.backoff = Backoff(c.backoff, ranFor, s.cfg.Backoff)
	c.status.LastState = kube.ContainerState{Terminated: c.status.State.Terminated}
	c.status.State = kube.ContainerState{Waiting: &kube.StateWaiting{
		Reason:  kube.ReasonCrashLoopBackOff,
		Message: fmt.Sprintf("back-off %s restarting failed container %s", c.backoff, c.cfg.Name),
	}}
	s.event(c, kube.EventWarning, kube.EventBackOff, "Back-off restarting failed container "+c.cfg.Name)
	c.cancelRestart = s.os.afterFunc(c.backoff, func() {
		if c.cancelRestart == nil || s.stopping {
			return
		}
		s.run(c)
	})
}

// errNotRunning refuses a Kill of a container that does not run.
var errNotRunning = errors.New("container is not running")

// Kill stops the current run of container name, as the kubelet does after
// a failed liveness or startup probe: a Killing event with message, its
// stop signal (SIGTERM unless it has another), and SIGKILL once grace has passed if that run still lives. The
// exit that follows is handled as any other (Exited): recorded, and the
// restart policy with its back-off applies.
func (s *supervisor) Kill(name string, grace time.Duration, message string) error {
	c, err := s.byName(name)
	if err != nil {
		return err
	}
	if c.pid == 0 {
		return fmt.Errorf("kill container %s of pod %s: %w", name, s.cfg.Key, errNotRunning)
	}
	if s.stopping {
		return fmt.Errorf("kill container %s of pod %s: %w", name, s.cfg.Key, errStopping)
	}
	pid, startedAt := c.pid, c.startedAt
	s.event(c, kube.EventNormal, kube.EventKilling, message)
	s.log.Info("killing container", "pod", s.cfg.Key, "container", name, "pid", pid, "grace", grace, "why", message)
	kill := func() {
		// Only the run that was asked about: it may have ended and been
		// restarted meanwhile.
		if c.pid != pid || !c.startedAt.Equal(startedAt) {
			return
		}
		if err := s.os.signal(pid, syscall.SIGKILL); err != nil {
			s.log.Warn("signal container", "pod", s.cfg.Key, "container", name, "pid", pid, "signal", syscall.SIGKILL, "err", err)
		}
	}
	if grace <= 0 {
		kill()
		return nil
	}
	if err := s.os.signal(pid, c.cfg.stopSignal()); err != nil {
		return fmt.Errorf("kill container %s of pod %s: %w", name, s.cfg.Key, err)
	}
	s.os.afterFunc(grace, kill)
	return nil
}

// HoldRestarts ends restarts, pending ones included, without stopping
// anything: the daemon runs the pod's preStop hooks before its Stop, and a
// container that exits meanwhile stays exited, as on a kubelet, which
// restarts nothing in a pod being deleted.
func (s *supervisor) HoldRestarts() {
	s.holding = true
	s.cancelRestarts()
}

// cancelRestarts cancels every pending restart.
func (s *supervisor) cancelRestarts() {
	for _, c := range slices.Concat(s.inits, s.ctrs) {
		if c.cancelRestart != nil {
			c.cancelRestart()
			c.cancelRestart = nil
		}
	}
}

// Stop begins the tear-down: no more restarts, its stop signal (SIGTERM
// unless it has another) to every running container, SIGKILL after grace. done is called once no container runs.
func (s *supervisor) Stop(grace time.Duration, done func(error)) {
	s.stopWaiters = append(s.stopWaiters, done)
	first := !s.stopping
	s.stopping = true
	s.cancelRestarts()
	if first {
		for _, c := range append(append([]*ctr{}, s.inits...), s.ctrs...) {
			if c.pid != 0 {
				s.event(c, kube.EventNormal, kube.EventKilling, "Stopping container "+c.cfg.Name)
			}
		}
		s.signalAll(0)
	}
	if grace <= 0 {
		s.killAll()
	} else if first {
		s.cancelGrace = s.os.afterFunc(grace, s.killAll)
	}
	s.checkStopped()
}

func (s *supervisor) killAll() {
	s.cancelGrace = nil
	s.signalAll(syscall.SIGKILL)
}

// signalAll sends sig to every running container; 0 sends each its stop
// signal.
func (s *supervisor) signalAll(sig syscall.Signal) {
	for pid, c := range s.byPID {
		sig := sig
		if sig == 0 {
			sig = c.cfg.stopSignal()
		}
		if err := s.os.signal(pid, sig); err != nil {
			s.log.Warn("signal container", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", pid, "signal", sig, "err", err)
		}
	}
}

// checkStopped answers the Stop waiters once nothing runs or is starting.
func (s *supervisor) checkStopped() {
	if !s.stopping || len(s.byPID) > 0 || s.pending > 0 {
		return
	}
	if s.cancelGrace != nil {
		s.cancelGrace()
		s.cancelGrace = nil
	}
	waiters := s.stopWaiters
	s.stopWaiters = nil
	for _, done := range waiters {
		done(nil)
	}
}

// Running reports whether any container process is alive.
func (s *supervisor) Running() bool { return len(s.byPID) > 0 }

// Status returns a snapshot; it shares no mutable memory with s.
func (s *supervisor) Status() PodStatus {
	st := s.self
	st.Version = ProtocolVersion
	st.Started, st.StartedAt, st.Stopping = s.started, s.startedAt, s.stopping
	snap := func(list []*ctr) []ContainerStatus {
		out := make([]ContainerStatus, len(list))
		for i, c := range list {
			out[i] = copyTerminated(c.status)
		}
		return out
	}
	st.InitContainers = snap(s.inits)
	st.Containers = snap(s.ctrs)
	capTerminationMessages(st.InitContainers, st.Containers)
	st.Events = s.events.list()
	return st
}

// event records something that happened to c.
func (s *supervisor) event(c *ctr, typ, reason, msg string) {
	s.events.add(Event{Type: typ, Reason: reason, Container: c.cfg.Name, Message: msg}, s.now())
}
