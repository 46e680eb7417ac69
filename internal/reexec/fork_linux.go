package reexec

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/berth-project/berth/internal/sysfile"
)

// ForkInCgroups runs fork, which must start its child from the calling OS
// thread (os.StartProcess and syscall.ForkExec do), on a thread moved into
// the v1 cgroups whose cgroup.procs files are procs: the child is born in
// them, as CLONE_INTO_CGROUP does on v2, and never has to join them.
//
// The thread moves itself, by writing 0 to the tasks file beside each
// cgroup.procs: the kernel moves a thread that moves itself without its
// global threadgroup lock, while moving a process (JoinCgroups) takes that
// lock, whose writer waits for an RCU grace period (5 to 20 ms measured
// here) while it holds the cgroup mutex every other cgroup write waits
// for. After the fork the thread moves back into the cgroups of home, the
// caller's own, one per hierarchy of procs.
//
// A thread that could not move back stays locked and ends with its
// goroutine (the children it forked with a parent-death signal get it);
// the error says so. With no procs, fork runs on the calling thread.
func ForkInCgroups(procs, home []string, fork func() error) error {
	if len(procs) == 0 {
		return fork()
	}
	if len(home) != len(procs) {
		return fmt.Errorf("fork into %d cgroups: %d to return to, want one per hierarchy", len(procs), len(home))
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := moveThread(procs); err != nil {
			done <- err
			return
		}
		err := fork()
		if merr := moveThread(home); merr != nil {
			done <- errors.Join(err, fmt.Errorf("the forking thread ends: %w", merr))
			return
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// moveThread moves the calling thread into the cgroup of each cgroup.procs
// file of procs.
func moveThread(procs []string) error {
	for _, p := range procs {
		if err := sysfile.WriteExisting(filepath.Join(filepath.Dir(p), "tasks"), "0"); err != nil {
			return fmt.Errorf("move thread into cgroup %s: %w", filepath.Dir(p), err)
		}
	}
	return nil
}
