package infra

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ProtocolVersion is sent in every request and response. Bump it when an op
// or a field is added, so each side knows what the other understands.
// Version 2 added OpEnv and the running state's StartTimings, version 3
// OpSetEnv, version 4 ContainerConfig's termination message fields and the
// runs it carries over a host restart (RestartCount, LastState), version 5
// OpKill, version 6 OpAttach and ContainerConfig's Stdin, StdinOnce and
// TTY, version 7 sidecars (ContainerConfig's Sidecar and WaitStarted,
// OpStarted, ContainerStatus.Started), PodConfig.ActiveDeadline and the
// pod's Reason and Message, version 8 OpUpdate and ContainerConfig.Spec,
// version 9 ContainerConfig.StopSignal and OpHoldRestarts, version 10
// OpWatch, version 11 a watch that sends every change of the status but its
// events (WatchAllVersion), version 12 a sidecar's preStop hook at the pod's
// end (ContainerConfig.PreStopHook, ContainerStatus.PreStop, OpPreStopped),
// version 13 a seccomp filter given as a file (seccompload.Filter.File),
// which a daemon sends only in the Start of an infra it launched itself.
const ProtocolVersion = 13

// MinDaemonVersion is the oldest protocol whose requests an infra serves.
// Fields are only added, so every versioned daemon's requests mean what
// they meant; a request below it (one without a version, which no berth
// daemon sends) gets an error response naming both versions, and nothing
// of the pod changes. Raise it only when an op changes meaning.
const MinDaemonVersion = 1

// MaxFrame caps a frame's JSON payload.
const MaxFrame = 16 << 20

// Ops of the control protocol.
const (
	OpStatus   = "status"
	OpStart    = "start"
	OpStop     = "stop"
	OpShutdown = "shutdown"
	// OpEnv returns the environment a container's current run was started
	// with.
	OpEnv = "env"
	// OpSetEnv sets the environment of containers' next runs.
	OpSetEnv = "setenv"
	// OpKill stops one container's run (a failed liveness or startup
	// probe); its restart policy decides what comes next.
	OpKill = "kill"
	// OpAttach turns the connection, after the response, into a stream of
	// a container's run: its output, and its input with Stdin
	// (internal/attachio frames).
	OpAttach = "attach"
	// OpStarted says a sidecar's startupProbe passed for one run, which
	// lets the init containers after it start.
	OpStarted = "started"
	// OpUpdate restarts containers with new definitions (their spec
	// changed), each after its grace period.
	OpUpdate = "update"
	// OpHoldRestarts ends restarts ahead of a Stop: the pod's preStop
	// hooks run first, and a container that exits meanwhile stays exited.
	OpHoldRestarts = "holdrestarts"
	// OpWatch turns the connection, after the response, into a stream of
	// the pod's status: one more Response each time a container's run
	// starts or ends or a sidecar's Started changes.
	OpWatch = "watch"
	// OpPreStopped says the preStop hook of a sidecar whose turn to stop
	// came (ContainerStatus.PreStop) ended for one run: it gets its stop
	// signal.
	OpPreStopped = "prestopped"
)

// ErrFrameTooLarge is returned for a frame above MaxFrame.
var ErrFrameTooLarge = errors.New("frame too large")

// Request is a client's frame.
type Request struct {
	Version int    `json:"version"`
	Op      string `json:"op"`
	// GraceMillis is Stop's, Kill's and Update's grace period before
	// SIGKILL.
	GraceMillis int64 `json:"graceMillis,omitempty"`
	// InitContainers and Containers, with Start, replace those of the
	// launch config; Containers, with Update, are the new definitions of
	// the containers they name.
	InitContainers []ContainerConfig `json:"initContainers,omitempty"`
	Containers     []ContainerConfig `json:"containers,omitempty"`
	// Container names the container of OpEnv, OpKill, OpAttach, OpStarted
	// and OpPreStopped.
	Container string `json:"container,omitempty"`
	// Run, with OpStarted and OpPreStopped, is when the run the news is
	// about began.
	Run time.Time `json:"run,omitzero"`
	// Message, with OpKill, is the Killing event's message.
	Message string `json:"message,omitempty"`
	// Envs, with OpSetEnv, maps container names to their new environment.
	Envs map[string][]string `json:"envs,omitempty"`
	// Stdin and TTY, with OpAttach, ask to send input and to use the
	// container's terminal (`berth attach -i`, `-t`).
	Stdin bool `json:"stdin,omitempty"`
	TTY   bool `json:"tty,omitempty"`
}

// Response is the infra's frame. Status is the pod status after the op.
type Response struct {
	Version int        `json:"version"`
	Error   string     `json:"error,omitempty"`
	Status  *PodStatus `json:"status,omitempty"`
	// Env is OpEnv's answer.
	Env []string `json:"env,omitempty"`
}

// writeFrame writes v as one length-prefixed JSON frame.
func writeFrame(w io.Writer, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if len(payload) > MaxFrame {
		return fmt.Errorf("encode frame of %d bytes: %w", len(payload), ErrFrameTooLarge)
	}
	buf := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	if _, err := w.Write(append(buf, payload...)); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// readFrame reads one frame into v, refusing more than MaxFrame bytes
// before reading (or allocating) the payload.
func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("read frame header: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return fmt.Errorf("read frame of %d bytes: %w", n, ErrFrameTooLarge)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return fmt.Errorf("read frame payload: %w", err)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}
