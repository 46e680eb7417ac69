package probe

import (
	"fmt"

	"github.com/berth-project/berth/kube"
)

// Result is the outcome of one probe run, or a probe's current result.
type Result int

// The results. Warning is a checker's success that deserves an event (an
// HTTP redirect to another host, not followed); a probe's current result
// is never Warning. Unknown from a checker is the kubelet's "probe errored"
// (the probe could not be run: a named port that does not exist, a network
// namespace that cannot be entered): it is reported and then thrown away,
// counting neither as a success nor as a failure.
const (
	Unknown Result = iota
	Success
	Failure
	Warning
)

func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	case Warning:
		return "Warning"
	}
	return "Unknown"
}

// Type is the kind of a probe.
type Type int

// The three probe types.
const (
	Liveness Type = iota
	Readiness
	Startup
)

// String returns the type as the kubelet's events spell it.
func (t Type) String() string {
	switch t {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	case Startup:
		return "Startup"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// The kubelet's event reasons for probe runs.
const (
	ReasonUnhealthy    = kube.EventUnhealthy
	ReasonProbeWarning = "ProbeWarning"
)

// Event is a Warning event for the container, worded as the kubelet's.
type Event struct {
	Reason  string
	Message string
}

// runEvent is the event the kubelet records for one probe run with this
// result and output: every failed or errored run, every warning, and
// nothing for a success.
func runEvent(t Type, r Result, output string) *Event {
	switch r {
	case Failure:
		return &Event{ReasonUnhealthy, fmt.Sprintf("%s probe failed: %s", t, output)}
	case Unknown:
		return &Event{ReasonUnhealthy, fmt.Sprintf("%s probe errored: %s", t, output)}
	case Warning:
		return &Event{ReasonProbeWarning, fmt.Sprintf("%s probe warning: %s", t, output)}
	}
	return nil
}

// Report is what the state machine tells the wiring after a probe run.
type Report struct {
	Container string
	Type      Type
	// Result is the probe's current result after this run: it changes
	// only when a threshold is crossed.
	Result Result
	// Changed says Result differs from the result before this run. A
	// change of a liveness or startup probe to Failure means: kill the
	// container, and let its restart policy decide what comes next.
	Changed bool
	// Output is the checker's output of this run.
	Output string
	// Ran says the report is a probe run's, whose own result (before any
	// threshold: Success, Failure, Warning or Unknown for an errored run)
	// is RunResult; a stopped container's readiness report is no run.
	Ran       bool
	RunResult Result
	// Event is the event of this run, nil after a plain success.
	Event *Event
	// GracePeriodSeconds is the probe's terminationGracePeriodSeconds for
	// a liveness or startup failure; nil means the pod's.
	GracePeriodSeconds *int64
}

// Kill says the report asks for the container to be killed: a liveness or
// startup probe whose result has just become Failure.
func (r Report) Kill() bool {
	return r.Changed && r.Result == Failure && r.Type != Readiness
}
