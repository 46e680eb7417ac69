package infra

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reap waits until the infra exited and reaps it; call it after Wait
// succeeded and Joined returned, in a goroutine.
//
// It holds no file descriptor while it waits. os.Process.Wait would keep
// the process's pidfd open for the infra's whole life: one fd per pod in
// the daemon, which on a host with a hard limit of 20000 fds counts
// against everything else the daemon opens (API connections, infra calls,
// probes). Instead the process is released (its pidfd closed: the pid
// stays the daemon's child, a zombie once it exits, so it cannot be
// reused before it is reaped here) and one reaper, woken by SIGCHLD, reaps
// each waiting pid with wait4(WNOHANG): no fd and no thread per pod.
func (l *Launching) Reap() {
	done := reaper.add(l.Proc.Pid)
	l.Proc.Release()
	reaper.scan()
	<-done
}

// reaper is the daemon's one SIGCHLD-driven reaper of infra processes.
var reaper = &childReaper{}

type childReaper struct {
	once    sync.Once
	mu      sync.Mutex
	waiting map[int]chan struct{}
}

// add registers pid before it is released, so an exit between the two is
// seen by the next scan; the channel is closed once pid was reaped.
func (r *childReaper) add(pid int) <-chan struct{} {
	r.once.Do(func() {
		r.waiting = map[int]chan struct{}{}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGCHLD)
		go func() {
			for range sigs {
				r.scan()
			}
		}()
	})
	done := make(chan struct{})
	r.mu.Lock()
	r.waiting[pid] = done
	r.mu.Unlock()
	return done
}

// scan reaps every waiting pid that exited. Signals coalesce (several
// exits may raise one SIGCHLD), so every waiting pid is tried each time:
// a wait4 that finds nothing costs about a microsecond, far below the
// exit's own teardown. A pid that is no longer the daemon's child (ECHILD:
// reaped by someone else) stops being waited for as well.
func (r *childReaper) scan() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, done := range r.waiting {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == pid || errors.Is(err, unix.ECHILD) {
			close(done)
			delete(r.waiting, pid)
		}
	}
}
