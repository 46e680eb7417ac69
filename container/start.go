package container

import (
	"fmt"
	"os"
	"strconv"
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

	// SharePID keeps the container in the caller's pid namespace
	// (shareProcessNamespace); otherwise it gets its own.
	SharePID bool

	// CgroupDir is a cgroup v2 directory the process is cloned straight into
	// (CLONE_INTO_CGROUP). Empty on cgroup v1, where Config.CgroupProcs is
	// used instead.
	CgroupDir string

	// Timings, when set, receives the breakdown of a successful start.
	Timings *StartTimings
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
