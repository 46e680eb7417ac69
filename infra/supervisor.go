package infra

import (
	"bytes"
	"encoding/json"
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
	// sidecar: an init container with restartPolicy Always. through is set
	// once one of its runs counted as started (ContainerStatus.Started):
	// the init containers after it may start, and it stays set over its
	// restarts.
	sidecar, through bool
	// termSent: the current run got its SIGTERM from the pod's end.
	termSent bool
	// next is the definition an Update gave the container, taken when its
	// current run ends; updated is called once the run after it started.
	next    *ContainerConfig
	updated func()
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
	// halted is set once the pod ended on its own: it completed (see
	// completed) or ran past its deadline (reason, message). Nothing
	// starts or restarts after it, and what still runs is stopped as by
	// Stop, with the pod's grace period.
	halted          bool
	reason, message string
	cancelDeadline  func()

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
		c := &ctr{cfg: &list[i], isInit: isInit, sidecar: isInit && list[i].Sidecar}
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
	if d := s.cfg.ActiveDeadline; d > 0 {
		s.cancelDeadline = s.os.afterFunc(d, s.deadlineExceeded)
	}
	s.advance()
	return nil
}

// deadlineExceeded fails the pod that ran for its ActiveDeadline, as the
// kubelet does: an event, the pod's reason and message, and every
// container stopped for good with the pod's grace period. A pod that
// already ended keeps how it ended.
func (s *supervisor) deadlineExceeded() {
	s.cancelDeadline = nil
	if s.stopping || s.halted {
		return
	}
	s.reason, s.message = kube.ReasonDeadlineExceeded, "Pod was active on the node longer than the specified deadline"
	s.log.Info("pod ran past its active deadline", "pod", s.cfg.Key, "deadline", s.cfg.ActiveDeadline)
	s.events.add(Event{Type: kube.EventNormal, Reason: kube.ReasonDeadlineExceeded, Message: s.message}, s.now())
	s.halt()
}

// halt ends the pod on its own: no more starts or restarts, and what
// runs is stopped in stop order (terminate), killed after the pod's
// grace period.
func (s *supervisor) halt() {
	s.halted = true
	if s.cancelDeadline != nil {
		s.cancelDeadline()
		s.cancelDeadline = nil
	}
	s.cancelRestarts()
	s.terminate()
	if len(s.byPID) > 0 || s.pending > 0 {
		s.cancelGrace = s.os.afterFunc(s.cfg.GracePeriod, s.killAll)
	}
}

