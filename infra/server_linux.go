package infra

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// requestTimeout bounds reading a request and writing its response; a
// timer exists only while a connection is open.
const requestTimeout = 30 * time.Second

// server owns the supervisor loop and the control socket.
type server struct {
	cfg   *PodConfig
	log   *slog.Logger
	ln    *net.UnixListener
	sup   *supervisor
	procs *procsLinux
	// join is the infra's own cgroup join, waited for before a request
	// that clones containers.
	join *cgroupJoin
	// events carries closures onto the loop: requests and timers.
	events chan func()
	// exit is set on the loop to end it.
	exit bool
	// watchers are the OpWatch streams, and watchKey the key (watchKey) of the
	// status they were sent last; both belong to the loop.
	watchers map[*watcher]struct{}
	watchKey string
}

// watcher is one OpWatch stream: next holds the latest status not yet
// written (a slow reader skips the statuses in between, never the last).
type watcher struct{ next chan PodStatus }

// afterJoin posts clone, a request that clones containers, onto the loop
// once the infra's cgroup join ended; a failed join is its reply.
func (s *server) afterJoin(reply func(error), clone func()) {
	err := s.join.wait()
	s.post(func() {
		if err != nil {
			reply(err)
			return
		}
		clone()
	})
}

func newServer(cfg *PodConfig, log *slog.Logger, ln *net.UnixListener, start startFunc, self PodStatus, join *cgroupJoin) *server {
	s := &server{cfg: cfg, log: log, ln: ln, join: join, events: make(chan func())}
	p := &procsLinux{cfg: cfg, log: log, startFn: start, post: s.post, drains: map[int]chan struct{}{}, ios: map[string]*runIO{}}
	s.procs = p
	s.sup = newSupervisor(cfg, log, p, time.Now, self)
	p.event = func(container, typ, reason, msg string) {
		s.post(func() {
			s.sup.events.add(Event{Type: typ, Reason: reason, Container: container, Message: msg}, s.sup.now())
		})
	}
	return s
}

// post runs f on the loop. It blocks until the loop takes it.
func (s *server) post(f func()) { s.events <- f }

// serve runs the supervisor loop until Shutdown, or until the containers
// stopped after SIGTERM; the accept loop (accept) runs from before it.
func (s *server) serve() {
	sigs := make(chan os.Signal, 8)
	notifySignals(sigs)
	// Children that exited before the handler was installed.
	s.reap()
	for !s.exit {
		select {
		case sig := <-sigs:
			s.handleSignal(sig)
		case f := <-s.events:
			f()
		}
		s.notifyWatchers()
	}
	s.close()
}

func (s *server) handleSignal(sig os.Signal) {
	switch sig {
	case syscall.SIGCHLD:
		s.reap()
	default:
		s.log.Info("infra terminating", "pod", s.cfg.Key, "signal", sig.String())
		s.sup.Stop(s.cfg.GracePeriod, func(error) { s.exit = true })
	}
}

// reap collects every exited child; container pids are handed to the
// supervisor, orphans are just reaped.
func (s *server) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if done := s.procs.drained(pid); done != nil {
			go s.exitAfterDrain(pid, ws, done)
			continue
		}
		s.sup.Exited(pid, ws)
	}
}

// How long an exit waits for the container's output to reach its log. With
// its own pid namespace every process of the container dies with its init,
// so the pipe closes soon; the bound only covers a copier starved of CPU
// (the infra shares the pod's cgroup and its quota). In a shared pid
// namespace a process that outlives the container (a daemonised child) may
// hold the pipe open for good, so the wait is short.
const (
	logDrainTimeout       = 30 * time.Second
	logDrainTimeoutShared = 2 * time.Second
)

// exitAfterDrain reports a container's exit once everything it wrote is in
// its log file, so that a container seen as terminated has complete logs
// (as containerd waits for a task's IO before publishing its exit).
func (s *server) exitAfterDrain(pid int, ws syscall.WaitStatus, done <-chan struct{}) {
	timeout := logDrainTimeout
	if s.cfg.SharePID || s.cfg.HostPID {
		timeout = logDrainTimeoutShared
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("container exited but its output pipe is still open; reporting the exit", "pod", s.cfg.Key, "pid", pid)
	}
	s.post(func() { s.sup.Exited(pid, ws) })
}

// close removes the socket (the listener unlinks it).
func (s *server) close() {
	if err := s.ln.Close(); err != nil {
		s.log.Warn("close control socket", "pod", s.cfg.Key, "err", err)
	}
}

