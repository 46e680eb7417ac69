package execin

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
// It exits when the daemon's end of conn closes (the daemon stopped or
// died: EOF), when the container's process it entered exits (the run
// ended; watched by a pidfd), or on a request it cannot parse; a command
// still running then is killed. The pod's teardown kills it too: it is in
// the container's cgroup, which Cgroups.Kill empties (on v1 by signalling
// every process listed in the pod's cgroups, on v2 by cgroup.kill).
func serveMain(conn *os.File, cfg Config) int {
	gone, err := setupHelper(cfg)
	if err != nil {
		if _, rErr := readRequest(conn); rErr == nil {
			conn.Write(encodeReply(reply{Setup: setupError(err)}))
		}
		return ExitCannotRun
	}
	return serve(conn, cfg, gone)
}

// setupHelper names the process, starts watching the target and enters
// and confines the container on this thread.
func setupHelper(cfg Config) (gone <-chan struct{}, err error) {
	// Before entering: /proc/self is the container's after.
	if err := step("set process name", func() error { return os.WriteFile("/proc/self/comm", []byte(HelperName), 0) }); err != nil {
		return nil, err
	}
	if err := step("watch "+cfg.Target, func() (err error) { gone, err = watchTarget(cfg.PID, cfg.StartTime); return err }); err != nil {
		return nil, err
	}
	lastCap, err := enter(cfg)
	if err != nil {
		return nil, err
	}
	if err := confine(cfg, lastCap); err != nil {
		return nil, err
	}
	return gone, nil
}

// watchTarget returns a channel closed when process pid, which started at
// start, exits: a pidfd in Go's poller, checked to be that process after
// it was opened.
func watchTarget(pid int, start uint64) (<-chan struct{}, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd of process %d: %w", pid, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pidfd of process %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	if err := checkStart(pid, start); err != nil {
		f.Close()
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pidfd of process %d: %w", pid, err)
	}
	gone := make(chan struct{})
	go func() {
		defer f.Close()
		// A pidfd is readable once its process exited: the first call
		// waits for that, the second ends the wait.
		waited := false
		if err := rc.Read(func(uintptr) bool { done := waited; waited = true; return done }); err == nil {
			close(gone)
		}
	}()
	return gone, nil
}

// serve runs the requests read from conn until conn ends or gone closes.
func serve(conn *os.File, cfg Config, gone <-chan struct{}) int {
	reqs := make(chan request)
	stop := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(stop) }) }
	go func() {
		defer end()
		for {
			// EOF is the daemon's end closing; anything else a request
			// not to be trusted: both end the helper.
			req, err := readRequest(conn)
			if err != nil {
				return
			}
			select {
			case reqs <- req:
			case <-stop:
				return
			}
		}
	}()
	go func() {
		select {
		case <-gone:
			end()
		case <-stop:
		}
	}()
	for {
		select {
		case <-stop:
			return 0
		case req := <-reqs:
			rp, ok := runRequest(cfg, req, stop)
			if !ok {
				return 0
			}
			if _, err := conn.Write(encodeReply(rp)); err != nil {
				return 0
			}
		}
	}
}

// runRequest runs one command as exec-init runs its own (the user and
// program resolved in the container, forked from this thread) with its
// stdout and stderr on one pipe, of which the first req.Max bytes are
// kept. ok is false when stop closed while it ran: the command was killed.
func runRequest(cfg Config, req request, stop <-chan struct{}) (rp reply, ok bool) {
	u, path, err := resolve(cfg, req.Args)
	if err != nil {
		return failedReply(err, req.Max), true
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return failedReply(step("output pipe", func() error { return err }), req.Max), true
	}
	defer outR.Close()
	cmd := command(cfg, req.Args, u, path)
	cmd.Stdout, cmd.Stderr = outW, outW
	err = step("start "+path, cmd.Start)
	outW.Close()
	if err != nil {
		return failedReply(err, req.Max), true
	}
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(outR, int64(req.Max)))
		io.Copy(io.Discard, outR)
		read <- b
	}()
	waited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-stop:
		cmd.Process.Kill()
		<-waited
		return reply{}, false
	}
	outR.SetReadDeadline(time.Now().Add(outputDrain))
	out := <-read
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
