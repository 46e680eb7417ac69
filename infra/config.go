package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/kube"
)

// Restart policies, as in a Pod's spec.restartPolicy.
const (
	RestartAlways    = "Always"
	RestartOnFailure = "OnFailure"
	RestartNever     = "Never"
)

// OOM event file formats (ContainerConfig.OOMFormat).
const (
	// OOMFormatV2 is cgroup v2 memory.events.
	OOMFormatV2 = "v2"
	// OOMFormatV1 is cgroup v1 memory.oom_control.
	OOMFormatV1 = "v1"
)

// OOMScoreAdj is the infra's oom_score_adj: the kubelet's for a pod's
// pause container.
const OOMScoreAdj = -998

// PodConfig is what the daemon hands the infra on its config fd, as JSON.
type PodConfig struct {
	// Key is "namespace/name"; UID is the pod's metadata.uid.
	Key string `json:"key"`
	UID string `json:"uid"`
	// Hostname is set when the infra owns the UTS namespace (!HostNetwork).
	Hostname string `json:"hostname"`
	// Socket is the control socket path; its directory must exist, be owned
	// by root and not be accessible to anyone else.
	Socket string `json:"socket"`
	// LogDir is the pod's log directory (<logdir>/<ns>_<pod>_<uid>); logs go
	// to <LogDir>/<container>/<restartCount>.log.
	LogDir string `json:"logDir"`
	// LogMaxSize is the size in bytes past which a run's log file is
	// rotated, and LogMaxFiles how many of a run's files are kept, the
	// current one included (kubelet's containerLogMaxSize and
	// containerLogMaxFiles); zero selects crilog.DefaultMaxSize and
	// crilog.DefaultMaxFiles.
	LogMaxSize  int64 `json:"logMaxSize,omitempty"`
	LogMaxFiles int   `json:"logMaxFiles,omitempty"`

	// HostNetwork keeps the host's net and uts namespaces; HostIPC the
	// host's ipc namespace; HostPID runs the containers in the host's pid
	// namespace; SharePID gives the pod one pid namespace with the infra as
	// its PID 1.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	HostIPC     bool `json:"hostIPC,omitempty"`
	HostPID     bool `json:"hostPID,omitempty"`
	SharePID    bool `json:"sharePID,omitempty"`

	// CgroupProcs are the cgroup.procs files of the infra's v1 cgroups,
	// which it joins itself, every thread, as soon as it has read this
	// config; a Start or Update waits for the join (containers are cloned
	// in the infra's cgroups) and fails with it. Empty on v2, where it is
	// cloned into its cgroup.
	CgroupProcs []string `json:"cgroupProcs,omitempty"`

	// Sysctls are written, in order, in the infra's own namespaces before
	// it reports ready, so before any container starts.
	Sysctls []Sysctl `json:"sysctls,omitempty"`

	RestartPolicy string        `json:"restartPolicy"`
	Backoff       BackoffConfig `json:"backoff"`
	// GracePeriod is used when the infra itself gets SIGTERM, and when
	// the pod ends on its own (completed, or past its deadline).
	GracePeriod time.Duration `json:"gracePeriod"`
	// ActiveDeadline, when set, is how long the pod may run from its
	// Start (spec.activeDeadlineSeconds): then it fails with
	// DeadlineExceeded and its containers are stopped for good.
	ActiveDeadline time.Duration `json:"activeDeadline,omitempty"`

	// InitContainers and Containers may be left empty at launch and given
	// with Start instead.
	InitContainers []ContainerConfig `json:"initContainers,omitempty"`
	Containers     []ContainerConfig `json:"containers,omitempty"`
}

// Sysctl is one sysctl of the pod: its dotted name (for messages), its
// path below /proc/sys, the value to write and the namespace it belongs to
// ("net", "ipc" or "uts"), which the infra must own.
type Sysctl struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Value     string `json:"value"`
	Namespace string `json:"namespace"`
}

// BackoffConfig is the restart back-off: Initial doubling up to Max, back to
// Initial after a run of at least ResetAfter.
type BackoffConfig struct {
	Initial    time.Duration `json:"initial"`
	Max        time.Duration `json:"max"`
	ResetAfter time.Duration `json:"resetAfter"`
}

// DefaultBackoff is the kubelet's: 10s doubling to 5m, reset after 10m.
var DefaultBackoff = BackoffConfig{Initial: 10 * time.Second, Max: 5 * time.Minute, ResetAfter: 10 * time.Minute}

