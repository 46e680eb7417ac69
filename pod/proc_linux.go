package pod

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/procstat"
)

// alive reports whether pid still is the process that started at start,
// and has not exited: a zombie (an infra the daemon launched, before the
// daemon reaps it) is dead.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, state, err := procstat.StartTimeAndState(pid)
	return err == nil && st == start && state != 'Z' && state != 'X'
}

// waitExit waits until the process pid (started at start) has exited, for
// at most timeout. It uses a pidfd, so it works for processes that are not
// the daemon's children (infras adopted after a daemon restart).
func waitExit(pid int, start uint64, timeout time.Duration) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if gone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if !alive(pid, start) {
		return nil // the pid was reused: ours is gone
	}
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return fmt.Errorf("process %d still runs after %s", pid, timeout)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll pidfd of %d: %w", pid, err)
		}
		if n > 0 {
			return nil
		}
	}
}

// killProcess sends SIGKILL to pid if it still is the process started at
// start (never to a reused PID).
func killProcess(pid int, start uint64) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if gone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if !alive(pid, start) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	return nil
}

// watchExit calls exited once the process pid (started at start) has
// exited. The pidfd, readable once the process is gone, waits in Go's
// poller: a watch costs a parked goroutine and a file descriptor, no
// thread.
func watchExit(pid int, start uint64, exited func()) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if gone(err) {
		go exited()
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	if !alive(pid, start) {
		unix.Close(fd)
		go exited()
		return nil
	}
	// Non-blocking, os.NewFile registers it with the poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	go func() {
		defer f.Close()
		rc.Read(func(fd uintptr) bool {
			for {
				fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				n, err := unix.Poll(fds, 0)
				if !errors.Is(err, unix.EINTR) {
					return err != nil || n > 0
				}
			}
		})
		exited()
	}()
	return nil
}

// gone says pidfd_open found no process to open: ESRCH, or ENOENT, which
// a 6.x kernel was seen to answer for a pid whose process had just exited
// and been reaped (a pod's removal failed on it, under load).
func gone(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT)
}
