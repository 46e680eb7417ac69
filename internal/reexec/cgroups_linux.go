package reexec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sysfile"
)

// On cgroup v1, writing a pid to a hierarchy's cgroup.procs (or a nonzero
// tid to its tasks) takes the kernel's global cgroup_threadgroup_rwsem for
// writing, and the writer first waits for an RCU grace period (5 to 20 ms
// on a hybrid host) while it holds the cgroup mutex: every other cgroup
// move waits for it, and every fork and thread creation on the machine
// waits while it holds the lock. Writing "0" to a hierarchy's tasks file
// moves the calling thread alone and takes no global lock (the kernel's
// cgroup_procs_write_start: it is taken only for a nonzero pid or a
// threadgroup write), so the joins below move threads themselves.

// JoinThread moves the calling thread, which must be the main thread (the
// thread group leader), into the cgroup of each v1 hierarchy whose
// cgroup.procs file procs lists, by writing "0" to the tasks file beside
// it. The process's other threads stay where they are: it is for a process
// that execs next (execve leaves only the calling thread, so the whole
// program then runs in the cgroups). The leader it must be because memory
// v1 charges a process's memory to its mm owner's cgroup, which is the
// leader's.
func JoinThread(procs []string) error {
	if tid, pid := unix.Gettid(), os.Getpid(); tid != pid {
		return fmt.Errorf("thread %d of process %d is not its main thread: only the main thread may move alone", tid, pid)
	}
	for _, p := range procs {
		if err := sysfile.WriteExisting(TasksFile(p), "0"); err != nil {
			return fmt.Errorf("join %s: %w", filepath.Dir(p), err)
		}
	}
	return nil
}

// JoinProcess moves the calling process, every thread of it, into the
// cgroup whose cgroup.procs file each of procs is. In a v1 hierarchy each
// thread writes "0" to the tasks file beside it (syscall.AllThreadsSyscall,
// which holds off new threads meanwhile), without the global lock. A
// binary linked with cgo cannot do that (ENOTSUP: the runtime does not
// know cgo's threads) and writes its pid to cgroup.procs instead, as test
// binaries do; berth's binaries are static and never link cgo. A v2
// cgroup has no tasks file and gets the pid too.
func JoinProcess(procs []string) error {
	for _, p := range procs {
		err := allThreadsWrite(TasksFile(p), "0")
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, os.ErrNotExist) {
			err = sysfile.WriteExisting(p, strconv.Itoa(os.Getpid()))
		}
		if err != nil {
			return fmt.Errorf("join %s: %w", filepath.Dir(p), err)
		}
	}
	return nil
}

// TasksFile is the tasks file of the v1 cgroup whose cgroup.procs is procs.
func TasksFile(procs string) string { return filepath.Join(filepath.Dir(procs), "tasks") }

// allThreadsWrite writes s to path once from every thread of the process.
func allThreadsWrite(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := []byte(s)
	// A raw fd and buffer: the runtime runs the same syscall on each
	// thread, with no Go code between.
	n, _, errno := syscall.AllThreadsSyscall(syscall.SYS_WRITE, f.Fd(), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	runtime.KeepAlive(b)
	if errno != 0 {
		return fmt.Errorf("write %s: %w", path, errno)
	}
	if int(n) != len(b) {
		return fmt.Errorf("write %s: short write (%d of %d bytes)", path, n, len(b))
	}
	return nil
}