// ContainerConfig is one container of the pod.
type ContainerConfig struct {
	Name string `json:"name"`
	// Init is what the container init stage executes.
	Init container.Config `json:"init"`
	// CgroupDir is the v2 cgroup the container is cloned into; on v1 the
	// cgroup.procs files are in Init.CgroupProcs and this is empty.
	CgroupDir string `json:"cgroupDir,omitempty"`
	// OOMEventsFile is read before start and after exit; an increase of its
	// oom_kill counter with an exit by SIGKILL means OOMKilled.
	OOMEventsFile string `json:"oomEventsFile,omitempty"`
	OOMFormat     string `json:"oomFormat,omitempty"`
	// TerminationMessageFile is the host file bound at the container's
	// terminationMessagePath (a path in a directory only root can write):
	// the infra empties it before each run and reads it once the run ends.
	// Empty: the container has none.
	TerminationMessageFile string `json:"terminationMessageFile,omitempty"`
	// TerminationMessagePolicy is File or FallbackToLogsOnError: the tail
	// of the run's log when it failed and left the file empty.
	TerminationMessagePolicy string `json:"terminationMessagePolicy,omitempty"`
	// StopSignal is the signal that stops the container (the pod's Stop,
	// Kill): lifecycle.stopSignal, else the image's STOPSIGNAL; 0 is
	// SIGTERM. SIGKILL follows once the grace period has passed.
	StopSignal syscall.Signal `json:"stopSignal,omitempty"`
	// RestartCount and LastState carry a container's runs over a host
	// restart: the restart count its last run had, and that run as far as
	// anyone knows (kube.ReasonUnknown, kube.ExitCodeUnknown). The first
	// run here is then restart RestartCount+1. Nil LastState: the first run.
	RestartCount int                   `json:"restartCount,omitempty"`
	LastState    *kube.StateTerminated `json:"lastState,omitempty"`
	// Stdin keeps a stdin stream open that `berth attach -i` writes to
	// (the container's reads block while no one does); without it stdin
	// is /dev/null. StdinOnce closes it when the first attach session
	// that sent input ends, until the next run. TTY gives the container a
	// pseudo-terminal as stdin, stdout and stderr, its output logged as
	// stdout. As the Container fields of the same names.
	Stdin     bool `json:"stdin,omitempty"`
	StdinOnce bool `json:"stdinOnce,omitempty"`
	TTY       bool `json:"tty,omitempty"`
	// Sidecar marks an init container with restartPolicy Always: the next
	// init container starts once it started, it is restarted whatever the
	// pod's policy while the pod runs, and it is stopped after the regular
	// containers, last declared first.
	Sidecar bool `json:"sidecar,omitempty"`
	// WaitStarted, on a sidecar with a startupProbe or a postStart hook,
	// makes a run count as started only once the daemon says its hook
	// succeeded and its probe passed (OpStarted).
	WaitStarted bool `json:"waitStarted,omitempty"`
	// PreStopHook, on a sidecar, says the daemon runs a preStop hook before
	// its stop signal when the pod ends: at its turn (stopTurn) its run
	// shows PreStop and gets the signal only once the daemon said the hook
	// ended (OpPreStopped), or SIGKILL at the end of the grace period.
	PreStopHook bool `json:"preStopHook,omitempty"`
	// Spec is the container's spec the daemon made this config from,
	// opaque to the infra: an Update whose Spec differs restarts the
	// container even when its run would be the same (a probe changed, or
	// an image reference now names the same image), one with the same
	// Spec and run is a repeat and changes nothing.
	Spec json.RawMessage `json:"spec,omitempty"`
}

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid infra config")