// cancelRestarts drops every pending restart.
func (s *supervisor) cancelRestarts() {
	for _, c := range slices.Concat(s.inits, s.ctrs) {
		if c.cancelRestart != nil {
			c.cancelRestart()
			c.cancelRestart = nil
		}
	}
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

// advance starts whatever comes next: the first init container that is
// not through, or, once all are, every regular container.
func (s *supervisor) advance() {
	if s.stopping || s.halted || s.holding || s.appsStarted {
		return
	}
	steps := make([]initState, len(s.inits))
	for i, c := range s.inits {
		t := c.status.State.Terminated
		steps[i] = initState{
			through: c.through || (!c.sidecar && t != nil && t.ExitCode == 0),
			fresh:   c.pid == 0 && c.cancelRestart == nil && !c.starting && t == nil,
		}
	}
	switch next, through := initStep(steps); {
	case through:
		s.appsStarted = true
		s.run(s.ctrs...)
	case next >= 0:
		s.run(s.inits[next])
	}
}

// initState is where one init container stands in the pod's
// initialisation: through (completed, or for a sidecar, started), or
// fresh (never run, nothing pending).
type initState struct{ through, fresh bool }

// initStep decides what comes next in a pod's initialisation, init
// containers in order: the index of the one to start now (-1 for none:
// one is running, starting, waiting for a restart or failed for good, and
// those after it wait), or through when every one is, and the regular
// containers start.
func initStep(inits []initState) (next int, through bool) {
	for i, c := range inits {
		if c.through {
			continue
		}
		if c.fresh {
			return i, false
		}
		return -1, false
	}
	return -1, true
}

// markStarted records that c's current run counts as started, and lets
// the init containers after it go.
func (s *supervisor) markStarted(c *ctr) {
	c.status.Started = true
	c.through = true
	s.advance()
}

// Started tells the infra that the startupProbe of sidecar name passed
// for its run that began at run (OpStarted). A result about an earlier
// run is ignored.
func (s *supervisor) Started(name string, run time.Time) error {
	c, err := s.byName(name)
	if err != nil {
		return err
	}
	if !c.sidecar {
		return fmt.Errorf("container %s of pod %s is not a sidecar init container", name, s.cfg.Key)
	}
	if c.pid != 0 && c.startedAt.Equal(run) && !c.status.Started {
		s.markStarted(c)
	}
	return nil
}

// PreStopped tells the infra that the preStop hook of sidecar name ended
// for its run that began at run, which waits for it at the pod's end
// (terminate): the run gets its stop signal now. News of another run, or
// of a run that does not wait, is ignored.
func (s *supervisor) PreStopped(name string, run time.Time) error {
	c, err := s.byName(name)
	if err != nil {
		return err
	}
	if !c.sidecar {
		return fmt.Errorf("container %s of pod %s is not a sidecar init container", name, s.cfg.Key)
	}
	if c.pid == 0 || !c.startedAt.Equal(run) || !c.status.PreStop {
		return nil
	}
	c.status.PreStop = false
	s.signalStop(c)
	return nil
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
	if f := c.updated; f != nil && c.next == nil {
		c.updated = nil
		defer f()
	}
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
	c.termSent = false
	c.status.PreStop = false
	c.status.State = kube.ContainerState{Running: &kube.StateRunning{StartedAt: c.startedAt, StartTimings: r.timings}}
	s.event(c, kube.EventNormal, kube.EventCreated, "Created container "+c.cfg.Name)
	s.event(c, kube.EventNormal, kube.EventStarted, "Started container "+c.cfg.Name)
	s.log.Info("container started", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", r.pid, "restartCount", c.status.RestartCount)
	switch ws, exited := s.early[r.pid]; {
	case exited:
		delete(s.early, r.pid)
		s.Exited(r.pid, ws)
	case c.next != nil && !s.stopping && !s.halted:
		// Updated while it started: this run has the old definition.
		s.stopForUpdate(c, 0)
	case s.stopping || s.halted:
		// Started while the pod ends: it is stopped in its turn, or
		// killed at once when the grace period is over.
		if s.cancelGrace == nil {
			if err := s.os.signal(r.pid, syscall.SIGKILL); err != nil {
				s.log.Warn("signal container", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", r.pid, "signal", syscall.SIGKILL, "err", err)
			}
			return
		}
		s.terminate()
	case c.sidecar && !c.cfg.WaitStarted:
		// A sidecar without a startupProbe is started once it runs.
		s.markStarted(c)
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
	if s.stopping || s.halted || s.holding {
		s.checkStopped()
		return
	}
	if c.next != nil {
		s.runNext(c)
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
	c.status.Started = false
	c.status.PreStop = false
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

// finish records a terminated run and applies the restart policy: a
// sidecar is restarted whatever the pod's policy, until the pod ends.
func (s *supervisor) finish(c *ctr, t *kube.StateTerminated) {
	c.status.State = kube.ContainerState{Terminated: t}
	switch {
	case c.next != nil && !s.stopping && !s.halted && !s.holding:
		s.runNext(c)
	case s.stopping || s.halted:
		s.terminate()
		s.checkStopped()
	case s.holding:
		s.checkStopped()
	case c.sidecar || ShouldRestart(s.cfg.RestartPolicy, int(t.ExitCode), c.isInit):
		s.scheduleRestart(c, t.FinishedAt.Sub(t.StartedAt))
	case c.isInit && t.ExitCode == 0:
		s.advance()
	case s.completed():
		// Its containers are done for good: the sidecars go too.
		s.log.Info("pod completed; stopping what still runs", "pod", s.cfg.Key)
		s.halt()
	}
}

// completed reports whether the pod's containers are done for good, the
// restart policy having been applied to the last exit: an init container
// (not a sidecar) failed and is not retried, or every regular container
// ended and none restarts. A Job-shaped pod then completes even though
// its sidecars run.
func (s *supervisor) completed() bool {
	inits := make([]kube.ContainerState, 0, len(s.inits))
	for _, c := range s.inits {
		if !c.sidecar {
			inits = append(inits, c.status.State)
		}
	}
	ctrs := make([]kube.ContainerState, len(s.ctrs))
	for i, c := range s.ctrs {
		ctrs[i] = c.status.State
	}
	return podCompleted(inits, ctrs, s.appsStarted)
}

// podCompleted is completed's rule over the states of the init containers
// that are not sidecars and of the regular containers: a container whose
// run ended and that restarts waits (CrashLoopBackOff), one that ended
// for good is terminated.
func podCompleted(inits, ctrs []kube.ContainerState, appsStarted bool) bool {
	for _, st := range inits {
		if t := st.Terminated; t != nil && t.ExitCode != 0 {
			return true
		}
	}
	if !appsStarted {
		return false
	}
	for _, st := range ctrs {
		if st.Terminated == nil {
			return false
		}
	}
	return true
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

// Update gives the named regular containers a new definition (an image,
// command, environment, mounts... changed in the pod's spec), as the
// kubelet restarts a container whose spec changed: a running one gets a
// Killing event ("definition changed"), SIGTERM and SIGKILL after grace,
// and its next run, with the new definition, starts at once when it ended
// (a restart: the restart count goes up, the back-off starts afresh); one
// waiting for a restart or a retry starts with it at once; one that ended
// for good, or whose pod still runs its init containers, keeps it for
// when it runs. A container whose definition is already ctrs' is left
// alone, so a daemon may repeat an Update it does not know the outcome of.
// The init containers and the set of containers never change: those
// replace the pod. done is called once every restarted container's new run
// started (or failed to), or the pod began to stop; nothing changes and
// done is never called when Update returns an error.
func (s *supervisor) Update(ctrs []ContainerConfig, grace time.Duration, done func()) error {
	if s.stopping {
		return fmt.Errorf("update pod %s: %w", s.cfg.Key, errStopping)
	}
	if err := validateContainers(s.cfg.Key, nil, ctrs); err != nil {
		return err
	}
	targets := make([]*ctr, len(ctrs))
	for i := range ctrs {
		c, err := s.byName(ctrs[i].Name)
		if err != nil {
			return err
		}
		if c.isInit {
			return fmt.Errorf("update pod %s: %s is an init container: %w", s.cfg.Key, c.cfg.Name, ErrInvalidConfig)
		}
		targets[i] = c
	}
	waiting := 0
	answered := func() {
		if waiting--; waiting == 0 {
			done()
		}
	}
	waiting++ // until every container below was seen to
	for i, c := range targets {
		next := ctrs[i]
		if sameDefinition(c.next, &next) || c.next == nil && sameDefinition(c.cfg, &next) {
			continue
		}
		s.log.Info("updating container", "pod", s.cfg.Key, "container", next.Name, "running", c.pid != 0)
		switch {
		case c.pid != 0 || c.starting:
			c.next = &next
			if c.updated == nil {
				waiting++
				c.updated = answered
			}
			if c.pid != 0 {
				s.event(c, kube.EventNormal, kube.EventKilling, "Container "+c.cfg.Name+" definition changed, will be restarted")
				s.stopForUpdate(c, grace)
			}
		case c.cancelRestart != nil:
			c.cancelRestart()
			c.next = &next
			waiting++
			c.updated = answered
			s.runNext(c)
		default:
			c.cfg = &next
		}
	}
	answered()
	return nil
}

// stopForUpdate ends c's current run for an Update: its stop signal, SIGKILL after
// grace (at once without one); finish then starts the next run.
func (s *supervisor) stopForUpdate(c *ctr, grace time.Duration) {
	pid, startedAt := c.pid, c.startedAt
	kill := func() {
		if c.pid != pid || !c.startedAt.Equal(startedAt) {
			return
		}
		if err := s.os.signal(pid, syscall.SIGKILL); err != nil {
			s.log.Warn("signal container", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", pid, "signal", syscall.SIGKILL, "err", err)
		}
	}
	if grace <= 0 {
		kill()
		return
	}
	sig := c.cfg.stopSignal()
	if err := s.os.signal(pid, sig); err != nil {
		s.log.Warn("signal container", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", pid, "signal", sig, "err", err)
	}
	s.os.afterFunc(grace, kill)
}

// runNext starts c's next run with the definition an Update gave it. The
// run that ended (if any) becomes its last state; a changed definition is
// a new container as far as the back-off goes.
func (s *supervisor) runNext(c *ctr) {
	c.cfg, c.next = c.next, nil
	c.cancelRestart = nil
	c.createFailed = false
	c.backoff = 0
	if t := c.status.State.Terminated; t != nil {
		c.status.LastState = kube.ContainerState{Terminated: t}
	}
	s.run(c)
}

// sameDefinition reports whether a container run with a would run as one
// with b: equal but for what a host restart carries over.
func sameDefinition(a, b *ContainerConfig) bool {
	if a == nil || b == nil {
		return false
	}
	enc := func(c ContainerConfig) []byte {
		c.RestartCount, c.LastState = 0, nil
		out, _ := json.Marshal(c)
		return out
	}
	return bytes.Equal(enc(*a), enc(*b))
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
	if s.stopping || s.halted {
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

// Stop begins the tear-down: no more restarts, its stop signal (SIGTERM
// unless it has another) to the running containers in stop order
// (terminate), SIGKILL after grace. done is
// called once no container runs.
func (s *supervisor) Stop(grace time.Duration, done func(error)) {
	s.stopWaiters = append(s.stopWaiters, done)
	first := !s.stopping
	s.stopping = true
	if s.cancelDeadline != nil {
		s.cancelDeadline()
		s.cancelDeadline = nil
	}
	s.cancelRestarts()
	if first {
		s.terminate()
	}
	if grace <= 0 {
		s.killAll()
	} else if first {
		if s.cancelGrace != nil {
			s.cancelGrace()
		}
		s.cancelGrace = s.os.afterFunc(grace, s.killAll)
	}
	s.checkStopped()
}

// terminate sends its stop signal to each running container whose turn
// it is (stopTurn), each run once, with a Killing event. It is called
// again after each exit while the pod ends. A sidecar with a preStop hook
// gets no signal yet: its status shows PreStop, which the daemon's watch
// sees; the daemon runs the hook and says when it ended (PreStopped).
// The sidecars' turns are decided here, so this is where their hooks are
// asked for, whether the pod ends on a Stop or on its own (halt): a Job
// whose containers completed, a deadline. Without a daemon to answer, the
// sidecar waits for SIGKILL at the end of the grace period.
func (s *supervisor) terminate() {
	all := slices.Concat(s.inits, s.ctrs)
	states := make([]stopState, len(all))
	for i, c := range all {
		states[i] = stopState{sidecar: c.sidecar, running: c.pid != 0, signalled: c.termSent}
	}
	for _, i := range stopTurn(states) {
		c := all[i]
		c.termSent = true
		s.event(c, kube.EventNormal, kube.EventKilling, "Stopping container "+c.cfg.Name)
		if c.sidecar && c.cfg.PreStopHook {
			s.log.Info("waiting for the sidecar's preStop hook", "pod", s.cfg.Key, "container", c.cfg.Name)
			c.status.PreStop = true
			continue
		}
		s.signalStop(c)
	}
}

// signalStop sends c's running process its stop signal.
func (s *supervisor) signalStop(c *ctr) {
	sig := c.cfg.stopSignal()
	if err := s.os.signal(c.pid, sig); err != nil {
		s.log.Warn("signal container", "pod", s.cfg.Key, "container", c.cfg.Name, "pid", c.pid, "signal", sig, "err", err)
	}
}

// stopState is one container (init containers first, in order, then the
// regular ones) as the pod's end sees it.
type stopState struct{ sidecar, running, signalled bool }

// stopTurn says which containers get SIGTERM now while a pod ends, as
// Kubernetes orders it: every running container that is not a sidecar
// at once; the sidecars only once none of those runs, one at a time, the
// last declared first.
func stopTurn(cs []stopState) []int {
	var now []int
	others := false
	for i, c := range cs {
		if c.running && !c.sidecar {
			others = true
			if !c.signalled {
				now = append(now, i)
			}
		}
	}
	if others {
		return now
	}
	for i := len(cs) - 1; i >= 0; i-- {
		if c := cs[i]; c.sidecar && c.running {
			if c.signalled {
				return nil
			}
			return []int{i}
		}
	}
	return nil
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
	if len(s.byPID) > 0 || s.pending > 0 {
		return
	}
	if s.cancelGrace != nil {
		s.cancelGrace()
		s.cancelGrace = nil
	}
	if !s.stopping {
		return
	}
	waiters := s.stopWaiters
	s.stopWaiters = nil
	for _, done := range waiters {
		done(nil)
	}
	for _, c := range s.ctrs {
		if f := c.updated; f != nil {
			c.next, c.updated = nil, nil
			f()
		}
	}
}

// Running reports whether any container process is alive.
func (s *supervisor) Running() bool { return len(s.byPID) > 0 }

// Status returns a snapshot; it shares no mutable memory with s.
func (s *supervisor) Status() PodStatus {
	st := s.self
	st.Version = ProtocolVersion
	st.Started, st.StartedAt, st.Stopping = s.started, s.startedAt, s.stopping
	st.Reason, st.Message = s.reason, s.message
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
