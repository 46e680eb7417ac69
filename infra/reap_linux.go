package infra

import (
	"encoding/binary"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reap waits until the infra exited and reaps it; call it after Wait
// succeeded, in a goroutine.
//
// It holds no file descriptor while it waits. os.Process.Wait would keep
// the process's pidfd open for the infra's whole life: one fd per pod in
// the daemon, which on a host with a hard limit of 20000 fds counts
// against everything else the daemon opens (API connections, infra calls,
// probes). Instead the process is released (its pidfd closed: the pid
// stays the daemon's child, a zombie once it exits, so it cannot be
// reused before it is reaped here) and one reaper, woken by SIGCHLD, reaps
// it: no fd and no thread per pod.
func (l *Launching) Reap() {
	pid := l.Proc.Pid
	done := reaper.add(pid)
	l.Proc.Release()
	// It may have exited before it was added: its SIGCHLD found it
	// someone else's.
	reaper.reap(pid)
	<-done
}

// reaper is the daemon's one SIGCHLD-driven reaper of infra processes.
var reaper = &childReaper{}

// childReaper reaps the pids added to it, at a cost per exit that does
// not grow with their number: on SIGCHLD it asks the kernel which child
// exited (waitid(P_ALL, WNOWAIT), which leaves it a zombie) and reaps
// that one only if it is one of its own. Every other child of the daemon
// (exec probes, hooks, anything os/exec runs) is left to its own Wait,
// whose exit status it must not take: no wait4(-1).
//
// waitid shows one exited child at a time, the first in the kernel's list
// of children: while that one is someone else's zombie, a zombie of ours
// behind it is not seen. Its owner's Wait reaps it in a moment, and the
// reaper looks again after a short delay (without a new SIGCHLD, which
// that reaping does not raise), doubling up to blockedMax; blocked that
// long, it also tries each of its pids with wait4(WNOHANG), so a child
// someone else never waits for cannot keep an infra a zombie (its cgroup
// cannot be removed while it is one).
type childReaper struct {
	once    sync.Once
	kick    chan struct{}
	mu      sync.Mutex
	waiting map[int]chan struct{}
}

// blockedMin and blockedMax bound the delay, doubling, before the reaper
// looks again past another's zombie.
const (
	blockedMin = time.Millisecond
	blockedMax = 100 * time.Millisecond
)

// add registers pid before it is released; the channel is closed once pid
// was reaped.
func (r *childReaper) add(pid int) <-chan struct{} {
	r.once.Do(func() {
		r.waiting = map[int]chan struct{}{}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGCHLD)
		go r.run(sigs)
	})
	done := make(chan struct{})
	r.mu.Lock()
	r.waiting[pid] = done
	r.mu.Unlock()
	return done
}

func (r *childReaper) run(sigs <-chan os.Signal) {
	again := time.NewTimer(0)
	again.Stop()
	var delay time.Duration
	for {
		select {
		case <-sigs:
		case <-again.C:
		}
		if !r.reapExited() {
			delay = 0
			again.Stop()
			continue
		}
		delay = min(max(2*delay, blockedMin), blockedMax)
		if delay == blockedMax {
			r.scan()
		}
		again.Reset(delay)
	}
}

// reapExited reaps the exited children of ours the kernel shows, until it
// shows none (false) or someone else's (true: look again soon).
func (r *childReaper) reapExited() (blocked bool) {
	for {
		pid, err := exitedChild()
		if err != nil || pid == 0 {
			return false // ECHILD (no children) or none exited
		}
		r.mu.Lock()
		_, ours := r.waiting[pid]
		r.mu.Unlock()
		if !ours {
			return true
		}
		r.reap(pid)
	}
}

// reap reaps pid if it exited (or is no longer the daemon's child:
// ECHILD) and stops waiting for it.
func (r *childReaper) reap(pid int) {
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	if got != pid && !errors.Is(err, unix.ECHILD) {
		return
	}
	r.mu.Lock()
	done, ok := r.waiting[pid]
	delete(r.waiting, pid)
	r.mu.Unlock()
	if ok {
		close(done)
	}
}

// scan tries every waiting pid: the way past a zombie that stays someone
// else's.
func (r *childReaper) scan() {
	r.mu.Lock()
	pids := make([]int, 0, len(r.waiting))
	for pid := range r.waiting {
		pids = append(pids, pid)
	}
	r.mu.Unlock()
	for _, pid := range pids {
		r.reap(pid)
	}
}

// sigPidOffset is where si_pid sits in a siginfo_t: after si_signo,
// si_errno and si_code, at the union's alignment (a pointer's).
const sigPidOffset = (3*4 + unsafe.Alignof(uintptr(0)) - 1) / unsafe.Alignof(uintptr(0)) * unsafe.Alignof(uintptr(0))

// exitedChild returns the pid of a child that exited and is not reaped
// yet, leaving it so (WNOWAIT), or 0 when none has.
func exitedChild() (int, error) {
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		return 0, err
	}
	raw := (*[unsafe.Sizeof(info)]byte)(unsafe.Pointer(&info))
	return int(int32(binary.NativeEndian.Uint32(raw[sigPidOffset:]))), nil
}
