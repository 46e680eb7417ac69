// Package kube is the Kubernetes vocabulary berth's layers share, a leaf
// that imports nothing of berth (as runc's libcontainer/configs holds the
// types its layers exchange): container states, which the infra reports,
// the pod runtime turns into a pod's status and the API serves; pod phases,
// condition types and QoS classes; and the reasons of states and events.
package kube

import "time"

// ContainerState holds at most one of its members, as Kubernetes'
// ContainerState does. The pointed-to values are never modified once set,
// only replaced, so a copied state is a safe snapshot.
type ContainerState struct {
	Waiting    *StateWaiting    `json:"waiting,omitempty"`
	Running    *StateRunning    `json:"running,omitempty"`
	Terminated *StateTerminated `json:"terminated,omitempty"`
}

// StateWaiting is a container not yet (re)started, or backing off.
type StateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// StateRunning is a running container.
type StateRunning struct {
	StartedAt time.Time `json:"startedAt"`
	// StartTimings break this run's start down by step, as the infra
	// reports them; the API leaves them out (zero).
	StartTimings StartTimings `json:"startTimings,omitzero"`
}

// StateTerminated is a finished run. ExitCode is 128+Signal for a run ended
// by a signal.
type StateTerminated struct {
	ExitCode   int32     `json:"exitCode"`
	Signal     int32     `json:"signal,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt"`
}

// Pod phases, as Kubernetes names them.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// Pod condition types the kubelet sets, in the order it lists them, and
// their statuses.
const (
	PodReadyToStartContainers = "PodReadyToStartContainers"
	PodInitialized            = "Initialized"
	PodReady                  = "Ready"
	ContainersReady           = "ContainersReady"
	PodScheduled              = "PodScheduled"

	ConditionTrue  = "True"
	ConditionFalse = "False"
)

// QoS classes, as Kubernetes computes them from the containers' requests
// and limits.
const (
	QOSGuaranteed = "Guaranteed"
	QOSBurstable  = "Burstable"
	QOSBestEffort = "BestEffort"
)

// Reasons of a terminated container's state.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonUnknown with ExitCodeUnknown: a run that ended with its host
	// (a reboot), whose real end nobody saw, as containerd reports a
	// container whose task a reboot ended.
	ReasonUnknown   = "Unknown"
	ExitCodeUnknown = 255
)

// Reasons that mean "this will not become Running by waiting".
const (
	ReasonInvalidManifest = "InvalidManifest"
	// ReasonCreateFailed: a pod whose create failed, or a container waiting
	// to retry a run that could not be created (container.IsCreateError).
	ReasonCreateFailed     = "CreateContainerError"
	ReasonCrashLoopBackOff = "CrashLoopBackOff"
	ReasonImageNotFound    = "ErrImageNeverPull"
	// ReasonErrImagePull and ReasonImagePullBackOff: the pull of an
	// image failed, and will be tried again after a back-off.
	ReasonErrImagePull     = "ErrImagePull"
	ReasonImagePullBackOff = "ImagePullBackOff"
	ReasonStartError       = "StartError"
	// ReasonHostPortInUse: another pod holds one of the pod's hostPorts.
	ReasonHostPortInUse = "HostPortInUse"
	// ReasonClaimInUse: another pod holds a ReadWriteOncePod claim of the
	// pod (a cluster's scheduler keeps such a pod Pending).
	ReasonClaimInUse = "ClaimInUse"
	// ReasonNoPodIP: the pod network has no free address left.
	ReasonNoPodIP = "PodIPExhausted"
	// ReasonControllerMissing: the pod asks for a limit whose cgroup
	// controller this host does not have.
	ReasonControllerMissing = "CgroupControllerMissing"
)

