package container

import (
	"time"

	"github.com/berth-project/berth/kube"
)

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
func timings(forked, execd, eof int64, p progress) kube.StartTimings {
	d := func(from, to int64) time.Duration {
		if from == 0 || to < from {
			return 0
		}
		return time.Duration(to - from)
	}
	return kube.StartTimings{
		Clone:   d(forked, execd),
		Runtime: d(execd, p.Main),
		Cgroups: d(p.Main, p.Cgroups),
		Rootfs:  d(p.Cgroups, p.Rootfs),
		Setup:   d(p.Rootfs, p.Exec),
		Exec:    d(p.Exec, eof),
	}
}
