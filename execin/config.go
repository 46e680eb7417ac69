package execin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/berth-project/berth/container"
)

// InitSubcommand is the hidden entry point cmd/berth dispatches to Main
// before any flag parsing.
const InitSubcommand = "exec-init"

// Exit codes of a command that could not be run, as shells and Docker use
// them.
const (
	ExitCannotRun = 126
	ExitNotFound  = 127
)

// Config is everything exec-init needs, passed as JSON on its config fd.
type Config struct {
	// Target names the container in messages ("ns/pod/container").
	Target string `json:"target"`
	// PID and StartTime name the container's init process on the host.
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	// CgroupProcs are the cgroup.procs files exec-init writes itself into.
	CgroupProcs []string `json:"cgroupProcs"`

	// Args is the command; Args[0] is looked up through Env's PATH inside
	// the container when it has no slash.
	Args []string `json:"args"`
	// Process is the container's (container.Config's), with Env the one
	// the container was started with. exec-init loads the seccomp filter on
	// its locked thread, which forks the command: the command inherits it,
	// while the threads that wait for it and forward signals stay free.
	container.Process

	// TTY makes stdin the command's controlling terminal (a new session).
	TTY bool `json:"tty,omitempty"`
	// Serve makes exec-init the container run's exec helper: once in the
	// container, it runs the commands the daemon asks for on the sync fd,
	// a socket, until it closes (Args is unused; see serve_linux.go).
	Serve bool `json:"serve,omitempty"`
}

// Target is the container a command runs in, as the daemon names it
// (api.ExecTarget and pod.ExecTarget convert to it): the package takes no
// API type, so that the lean init binary, which runs exec-init for the
// daemon's exec probes, links no HTTP or YAML code.
type Target struct {
	// Pod is "namespace/name"; Container the container chosen.
	Pod, Container string
	// PID and StartTime name the container's init process on the host.
	PID       int
	StartTime uint64
	// CgroupProcs are the cgroup.procs files of the container's cgroup.
	CgroupProcs []string
	// Process is how the container's own process runs.
	container.Process
}

// Namespaces are the namespaces joined, in order; the mount namespace comes
// last, because joining it changes the root under every later path.
var Namespaces = []string{"ipc", "uts", "net", "pid", "mnt"}

// defaultTerm is TERM for -t when the caller has none.
const defaultTerm = "xterm"

// NewConfig builds the Config of running args in the target container.
// With tty, TERM is the caller's (callerTerm, defaultTerm when empty),
// replacing any TERM of the container's environment.
func NewConfig(t Target, args []string, tty bool, callerTerm string) Config {
	env := append([]string{}, t.Env...)
	if tty {
		if callerTerm == "" {
			callerTerm = defaultTerm
		}
		env = setEnv(env, "TERM", callerTerm)
	}
	proc := t.Process
	proc.Env = env
	return Config{
		Target: t.Pod + "/" + t.Container, PID: t.PID, StartTime: t.StartTime,
		CgroupProcs: t.CgroupProcs, Args: args, Process: proc, TTY: tty,
	}
}

// setEnv sets name=value in env, dropping earlier values of name.
func setEnv(env []string, name, value string) []string {
	out := env[:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid exec config")

// Validate checks what exec-init relies on before it acts.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...)))
	}
	if c.PID <= 0 || c.StartTime == 0 {
		bad("target process %d (start time %d) is not a running process", c.PID, c.StartTime)
	}
	if len(c.CgroupProcs) == 0 {
		bad("no cgroup to join")
	}
	if c.OOMScoreAdj < -1000 || c.OOMScoreAdj > 1000 {
		bad("oomScoreAdj %d is not within -1000 to 1000", c.OOMScoreAdj)
	}
	for _, p := range c.CgroupProcs {
		if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/cgroup.procs") || strings.Contains(p, "/../") {
			bad("cgroup file %q is not an absolute path to a cgroup.procs file", p)
		}
	}
	switch {
	case c.Serve && (len(c.Args) != 0 || c.TTY):
		bad("an exec helper takes its commands from its socket, with no terminal")
	case !c.Serve && (len(c.Args) == 0 || c.Args[0] == ""):
		bad("no command")
	}
	if c.Cwd != "" && !strings.HasPrefix(c.Cwd, "/") {
		bad("working directory %q is not absolute", c.Cwd)
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			bad("environment entry %q is not NAME=value", kv)
		}
	}
	return errors.Join(errs...)
}

// SetupError is a failure of exec-init before the command ran, sent back on
// the sync fd.
type SetupError struct {
	Step    string `json:"step"`
	Message string `json:"message"`
	// NotFound is set when the command does not exist in the container.
	NotFound bool `json:"notFound,omitempty"`
}

func (e *SetupError) Error() string { return e.Step + ": " + e.Message }

// ExitCode is what berth exec exits with for this failure.
func (e *SetupError) ExitCode() int {
	if e.NotFound {
		return ExitNotFound
	}
	return ExitCannotRun
}

// ExitCode maps how a command ended to a shell's exit status: its code,
// or 128+N when signal N killed it.
func ExitCode(exited bool, code int, signaled bool, signal int) int {
	switch {
	case exited:
		return code
	case signaled:
		return 128 + signal
	}
	return ExitCannotRun
}
