package probe

import "time"

// State is the pure state machine of one container's probes, after the
// kubelet's prober workers. It is told when the container starts and
// stops, says which probes are due (Take), and turns each probe run into a
// Report (Record). Times come from the caller: no clock, no goroutine.
//
// The rules:
//   - a probe runs first at the container's start plus initialDelaySeconds,
//     then every periodSeconds;
//   - while a startup probe has not succeeded, liveness and readiness do
//     not run; once it has, it runs no more for this container run;
//   - readiness starts as Failure, liveness as Success, startup as Unknown
//     (the container is not started until its startup probe succeeds);
//   - the result changes only after failureThreshold failures or
//     successThreshold successes in a row; a Warning counts as a success,
//     an Unknown (the probe could not be run) as nothing;
//   - a liveness or startup probe whose result becomes Failure holds (runs
//     no more) until the container's next start, when everything resets;
//   - a container that is not running is not probed, and is not ready.
type State struct {
	container string
	probes    [3]*probeState // by Type; nil when not configured
	running   bool
	startedAt time.Time
	// gen counts the container's starts, so that a run taken before a
	// restart is not recorded after it.
	gen int
}

type probeState struct {
	spec     Spec
	result   Result
	last     Result
	run      int
	onHold   bool
	inFlight bool
	next     time.Time
	// taken is when the run in flight, or the last, was taken.
	taken time.Time
	// succeeded: a run succeeded in this run of the container.
	succeeded bool
}

// Run names a probe run that Take handed out.
type Run struct {
	Type Type
	gen  int
}

// NewState returns the state of container's probes; specs holds one
// entry per configured probe.
func NewState(container string, specs ...Spec) *State {
	s := &State{container: container}
	for _, sp := range specs {
		s.probes[sp.Type] = &probeState{spec: sp, result: initialResult(sp.Type)}
	}
	return s
}

func initialResult(t Type) Result {
	switch t {
	case Readiness:
		return Failure
	case Liveness:
		return Success
	}
	return Unknown
}

// Started says whether the container counts as started: it runs, and its
// startup probe (if any) has succeeded.
func (s *State) Started() bool {
	if !s.running {
		return false
	}
	p := s.probes[Startup]
	return p == nil || p.result == Success
}

// Ready says whether the container counts as ready: started, and its
// readiness probe (if any) succeeds.
func (s *State) Ready() bool {
	if !s.Started() {
		return false
	}
	p := s.probes[Readiness]
	return p == nil || p.result == Success
}

// Result is the current result of the probe of type t (Unknown when the
// container has none).
func (s *State) Result(t Type) Result {
	if p := s.probes[t]; p != nil {
		return p.result
	}
	return Unknown
}

// ContainerStarted resets every probe for a new run of the container that
// began at at. A start without a stop first (the stop was missed) stops
// the earlier run, and returns its reports.
func (s *State) ContainerStarted(at time.Time) []Report {
	var reports []Report
	if s.running {
		reports = s.ContainerStopped()
	}
	s.running, s.startedAt = true, at
	s.gen++
	for _, p := range s.probes {
		if p != nil {
			*p = probeState{spec: p.spec, result: initialResult(p.spec.Type), next: at.Add(p.spec.InitialDelay)}
		}
	}
	return reports
}

// ContainerStopped stops probing until the next start. A readiness result
// that was Success becomes Failure, and its report says so.
func (s *State) ContainerStopped() []Report {
	s.running = false
	s.gen++
	var reports []Report
	for _, p := range s.probes {
		if p == nil {
			continue
		}
		p.inFlight = false
		if p.spec.Type == Readiness && p.result != Failure {
			p.result = Failure
			reports = append(reports, Report{Container: s.container, Type: Readiness, Result: Failure, Changed: true})
		}
	}
	return reports
}

// active says whether probe p may run, whenever it is due.
func (s *State) active(p *probeState) bool {
	if p == nil || !s.running || p.onHold || p.inFlight {
		return false
	}
	if p.spec.Type == Startup {
		return !s.Started()
	}
	return s.Started()
}

// Take returns the probe runs due at now and marks them in flight; each
// must come back through Record. A probe is due once now reaches at of
// its type, due time and whether it is settled (as Upcoming gives them):
// the instant its runner wakes for it, which may be a grid's tick before
// or after its due time.
func (s *State) Take(now time.Time, at func(t Type, due time.Time, settled bool) time.Time) []Run {
	var runs []Run
	for _, p := range s.probes {
		if s.active(p) && !now.Before(at(p.spec.Type, p.next, s.settled(p))) {
			p.inFlight, p.taken = true, now
			runs = append(runs, Run{Type: p.spec.Type, gen: s.gen})
		}
	}
	return runs
}

// Upcoming calls f with the type and due time of each probe that will
// run unless something changes, and whether its result is settled: it
// has succeeded in this run of the container and its last run agreed
// with its result, so that its next run is most likely one more of the
// same.
func (s *State) Upcoming(f func(t Type, due time.Time, settled bool)) {
	for _, p := range s.probes {
		if s.active(p) {
			f(p.spec.Type, p.next, s.settled(p))
		}
	}
}

// settled says whether p's result is settled, as Upcoming tells it.
func (s *State) settled(p *probeState) bool { return p.succeeded && p.last == p.result }

// Record applies the result of run r, finished at now, and returns its
// report; ok is false for a run of an earlier container run, which is
// thrown away.
func (s *State) Record(now time.Time, r Run, result Result, output string) (rep Report, ok bool) {
	p := s.probes[r.Type]
	if p == nil || r.gen != s.gen {
		return Report{}, false
	}
	wasStarted := s.Started()
	p.inFlight = false
	// The next run is a period after this one was taken, or now if this
	// one took longer than that: a run taken late (on a grid's tick) sets
	// the schedule, so that only one run is ever late for it.
	p.next = p.taken.Add(p.spec.Period)
	if p.next.Before(now) {
		p.next = now
	}
	rep = Report{Container: s.container, Type: r.Type, Result: p.result, Output: output, Event: runEvent(r.Type, result, output),
		Ran: true, RunResult: result}
	if result == Unknown {
		return rep, true
	}
	if result == Warning {
		result = Success
	}
	p.succeeded = p.succeeded || result == Success
	if result == p.last {
		p.run++
	} else {
		p.last, p.run = result, 1
	}
	if (result == Failure && p.run < p.spec.FailureThreshold) || (result == Success && p.run < p.spec.SuccessThreshold) {
		return rep, true
	}
	rep.Changed = p.result != result
	p.result, rep.Result = result, result
	if r.Type != Readiness && result == Failure {
		p.onHold, p.run = true, 0
		rep.GracePeriodSeconds = p.spec.GracePeriodSeconds
	}
	if !wasStarted && s.Started() {
		// The startup probe has just succeeded: liveness and readiness
		// begin now, or at their initial delay if that is later.
		for _, q := range s.probes {
			if q != nil && q.spec.Type != Startup && q.next.Before(now) {
				q.next = now
			}
		}
	}
	return rep, true
}
