package api

import (
	"context"
	"errors"
	"net/url"

	"github.com/berth-project/berth/container"
)

// ErrNotRunning is returned when an exec targets a container that exists
// but does not run.
var ErrNotRunning = errors.New("container is not running")

// ExecTarget is what `berth exec` needs to enter a running container: the
// process to take the namespaces of, the cgroup to join, and how the
// container's own process runs (user, capabilities, environment, working
// directory). The daemon derives it from the pod record, the infra's
// status and the container's cgroup; the CLI, running as root on the same
// host, does the entering (never the multi-threaded daemon).
type ExecTarget struct {
	// Pod is "namespace/name"; Container the container chosen.
	Pod       string `json:"pod"`
	Container string `json:"container"`
	// PID is the container's init process in the host pid namespace and
	// StartTime its start time (clock ticks since boot, /proc/PID/stat
	// field 22): together they name the process, a bare PID could be reused.
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	// CgroupProcs are the cgroup.procs files of the container's cgroup: one
	// per v1 hierarchy, or the one of the v2 cgroup.
	CgroupProcs []string `json:"cgroupProcs"`

	// Process is how the container's own process runs (user,
	// capabilities, seccomp filter, oom_score_adj), with the environment it
	// was started with.
	container.Process
}

// ExecTarget asks the daemon how to enter container ctr of a pod ("" for
// the pod's only container). Errors wrap ErrNotFound or ErrNotRunning.
func (c *Client) ExecTarget(ctx context.Context, namespace, name, ctr string) (ExecTarget, error) {
	path := podPath(namespace, name) + "/exec-target"
	if ctr != "" {
		path += "?" + url.Values{"container": {ctr}}.Encode()
	}
	resp, err := c.do(ctx, "GET", path)
	if err != nil {
		return ExecTarget{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == statusConflict {
		return ExecTarget{}, &remoteError{msg: decode(resp, nil).Error(), is: ErrNotRunning}
	}
	var t ExecTarget
	if err := decode(resp, &t); err != nil {
		return ExecTarget{}, err
	}
	return t, nil
}

// remoteError is the daemon's message, matching a sentinel with errors.Is.
type remoteError struct {
	msg string
	is  error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.is }