func (s *server) accept() {
	for {
		conn, err := s.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// EMFILE and the like: back off a little rather than spin.
			s.log.Warn("accept on control socket", "pod", s.cfg.Key, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go s.handle(conn)
	}
}

// handle serves one connection: peer check, one request, one response.
func (s *server) handle(conn *net.UnixConn) {
	defer conn.Close()
	uid, err := peerUID(conn)
	if err != nil || uid != 0 {
		s.log.Warn("refused control connection", "pod", s.cfg.Key, "uid", uid, "err", err)
		return
	}
	if err := conn.SetReadDeadline(time.Now().Add(requestTimeout)); err != nil {
		return
	}
	var req Request
	if err := readFrame(conn, &req); err != nil {
		s.log.Debug("bad control request", "pod", s.cfg.Key, "err", err)
		return
	}
	if req.Op == OpAttach && req.Version >= MinDaemonVersion {
		s.attach(conn, req)
		return
	}
	if req.Op == OpWatch && req.Version >= MinDaemonVersion {
		s.watch(conn)
		return
	}
	var resp Response
	var after func()
	if req.Version < MinDaemonVersion {
		resp = Response{Error: fmt.Sprintf("refused %s request of infra protocol %d: this infra speaks %d and serves %d or later; run the berth daemon that started the pod, or a newer one", req.Op, req.Version, ProtocolVersion, MinDaemonVersion)}
	} else {
		resp, after = s.dispatch(req)
	}
	resp.Version = ProtocolVersion
	if err := conn.SetWriteDeadline(time.Now().Add(requestTimeout)); err == nil {
		if err := writeFrame(conn, resp); err != nil {
			s.log.Debug("control response", "pod", s.cfg.Key, "op", req.Op, "err", err)
		}
	}
	if after != nil {
		after()
	}
}

// dispatch runs req on the loop and waits for its response. after, if
// set, runs once the response is written.
func (s *server) dispatch(req Request) (resp Response, after func()) {
	ch := make(chan Response, 1)
	reply := func(err error) {
		r := Response{}
		if err != nil {
			r.Error = err.Error()
		}
		st := s.sup.Status()
		r.Status = &st
		ch <- r
	}
	switch req.Op {
	case OpStatus:
		s.post(func() { reply(nil) })
	case OpStart:
		s.afterJoin(reply, func() { s.start(req, reply) })
	case OpSetEnv:
		s.post(func() { ch <- answer(Response{}, s.sup.SetEnv(req.Envs)) })
	case OpEnv:
		s.post(func() {
			env, err := s.sup.Env(req.Container)
			ch <- answer(Response{Env: env}, err)
		})
	case OpKill:
		grace := time.Duration(req.GraceMillis) * time.Millisecond
		s.post(func() { ch <- answer(Response{}, s.sup.Kill(req.Container, grace, req.Message)) })
	case OpStarted:
		s.post(func() { ch <- answer(Response{}, s.sup.Started(req.Container, req.Run)) })
	case OpPreStopped:
		s.post(func() { ch <- answer(Response{}, s.sup.PreStopped(req.Container, req.Run)) })
	case OpUpdate:
		s.afterJoin(reply, func() { s.update(req, reply) })
	case OpHoldRestarts:
		s.post(func() { s.sup.HoldRestarts(); reply(nil) })
	case OpStop:
		grace := time.Duration(req.GraceMillis) * time.Millisecond
		s.post(func() { s.sup.Stop(grace, reply) })
	case OpShutdown:
		s.post(func() { s.sup.Stop(0, reply) })
		after = func() { s.post(func() { s.exit = true }) }
	default:
		return Response{Error: fmt.Sprintf("unsupported op %q (infra protocol version %d)", req.Op, ProtocolVersion)}, nil
	}
	return <-ch, after
}

// attach serves an OpAttach request: the answer, then, when the
// container's current run takes the session, the session itself on the
// connection until the run ends or the caller leaves. It needs nothing
// of the loop: the runs' stdio have their own lock.
func (s *server) attach(conn *net.UnixConn, req Request) {
	var a *attacher
	rio, ok := s.procs.attachTo(req.Container)
	err := fmt.Errorf("container %q is not running", req.Container)
	if ok {
		a, err = rio.join(req.Stdin, req.TTY)
	}
	resp := answer(Response{}, err)
	resp.Version = ProtocolVersion
	werr := conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	if werr == nil {
		werr = writeFrame(conn, resp)
	}
	if err != nil {
		return
	}
	if werr == nil {
		werr = conn.SetDeadline(time.Time{})
	}
	if werr != nil {
		s.log.Debug("attach response", "pod", s.cfg.Key, "container", req.Container, "err", werr)
		rio.leave(a)
		return
	}
	s.log.Info("attach session", "pod", s.cfg.Key, "container", req.Container, "stdin", req.Stdin, "tty", req.TTY)
	rio.serve(a, conn)
}

// watch serves an OpWatch request: the pod's status at once, then again
// whenever its watchKey changes (notifyWatchers), until the caller leaves
// or a write fails. The caller sends nothing more: a read that returns
// says it left.
func (s *server) watch(conn *net.UnixConn) {
	w := &watcher{next: make(chan PodStatus, 1)}
	s.post(func() {
		if s.watchers == nil {
			s.watchers = map[*watcher]struct{}{}
		}
		s.watchers[w] = struct{}{}
		st := s.sup.Status()
		s.watchKey = watchKey(st)
		w.send(st)
	})
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		if conn.SetReadDeadline(time.Time{}) == nil {
			var b [1]byte
			conn.Read(b[:])
		}
	}()
	for done := false; !done; {
		select {
		case st := <-w.next:
			err := conn.SetWriteDeadline(time.Now().Add(requestTimeout))
			if err == nil {
				err = writeFrame(conn, Response{Version: ProtocolVersion, Status: &st})
			}
			if err == nil {
				// A deadline left armed wakes the idle infra when it
				// passes, 30 s after each push, for nothing.
				err = conn.SetWriteDeadline(time.Time{})
			}
			if err != nil {
				s.log.Debug("watch stream", "pod", s.cfg.Key, "err", err)
				done = true
			}
		case <-gone:
			done = true
		}
	}
	conn.Close()
	s.post(func() { delete(s.watchers, w) })
}

