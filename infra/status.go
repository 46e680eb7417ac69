package infra

import (
	"time"

	"github.com/berth-project/berth/container"
)

// Reasons in container states, as Kubernetes reports them.
const (
	ReasonCompleted  = "Completed"
	ReasonError      = "Error"
	ReasonOOMKilled  = "OOMKilled"
	ReasonStartError = "StartError"
	// ReasonCreateContainerError is a container waiting to retry a run that
	// could not be created (container.IsCreateError).
	ReasonCreateContainerError = "CreateContainerError"
	ReasonCrashLoopBackOff     = "CrashLoopBackOff"
	ReasonPodInitializing      = "PodInitializing"
)

// PodStatus is everything the infra knows; the daemon computes the pod's
// phase and conditions from it.
type PodStatus struct {
	// Version is the infra's ProtocolVersion.
	Version int `json:"version"`
	// PID is the infra's pid in the host pid namespace and StartTime its
	// start time in clock ticks since boot (/proc/PID/stat field 22), so
	// that a reused PID is never mistaken for the infra.
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	// Started tells whether Start was received, and when.
	Started   bool      `json:"started"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	// Stopping is set once Stop, Shutdown or SIGTERM began the tear-down.
	Stopping       bool              `json:"stopping,omitempty"`
	InitContainers []ContainerStatus `json:"initContainers,omitempty"`
	Containers     []ContainerStatus `json:"containers"`
	// Events are the most recent container events (at most MaxEvents),
	// oldest first. The infra keeps them, so they outlive a daemon restart.
	Events []Event `json:"events,omitempty"`
}

// ContainerStatus mirrors Kubernetes' ContainerStatus.
type ContainerStatus struct {
	Name string `json:"name"`
	// PID is the container's init process in the infra's pid namespace
	// (the host's, unless SharePID); 0 when not running.
	PID          int            `json:"pid,omitempty"`
	State        ContainerState `json:"state"`
	LastState    ContainerState `json:"lastState"`
	RestartCount int            `json:"restartCount"`
	// LogPath is the current run's CRI log file.
	LogPath string `json:"logPath,omitempty"`
}

// ContainerState holds exactly one of its fields (LastState: at most one).
// The pointed-to values are never modified once set, only replaced, so a
// copied ContainerStatus is a safe snapshot.
type ContainerState struct {
	Waiting    *StateWaiting    `json:"waiting,omitempty"`
	Running    *StateRunning    `json:"running,omitempty"`
	Terminated *StateTerminated `json:"terminated,omitempty"`
}

// StateWaiting is a container not yet (re)started.
type StateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// StateRunning is a running container.
type StateRunning struct {
	StartedAt time.Time `json:"startedAt"`
	// StartTimings break this run's start down by step.
	StartTimings container.StartTimings `json:"startTimings"`
}

// StateTerminated is a finished run. ExitCode is 128+Signal for a run ended
// by a signal.
type StateTerminated struct {
	ExitCode   int       `json:"exitCode"`
	Signal     int       `json:"signal,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt"`
}