// Validate checks what the infra relies on: names usable as log directory
// names, a known restart policy and OOM format, and sane back-off values.
func (c *PodConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: pod %s: %s", ErrInvalidConfig, c.Key, fmt.Sprintf(format, args...)))
	}
	if c.Key == "" {
		bad("key is empty")
	}
	if c.Socket == "" || !strings.HasPrefix(c.Socket, "/") {
		bad("socket %q must be an absolute path", c.Socket)
	}
	if c.LogDir == "" || !strings.HasPrefix(c.LogDir, "/") {
		bad("logDir %q must be an absolute path", c.LogDir)
	}
	if c.LogMaxSize < 0 {
		bad("logMaxSize %d is negative", c.LogMaxSize)
	}
	if c.LogMaxFiles < 0 || c.LogMaxFiles == 1 {
		bad("logMaxFiles %d must be 0 (default) or at least 2: rotation keeps the current file and one more", c.LogMaxFiles)
	}
	switch c.RestartPolicy {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		bad("restartPolicy %q is not Always, OnFailure or Never", c.RestartPolicy)
	}
	b := c.Backoff
	if b.Initial <= 0 || b.Max < b.Initial || b.ResetAfter <= 0 {
		bad("backoff %+v needs 0 < initial <= max and resetAfter > 0", b)
	}
	if c.GracePeriod < 0 {
		bad("gracePeriod %s is negative", c.GracePeriod)
	}
	if c.ActiveDeadline < 0 {
		bad("activeDeadline %s is negative", c.ActiveDeadline)
	}
	for _, p := range c.CgroupProcs {
		if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/cgroup.procs") || strings.Contains(p, "/../") {
			bad("cgroup file %q is not an absolute path to a cgroup.procs file", p)
		}
	}
	for _, s := range c.Sysctls {
		if !validSysctlPath(s.Path) || strings.ContainsAny(s.Value, "\n\r\x00") {
			bad("sysctl %s: path %q or value %q is not one a sysctl can have", s.Name, s.Path, s.Value)
		}
		if !c.ownsNamespace(s.Namespace) {
			bad("sysctl %s: the infra does not own a %q namespace it could set it in", s.Name, s.Namespace)
		}
	}
	errs = append(errs, validateContainers(c.Key, c.InitContainers, c.Containers))
	return errors.Join(errs...)
}

// validateContainers checks the container lists, given at launch or with
// Start: names usable as log directory names, each once, known OOM formats.
func validateContainers(key string, inits, ctrs []ContainerConfig) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: pod %s: %s", ErrInvalidConfig, key, fmt.Sprintf(format, args...)))
	}
	for _, ctr := range ctrs {
		if ctr.Sidecar || ctr.WaitStarted || ctr.PreStopHook {
			bad("container %s: only an init container can be a sidecar", ctr.Name)
		}
	}
	for _, ctr := range inits {
		if ctr.WaitStarted && !ctr.Sidecar {
			bad("init container %s: waitStarted is for sidecars only", ctr.Name)
		}
		if ctr.PreStopHook && !ctr.Sidecar {
			bad("init container %s: preStopHook is for sidecars only", ctr.Name)
		}
	}
	seen := map[string]bool{}
	for _, ctr := range append(append([]ContainerConfig{}, inits...), ctrs...) {
		if !validName(ctr.Name) {
			bad("container name %q is not a valid file name", ctr.Name)
		}
		if seen[ctr.Name] {
			bad("container name %q is used twice", ctr.Name)
		}
		seen[ctr.Name] = true
		switch ctr.OOMFormat {
		case "", OOMFormatV1, OOMFormatV2:
		default:
			bad("container %s: oomFormat %q is not v1 or v2", ctr.Name, ctr.OOMFormat)
		}
		switch ctr.TerminationMessagePolicy {
		case "", TerminationMessageFile, TerminationMessageFallbackToLogs:
		default:
			bad("container %s: terminationMessagePolicy %q is not File or FallbackToLogsOnError", ctr.Name, ctr.TerminationMessagePolicy)
		}
		if ctr.StopSignal < 0 || ctr.StopSignal > maxSignal {
			bad("container %s: stopSignal %d is not a signal", ctr.Name, ctr.StopSignal)
		}
		if f := ctr.TerminationMessageFile; f != "" && !strings.HasPrefix(f, "/") {
			bad("container %s: terminationMessageFile %q must be an absolute path", ctr.Name, f)
		}
	}
	return errors.Join(errs...)
}

// maxSignal is SIGRTMAX, the highest signal number Linux has.
const maxSignal = 64

// stopSignal is the signal that stops c.
func (c *ContainerConfig) stopSignal() syscall.Signal {
	if c.StopSignal == 0 {
		return syscall.SIGTERM
	}
	return c.StopSignal
}

// ownsNamespace reports whether the infra has a namespace of its own of
// kind ns ("net", "ipc" or "uts"); with hostNetwork it has neither net nor
// uts.
func (c *PodConfig) ownsNamespace(ns string) bool {
	switch ns {
	case "net", "uts":
		return !c.HostNetwork
	case "ipc":
		return !c.HostIPC
	}
	return false
}

// validSysctlPath accepts a relative path of plain elements: it can only
// name something below /proc/sys (the write also resolves it beneath).
func validSysctlPath(p string) bool {
	if p == "" || strings.ContainsRune(p, 0) {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

// validName accepts names that are safe as one path element.
func validName(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= 253 && !strings.ContainsAny(s, "/\x00")
}
