// Package earlyjoin starts a berth-init process inside its cgroup v1
// hierarchies, before the Go runtime starts.
//
// On v1 a process joins a cgroup cheaply only by moving itself, thread by
// thread: each thread writes 0 to the hierarchy's tasks file (writing a
// pid to cgroup.procs takes the kernel's global threadgroup lock, whose
// writer waits for an RCU grace period). Once the Go runtime runs, a
// process has several threads, and reexec.JoinProcess stops the world
// once per hierarchy to have each write. berth-init's entry point (entry,
// the linker's -E; hack/build sets it) does it before the runtime: the
// process has one thread then, one write per hierarchy moves it, and every
// thread the runtime makes later starts in the cgroups.
//
// The launcher opens the tasks files and passes them as fds FirstFd,
// FirstFd+1, ... (Place). The entry point writes "0" to each open fd from
// FirstFd on that is on a v1 cgroup file system, and stops at the first
// that is not. The process's Go code asks Joined whether that covered all
// its cgroups, and joins the usual way otherwise: a binary built without
// the entry point (a plain go build, a test binary) works as before.
package earlyjoin

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/reexec"
)

const (
	// FirstFd is the fd of the first tasks file a launcher passes.
	FirstFd = 10
	// MaxFds bounds the tasks files the entry point reads.
	MaxFds = 8
	// EntrySymbol is the entry point's name for the linker's -E.
	EntrySymbol = "github.com/berth-project/berth/internal/earlyjoin.entry"
)

// Written by the entry point alone, before the runtime starts; read-only
// after.
var (
	// joined counts the fds from FirstFd on that the entry point wrote to.
	joined uint32
	// failed is 1 when a write failed: the fd after the joined ones is a
	// tasks file too.
	failed uint32
	// statfsBuf is the entry point's struct statfs.
	statfsBuf [16]uint64
)

// Joined reports whether the entry point moved the process into n v1
// cgroups, as many as it was given, with no failure: then every thread
// of the process is in them.
func Joined(n int) bool {
	return n > 0 && failed == 0 && int(joined) == n
}

// Close closes the tasks files the entry point found.
func Close() {
	for fd := FirstFd; fd < FirstFd+int(joined+failed); fd++ {
		unix.Close(fd)
	}
}

// Open opens, write-only and close-on-exec, the tasks file beside each
// of procs, a v1 cgroup's cgroup.procs.
func Open(procs []string) ([]*os.File, error) {
	if len(procs) > MaxFds {
		return nil, fmt.Errorf("%d cgroup hierarchies, at most %d", len(procs), MaxFds)
	}
	var out []*os.File
	for _, p := range procs {
		f, err := os.OpenFile(reexec.TasksFile(p), os.O_WRONLY, 0)
		if err != nil {
			CloseFiles(out)
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// CloseFiles closes what Open returned.
func CloseFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// Place returns the child's fds with tasks at FirstFd on; the fds
// between are none, which the child gets closed (nil for os.ProcAttr,
// ^uintptr(0) for syscall.ProcAttr).
func Place[T any](fds, tasks []T, none T) []T {
	if len(tasks) == 0 {
		return fds
	}
	out := append([]T(nil), fds...)
	for len(out) < FirstFd {
		out = append(out, none)
	}
	return append(out, tasks...)
}
