package container

import "time"

// StartTimings break a container's start down by step, for the "pod
// created" log line and `berth describe`: where the milliseconds go.
type StartTimings struct {
	// Clone is fork and exec of the init stage's binary (Start's
	// ForkExec, which returns once the child's execve succeeded).
	Clone time.Duration `json:"clone"`
	// Runtime is the init binary's Go runtime and package start, up to Main.
	Runtime time.Duration `json:"runtime"`
	// Cgroups is reading the config and joining the v1 cgroups (nothing on
	// v2, where the process was cloned into its cgroup): the write waits
	// for an RCU grace period, shared with the infra's own join when that
	// still runs.
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

// progress is the init stage's record of when it reached each step, in
// CLOCK_MONOTONIC nanoseconds (one clock for the whole machine, so the
// parent can subtract its own readings). It is the last thing written on
// the sync pipe before execve.
type progress struct {
	Main    int64 `json:"main"`
	Cgroups int64 `json:"cgroups"`
	Rootfs  int64 `json:"rootfs"`
	Exec    int64 `json:"exec"`
}

// timings turns the parent's readings (before the fork, after ForkExec,
// at the sync pipe's EOF) and the child's progress into StartTimings. A
// reading out of order (a clock anomaly) gives zero for the steps it
// bounds, never a negative.
func timings(forked, execd, eof int64, p progress) StartTimings {
	d := func(from, to int64) time.Duration {
		if from == 0 || to < from {
			return 0
		}
		return time.Duration(to - from)
	}
	return StartTimings{
		Clone:   d(forked, execd),
		Runtime: d(execd, p.Main),
		Cgroups: d(p.Main, p.Cgroups),
		Rootfs:  d(p.Cgroups, p.Rootfs),
		Setup:   d(p.Rootfs, p.Exec),
		Exec:    d(p.Exec, eof),
	}
}
