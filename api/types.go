// Package api is the daemon's local API: Kubernetes-shaped pod objects (so
// that kubectl habits and jq scripts carry over), events, and the HTTP
// server and client that carry them over the daemon's unix socket.
package api

import (
	"time"

	"github.com/berth-project/berth/manifests"
)

// Pod is a pod as `berth get pods -o json` prints it: a Kubernetes Pod.
type Pod struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Metadata   manifests.ObjectMeta `json:"metadata"`
	Spec       manifests.PodSpec    `json:"spec"`
	Status     PodStatus            `json:"status"`
	// Berth holds what Kubernetes has no field for.
	Berth BerthInfo `json:"berth"`
}

// BerthInfo is berth's own per-pod information.
type BerthInfo struct {
	File     string    `json:"file,omitempty"`
	InfraPID int       `json:"infraPID,omitempty"`
	Problems []string  `json:"problems,omitempty"`
	Created  time.Time `json:"created,omitempty"`
}

// PodList is the answer to a list, as kubectl prints it.
type PodList struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []Pod  `json:"items"`
}

// Pod phases, as Kubernetes names them.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// PodStatus mirrors the Kubernetes PodStatus fields berth fills.
type PodStatus struct {
	Phase                 string            `json:"phase"`
	Reason                string            `json:"reason,omitempty"`
	Message               string            `json:"message,omitempty"`
	PodIP                 string            `json:"podIP,omitempty"`
	PodIPs                []PodIP           `json:"podIPs,omitempty"`
	StartTime             *time.Time        `json:"startTime,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
}

// PodIP is one pod address.
type PodIP struct {
	IP string `json:"ip"`
}

// ContainerStatus mirrors the Kubernetes ContainerStatus.
type ContainerStatus struct {
	Name         string         `json:"name"`
	State        ContainerState `json:"state"`
	LastState    ContainerState `json:"lastTerminationState"`
	Ready        bool           `json:"ready"`
	RestartCount int32          `json:"restartCount"`
	Image        string         `json:"image"`
	ImageID      string         `json:"imageID"`
	ContainerID  string         `json:"containerID,omitempty"`
	Started      *bool          `json:"started,omitempty"`
}

// ContainerState holds at most one of its members.
type ContainerState struct {
	Waiting    *StateWaiting    `json:"waiting,omitempty"`
	Running    *StateRunning    `json:"running,omitempty"`
	Terminated *StateTerminated `json:"terminated,omitempty"`
}

// StateWaiting is a container not running yet, or backing off.
type StateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// StateRunning is a running container.
type StateRunning struct {
	StartedAt time.Time `json:"startedAt"`
}

// StateTerminated is a container that exited.
type StateTerminated struct {
	ExitCode   int32     `json:"exitCode"`
	Signal     int32     `json:"signal,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	PID        int       `json:"-"`
}

// Event is something that happened to a pod (Created, Started, Killing,
// BackOff, OOMKilled, FailedValidation, ...), as `kubectl get events` shows.
// Repeats are folded into one event with a Count, seen first at FirstTime
// and last at Time.
type Event struct {
	Time      time.Time `json:"time"`
	FirstTime time.Time `json:"firstTime,omitzero"`
	Count     int32     `json:"count,omitempty"`
	Type      string    `json:"type"` // Normal or Warning
	Reason    string    `json:"reason"`
	Object    string    `json:"object"` // pod/namespace/name or file path
	Container string    `json:"container,omitempty"`
	Message   string    `json:"message"`
}

// Event types and the reasons the daemon and the infras record.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"

	EventCreated          = "Created"
	EventStarted          = "Started"
	EventKilling          = "Killing"
	EventBackOff          = "BackOff"
	EventOOMKilled        = "OOMKilled"
	EventFailed           = "Failed"
	EventFailedValidation = "FailedValidation"
	EventImageNotFound    = "ImageNotFound"
	EventPulling          = "Pulling"
	EventPulled           = "Pulled"
	EventDeleted          = "Deleted"
	// EventStartTimings breaks a pod's start down by phase (daemon flag
	// --timing-events).
	EventStartTimings = "StartTimings"
	// EventDNSConfigForming is kubelet's warning about a pod's DNS
	// settings (berth has no cluster DNS; limits were applied).
	EventDNSConfigForming = "DNSConfigForming"
	// EventFailedMount is kubelet's reason for a volume that cannot be
	// (re)written, such as a configMap volume whose ConfigMap went away.
	EventFailedMount = "FailedMount"
)

// PodObject is the Object of a pod's events.
func PodObject(namespace, name string) string { return "pod/" + namespace + "/" + name }
