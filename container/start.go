package container

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/kube"
)

// Fd numbers of the pipes Start hands to the init stage. They are named on
// the command line too (--config-fd, --sync-fd), so the numbers are a
// convention between Start and Main, not something Main assumes.
const (
	configFd = 3
	syncFd   = 4
)

// InitSubcommand is the hidden subcommand cmd/berth dispatches to Main
// before any flag parsing.
const InitSubcommand = "container-init"

// StartOptions are the process-level settings of Start that are not part of
// the container's Config: which binary runs the init stage, its stdio, and
// where the process is placed.
type StartOptions struct {
	// Exe is the sealed berth binary to re-execute as the init stage
	// (docs/security.md rule 4). Empty means "/proc/self/exe".
	Exe string

	// Stdin, Stdout and Stderr become fds 0..2 of the container. A nil
	// Stdin or Stdout/Stderr is /dev/null.
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File

	// Terminal receives, with Config.Terminal, the master of the
	// container's pseudo-terminal (non-blocking, close-on-exec): the
	// caller's to read its output from and write its input to.
	Terminal *Terminal

	// SharePID keeps the container in the caller's pid namespace
	// (shareProcessNamespace); otherwise it gets its own.
	SharePID bool

	// CgroupDir is a cgroup v2 directory the process is cloned straight into
	// (CLONE_INTO_CGROUP). Empty on cgroup v1, where Config.CgroupProcs is
	// used instead.
	CgroupDir string

	// Timings, when set, receives the breakdown of a successful start.
	Timings *kube.StartTimings

	// Timeout bounds the whole init stage, from the clone to the execve of
	// the user's program; zero means DefaultInitTimeout.
	Timeout time.Duration
}

// Terminal is what Start hands back of a container's pseudo-terminal.
type Terminal struct {
	Master *os.File
}

// InitEnv is the whole environment of an init stage (container-init,
// exec-init): one P. A stage is one locked thread making system calls, and
// a Go runtime that starts with one P per CPU starts threads it never uses
// on every container's start: the lean init binary took 1.31 to 1.70 ms of
// CPU and 1.9 to 2.1 ms from fork to exit with two, 1.15 ms and 1.5 to 1.7
// ms with one, on this 2-CPU machine. The program a stage runs never sees
// it: execve gives it the container's environment.
func InitEnv() []string { return []string{"GOMAXPROCS=1"} }

// DefaultInitTimeout is how long the init stage may take before Start kills
// it. A start takes milliseconds; only a stuck step (an image file that
// blocks on open, a hung mount) comes near it.
const DefaultInitTimeout = 30 * time.Second

func (o StartOptions) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultInitTimeout
	}
	return o.Timeout
}

// exe returns the binary to execute.
func (o StartOptions) exe() string {
	if o.Exe == "" {
		return "/proc/self/exe"
	}
	return o.Exe
}

// initArgs is the argv of the init stage.
func initArgs() []string {
	return []string{
		"berth", InitSubcommand,
		"--config-fd=" + strconv.Itoa(configFd),
		"--sync-fd=" + strconv.Itoa(syncFd),
	}
}

// InitError is the failure the init stage reports over the sync pipe: the
// step that failed and the child's own error text.
type InitError struct {
	Step    string `json:"step"`
	Message string `json:"message"`
}

func (e *InitError) Error() string {
	return fmt.Sprintf("%s: %s", e.Step, e.Message)
}

// TimeoutError is an init stage that neither exec'd nor failed in time;
// Start killed it.
type TimeoutError struct {
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the init stage did not finish within %s and was killed (a file of the image that blocks when read, or a mount that hangs, can cause this)", e.Timeout)
}

// stepResolveUser names the step that reads the image's user database.
const stepResolveUser = "resolve user"

// IsCreateError reports whether err, from Start, means the container
// could not be created from its image and configuration, before any of its
// program ran: the init stage timed out, or the image's user database
// could not be used. Kubernetes reports these as CreateContainerError and
// retries them; a failure to run the program itself is a StartError.
func IsCreateError(err error) bool {
	var te *TimeoutError
	if errors.As(err, &te) {
		return true
	}
	var ie *InitError
	return errors.As(err, &ie) && strings.HasPrefix(ie.Step, stepResolveUser)
}