// send makes st the next status w writes, replacing one not yet written.
// Only the loop sends, so the second send never blocks.
func (w *watcher) send(st PodStatus) {
	select {
	case <-w.next:
	default:
	}
	w.next <- st
}

// notifyWatchers sends the pod's status to every watch when its watchKey
// changed since the last one sent. It runs on the loop after every event,
// so no start or exit is missed; without watches it costs nothing.
func (s *server) notifyWatchers() {
	if len(s.watchers) == 0 {
		return
	}
	st := s.sup.Status()
	k := watchKey(st)
	if k == s.watchKey {
		return
	}
	s.watchKey = k
	for w := range s.watchers {
		w.send(st)
	}
}

// start runs a Start request on the loop and replies once the first
// starts are recorded, or after StartReplyWait (a stuck init stage is
// killed at container.DefaultInitTimeout and retried, by the infra).
func (s *server) start(req Request, reply func(error)) {
	s.replyWithin(StartReplyWait, reply, func(done func()) error {
		return s.sup.Start(req.InitContainers, req.Containers, done)
	})
}

// update runs an Update request on the loop and replies once the
// restarted containers' new runs started, or after their grace period
// and StartReplyWait (a run that outlives SIGKILL or a stuck init stage is
// the infra's to handle).
func (s *server) update(req Request, reply func(error)) {
	grace := time.Duration(req.GraceMillis) * time.Millisecond
	s.replyWithin(grace+StartReplyWait, reply, func(done func()) error {
		return s.sup.Update(req.Containers, grace, done)
	})
}

// replyWithin runs op, which calls done once what it began is far enough,
// and replies once: with op's error, at done, or after wait at the most.
func (s *server) replyWithin(wait time.Duration, reply func(error), op func(done func()) error) {
	replied := false
	var cancel func()
	once := func(err error) {
		if replied {
			return
		}
		replied = true
		if cancel != nil {
			cancel()
		}
		reply(err)
	}
	if err := op(func() { once(nil) }); err != nil {
		once(err)
		return
	}
	if !replied {
		cancel = s.procs.afterFunc(wait, func() { once(nil) })
	}
}

// answer is r, or the error alone when the op failed.
func answer(r Response, err error) Response {
	if err != nil {
		return Response{Error: err.Error()}
	}
	return r
}

// peerUID is the uid of the process that connected (SO_PEERCRED).
func peerUID(conn *net.UnixConn) (uint32, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return 0, fmt.Errorf("peer credentials: %w", credErr)
	}
	return cred.Uid, nil
}

// inheritedListener is the control socket the launcher made, as the
// infra's listener, which unlinks the socket when it closes.
func inheritedListener(fd int) (*net.UnixListener, error) {
	f := os.NewFile(uintptr(fd), "control socket")
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("control socket from fd %d: %w", fd, err)
	}
	ln, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("control socket from fd %d is not a unix socket", fd)
	}
	ln.SetUnlinkOnClose(true)
	return ln, nil
}
