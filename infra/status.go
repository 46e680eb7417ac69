package infra

import (
	"time"

	"github.com/berth-project/berth/kube"
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
	Stopping bool `json:"stopping,omitempty"`
	// Reason and Message say why the pod failed as a whole, with its
	// containers stopped for good: kube.ReasonDeadlineExceeded.
	Reason         string            `json:"reason,omitempty"`
	Message        string            `json:"message,omitempty"`
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
	PID          int                 `json:"pid,omitempty"`
	State        kube.ContainerState `json:"state"`
	LastState    kube.ContainerState `json:"lastState"`
	RestartCount int                 `json:"restartCount"`
	// Started, for a sidecar, says its current run counts as started: it
	// runs and, with WaitStarted, the daemon said its startupProbe passed.
	Started bool `json:"started,omitempty"`
	// PreStop, for a sidecar with PreStopHook, says the pod's end reached
	// its current run, which waits for the daemon's preStop hook
	// (OpPreStopped) before its stop signal.
	PreStop bool `json:"preStop,omitempty"`
	// LogPath is the current run's CRI log file.
	LogPath string `json:"logPath,omitempty"`
}
