package execin

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/reexec"
)

// HelperName is an exec helper's comm, for ps and the bench.
const HelperName = "berth-probe"

// serveMain is exec-init as a container run's exec helper (Config.Serve,
// started by StartHelper): it enters the container by exactly the steps
// exec-init takes for one command (enter, confine: this thread keeps the
// namespaces, bounding set, no_new_privs and seccomp filter, and forks
// every command), then runs the commands the daemon sends on conn, one
// at a time, each as exec-init runs its one (resolve, command). A failure
// to enter is the reply to the first request, then it exits.
//
// Everything after the setup happens on this thread, in one poll(2) loop
// over raw fds: no goroutine, so a request costs the fork and exec and
// little of Go's scheduler.
//
// It exits when the daemon's end of conn closes (the daemon stopped or
// died: EOF), when the container's process it entered exits (the run
// ended; watched by a pidfd), or on a request it cannot parse; a command
// still running then is killed. The pod's teardown kills it too: it is in
// the container's cgroup, which Cgroups.Kill empties (on v1 by signalling
// every process listed in the pod's cgroups, on v2 by cgroup.kill).
func serveMain(conn *os.File, cfg Config) int {
	// Fd makes conn blocking; conn is kept reachable, or its finalizer
	// would close the fd.
	defer runtime.KeepAlive(conn)
	c := fdConn(conn.Fd())
	target, err := setupHelper(cfg)
	if err != nil {
		if _, rErr := readRequest(c); rErr == nil {
			c.Write(encodeReply(reply{Setup: setupError(err)}))
		}
		return ExitCannotRun
	}
	return serve(c, cfg, target)
}

// fdConn is the helper's socket as a raw fd: reads and writes block this
// thread, outside Go's poller.
type fdConn int

func (c fdConn) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(c), b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c fdConn) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Write(int(c), b[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// setupHelper names the process, opens a pidfd of the target and enters
// and confines the container on this thread.
func setupHelper(cfg Config) (target int, err error) {
	// Before entering: /proc/self is the container's after.
	if err := step("set process name", func() error { return reexec.NameProcess(HelperName) }); err != nil {
		return -1, err
	}
	if err := step("watch "+cfg.Target, func() (err error) { target, err = openTarget(cfg.PID, cfg.StartTime); return err }); err != nil {
		return -1, err
	}
	lastCap, err := enter(cfg)
	if err == nil {
		err = confine(cfg, lastCap)
	}
	if err != nil {
		unix.Close(target)
		return -1, err
	}
	return target, nil
}

// openTarget returns a pidfd (close-on-exec, readable once the process
// exits) of process pid, checked after it was opened to be the one that
// started at start.
func openTarget(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd of process %d: %w", pid, err)
	}
	if err := checkStart(pid, start); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// poll waits for events on fds, retrying after a signal; timeout in ms,
// -1 for none.
func poll(fds []unix.PollFd, timeout int) error {
	for {
		_, err := unix.Poll(fds, timeout)
		if err != unix.EINTR {
			return err
		}
	}
}

// serve runs the requests read from conn until conn ends or the target
// exits.
func serve(conn fdConn, cfg Config, target int) int {
	for {
		fds := []unix.PollFd{{Fd: int32(conn), Events: unix.POLLIN}, {Fd: int32(target), Events: unix.POLLIN}}
		if err := poll(fds, -1); err != nil || fds[1].Revents != 0 {
			return 0
		}
		// EOF is the daemon's end closing; anything else a request not
		// to be trusted: both end the helper.
		req, err := readRequest(conn)
		if err != nil {
			return 0
		}
		rp, ok := runRequest(cfg, req, conn, target)
		if !ok {
			return 0
		}
		if _, err := conn.Write(encodeReply(rp)); err != nil {
			return 0
		}
	}
}

// runRequest runs one command as exec-init runs its own (the user and
// program resolved in the container, forked from this thread) with its
// stdout and stderr on one pipe, of which the first req.Max bytes are
// kept, the rest read and dropped until the pipe's end or outputDrain
// after the command's exit. ok is false when the daemon's end of conn
// closed or the target exited while it ran: the command was killed.
func runRequest(cfg Config, req request, conn fdConn, target int) (rp reply, ok bool) {
	u, path, err := resolve(cfg, req.Args)
	if err != nil {
		return failedReply(err, req.Max), true
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return failedReply(step("output pipe", func() error { return err }), req.Max), true
	}
	outR, outW := p[0], os.NewFile(uintptr(p[1]), "output")
	defer unix.Close(outR)
	cmd := command(cfg, req.Args, u, path)
	cmd.Stdout, cmd.Stderr = outW, outW
	err = step("start "+path, cmd.Start)
	outW.Close()
	if err != nil {
		return failedReply(err, req.Max), true
	}
	// The command is this process's unreaped child: its PID cannot be
	// reused while the pidfd is opened.
	child, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return failedReply(step("watch "+path, func() error { return err }), req.Max), true
	}
	defer unix.Close(child)
	out := make([]byte, 0, min(req.Max, 4096))
	buf := make([]byte, 4096)
	exited, pipeOpen := false, true
	var drainEnd time.Time
	for pipeOpen || !exited {
		timeout := -1
		if exited {
			left := time.Until(drainEnd)
			if left <= 0 {
				break
			}
			timeout = int(left.Milliseconds()) + 1
		}
		fds := []unix.PollFd{
			{Fd: int32(conn), Events: unix.POLLRDHUP}, {Fd: int32(target), Events: unix.POLLIN},
			{Fd: int32(child), Events: unix.POLLIN}, {Fd: -1},
		}
		if pipeOpen {
			fds[3] = unix.PollFd{Fd: int32(outR), Events: unix.POLLIN}
		}
		if exited {
			fds[2].Fd = -1
		}
		if err := poll(fds, timeout); err != nil || fds[0].Revents != 0 || fds[1].Revents != 0 {
			cmd.Process.Kill()
			cmd.Wait()
			return reply{}, false
		}
		if fds[3].Revents != 0 {
			n, err := unix.Read(outR, buf)
			switch {
			case err == unix.EINTR || err == unix.EAGAIN:
			case err != nil || n == 0:
				pipeOpen = false
			default:
				out = append(out, buf[:min(n, req.Max-len(out))]...)
			}
		}
		if fds[2].Revents != 0 {
			exited, drainEnd = true, time.Now().Add(outputDrain)
		}
	}
	cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return reply{Status: ExitCode(ws.Exited(), ws.ExitStatus(), ws.Signaled(), int(ws.Signal())), Output: out}, true
}

// failedReply is a command that could not be run, as Output reports one
// exec-init could not run: its exit status and reason.
func failedReply(err error, max int) reply {
	se := setupError(err)
	out := []byte(se.Error())
	return reply{Status: se.ExitCode(), Output: out[:min(len(out), max)]}
}