// Reasons of a pod or container on its way to Running, or out of it.
const (
	ReasonContainerCreating = "ContainerCreating"
	ReasonPodInitializing   = "PodInitializing"
	ReasonTerminating       = "Terminating"
	// ReasonPostStartHookError: the run's postStart hook failed; the
	// container is being killed.
	ReasonPostStartHookError = "PostStartHookError"
	// ReasonInfraUnreachable: the pod's infra process does not answer.
	ReasonInfraUnreachable = "InfraUnreachable"
	// ReasonDeadlineExceeded: the pod ran past its activeDeadlineSeconds
	// and failed (a pod's reason and its event's, as the kubelet's).
	ReasonDeadlineExceeded = "DeadlineExceeded"
)

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
	// EventFailedPostStartHook and EventFailedPreStopHook (Warning): a
	// lifecycle hook failed, with the kubelet's message.
	EventFailedPostStartHook = "FailedPostStartHook"
	EventFailedPreStopHook   = "FailedPreStopHook"
	// EventUnhealthy (Warning): a probe failed, "<Kind> probe failed:
	// <output>", as the kubelet words it.
	EventUnhealthy = "Unhealthy"
	// EventStartTimings breaks a pod's start down by phase (daemon flag
	// --timing-events).
	EventStartTimings = "StartTimings"
	// EventDNSConfigForming is kubelet's warning about a pod's DNS
	// settings (berth has no cluster DNS; limits were applied).
	EventDNSConfigForming = "DNSConfigForming"
	// EventFailedMount is kubelet's reason for a volume that cannot be
	// (re)written, such as a configMap volume whose ConfigMap went away.
	EventFailedMount = "FailedMount"
	// EventLogWriteFailed (Warning): a container's log cannot be written
	// (a full disk): the container runs on, its records are dropped until
	// EventLogWriteResumed (Normal), which says how many were.
	EventLogWriteFailed  = "LogWriteFailed"
	EventLogWriteResumed = "LogWriteResumed"
	// EventProvisioningSucceeded is the provisioner's reason (on a
	// cluster, on the claim) for a claim's volume made on a pod's first
	// use of the claim.
	EventProvisioningSucceeded = "ProvisioningSucceeded"
	// EventClaimSizeNotEnforced: a claim's declared storage size has no
	// project quota to enforce it on the state directory's file system.
	EventClaimSizeNotEnforced = "ClaimSizeNotEnforced"
	// EventResized (Normal): a container's cpu or memory changed in place,
	// its cgroup limits written while it runs (resizePolicy NotRequired).
	EventResized = "Resized"
	// EventSandboxChanged is kubelet's reason (Normal) for a pod whose
	// sandbox, berth's infra, died: what is left of it is removed and the
	// pod is made again.
	EventSandboxChanged = "SandboxChanged"
)

// StartTimings break a container's start down by step, for the "pod
// created" log line and `berth describe`: where the milliseconds go.
type StartTimings struct {
	// Clone is fork and exec of the init stage's binary (Start's
	// ForkExec, which returns once the child's execve succeeded).
	Clone time.Duration `json:"clone"`
	// Runtime is the init binary's Go runtime and package start, up to Main.
	Runtime time.Duration `json:"runtime"`
	// Cgroups is reading the config and setting oom_score_adj (the name is
	// from when the init stage joined its v1 cgroups here; it is now
	// forked into them, as it is cloned into its cgroup on v2).
	Cgroups time.Duration `json:"cgroups"`
	// Rootfs is the overlay, the system and volume mounts, and pivot_root.
	Rootfs time.Duration `json:"rootfs"`
	// Setup is masking, hostname, user lookup, credentials and
	// capabilities, up to the execve of the user's program.
	Setup time.Duration `json:"setup"`
	// Exec is the execve of the user's program.
	Exec time.Duration `json:"exec"`
}

// Total is the whole start.
func (t StartTimings) Total() time.Duration {
	return t.Clone + t.Runtime + t.Cgroups + t.Rootfs + t.Setup + t.Exec
}

// berth's own reasons, beside the kubelet's: a pod held by berth.io/after
// (Pending), and a pod the rollout gate returned to its last good spec.
const (
	ReasonWaitingForDependency = "WaitingForDependency"
	ReasonDependencyMissing    = "DependencyMissing"
	ReasonDependencyCycle      = "DependencyCycle"
	ReasonInvalidDependency    = "InvalidDependency"
	ReasonRolledBack           = "RolledBack"
	// EventRolloutPassed: a changed spec became ready and is the pod's
	// last good spec.
	EventRolloutPassed = "RolloutPassed"
)
