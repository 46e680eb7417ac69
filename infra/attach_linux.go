package infra

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/attachio"
	"github.com/berth-project/berth/internal/ptyio"
)

// attachBuffer is how many chunks of output (each at most one read of the
// log's copy, crilog.MaxRecordText) wait for an attacher that is slow to
// take them; past it the attacher is dropped, so that it never holds the
// container's output or its log.
const attachBuffer = 64

// maxSessions caps the attach sessions of one run, and with it what they
// may buffer (maxSessions * attachBuffer chunks). A session dropped for
// being slow leaves the count at once, and its connection is closed, so
// that its writer lets go of what was buffered for it at once too.
const maxSessions = 16

// sessionConn is a session's connection: a unix socket, whose hang-up
// the session sees without reading (attachio.HungUp).
type sessionConn interface {
	net.Conn
	syscall.Conn
}

// runIO is the stdio the infra holds for one run of a container beside
// its log: the write side of its stdin, its terminal, and the attach
// sessions its output is copied to.
type runIO struct {
	cfg *ContainerConfig
	log *slog.Logger
	// in is where input goes: the stdin pipe's write end, or the pty
	// master with a terminal; nil without stdin. master is the pty master
	// (window sizes), nil without a terminal.
	in, master *os.File
	// inTurn is held by the one writer of in, for a whole chunk, so that
	// sessions' chunks never interleave.
	inTurn chan struct{}

	mu sync.Mutex
	// stdinClosed: stdinOnce closed the stdin after the first session.
	stdinClosed bool
	ended       bool
	attachers   map[*attacher]struct{}
}

// attacher is one attach session of a run.
type attacher struct {
	stdin bool
	// out carries output frames to the session's writer; closed when the
	// session is dropped or the run ends.
	out    chan attachio.Frame
	closed bool
	// stdinDone: this session's input already ended.
	stdinDone bool
	// conn is the session's connection once served; slow: it was dropped
	// for being slow, and conn is closed.
	conn sessionConn
	slow bool
}

func newRunIO(cfg *ContainerConfig, log *slog.Logger, in, master *os.File) *runIO {
	return &runIO{cfg: cfg, log: log, in: in, master: master, inTurn: make(chan struct{}, 1), attachers: map[*attacher]struct{}{}}
}

// join registers a session that asks for input (stdin) or the terminal
// (tty), or says why it cannot.
func (r *runIO) join(stdin, tty bool) (*attacher, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return nil, errRunEnded
	}
	if err := attachRefusal(r.cfg, stdin, tty, r.stdinClosed); err != nil {
		return nil, err
	}
	if len(r.attachers) >= maxSessions {
		return nil, fmt.Errorf("container %s already has %d attach sessions, the most it takes", r.cfg.Name, maxSessions)
	}
	a := &attacher{stdin: stdin, out: make(chan attachio.Frame, attachBuffer)}
	r.attachers[a] = struct{}{}
	return a, nil
}

// errRunEnded is an attach to a run whose output just ended.
var errRunEnded = errors.New("the container's run has ended")

// broadcast hands a copy of output p to every session, without waiting:
// a session whose buffer is full is dropped, and its connection closed:
// what is buffered for it is let go, not written.
func (r *runIO) broadcast(kind attachio.Kind, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.attachers) == 0 {
		return
	}
	f := attachio.Frame{Kind: kind, Payload: append([]byte(nil), p...)}
	for a := range r.attachers {
		select {
		case a.out <- f:
		default:
			r.log.Warn("attach session too slow to take the container's output, dropped", "container", r.cfg.Name)
			a.slow = true
			if a.conn != nil {
				a.conn.Close()
			}
			r.dropLocked(a)
		}
	}
}

func (r *runIO) dropLocked(a *attacher) {
	delete(r.attachers, a)
	if !a.closed {
		a.closed = true
		close(a.out)
	}
}

// end is called once the run's output is all copied: every session gets
// what is buffered for it and is closed, and the infra's side of stdin
// is closed.
func (r *runIO) end() {
	r.mu.Lock()
	r.ended = true
	for a := range r.attachers {
		r.dropLocked(a)
	}
	r.mu.Unlock()
	if r.in != nil && r.in != r.master {
		r.in.Close()
	}
}

// leave ends session a: its input ends too.
func (r *runIO) leave(a *attacher) {
	r.inputEnded(a)
	r.mu.Lock()
	r.dropLocked(a)
	r.mu.Unlock()
}

// inputEnded is the end of a's input (its caller's EOF, or its
// departure); with stdinOnce the container's stdin closes then: EOF for
// a pipe, the terminal's end-of-file character (^D) for a terminal.
func (r *runIO) inputEnded(a *attacher) {
	r.mu.Lock()
	if !a.stdin || a.stdinDone {
		r.mu.Unlock()
		return
	}
	a.stdinDone = true
	closeNow := r.cfg.StdinOnce && !r.stdinClosed && !r.ended
	if closeNow {
		r.stdinClosed = true
	}
	r.mu.Unlock()
	if !closeNow {
		return
	}
	if r.master != nil {
		// Behind any input the container has not read yet: it waits
		// for that, or for the run's end, but holds no session.
		go r.endTerminalInput()
		return
	}
	r.in.Close()
}

// endTerminalInput writes the terminal's end-of-file character once the
// container takes it, or gives up when the run ends.
func (r *runIO) endTerminalInput() {
	if !r.takeInput(r.hasEnded) {
		return
	}
	defer r.giveInput()
	if err := attachio.WriteWatching(r.master, []byte{ptyio.EOFChar(r.master)}, r.hasEnded); err != nil {
		r.log.Debug("end of terminal input", "container", r.cfg.Name, "err", err)
	}
}

func (r *runIO) hasEnded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// inputOver says a's input goes nowhere any more: it ended, or the
// container's stdin closed (stdinOnce).
func (r *runIO) inputOver(a *attacher) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !a.stdin || a.stdinDone || r.stdinClosed
}

// takeInput waits for the turn to write to the container's stdin, asking
// stop every attachio.WatchEvery it waits; false when stop said so first.
func (r *runIO) takeInput(stop func() bool) bool {
	for {
		select {
		case r.inTurn <- struct{}{}:
			return true
		case <-time.After(attachio.WatchEvery):
			if stop() {
				return false
			}
		}
	}
}

func (r *runIO) giveInput() { <-r.inTurn }

// write passes a's input to the container's stdin, unless a's input or
// the stdin ended (stdinOnce). While the container does not read, it
// waits, but asks every attachio.WatchEvery whether a's caller left, and
// gives up then (attachio.ErrGone): a caller who leaves a container that
// never reads is noticed, and its session frees its slot.
func (r *runIO) write(a *attacher, p []byte, left func() bool) error {
	stop := func() bool { return r.inputOver(a) || left() }
	if r.inputOver(a) {
		return nil
	}
	if !r.takeInput(stop) {
		return attachio.ErrGone
	}
	defer r.giveInput()
	if r.inputOver(a) {
		return nil
	}
	return attachio.WriteWatching(r.in, p, stop)
}

// serve runs session a on conn until the run ends, the caller leaves or
// the session is dropped: output frames out, input and window sizes in.
func (r *runIO) serve(a *attacher, conn sessionConn) {
	r.mu.Lock()
	a.conn = conn
	if a.slow {
		conn.Close()
	}
	r.mu.Unlock()
	written := make(chan struct{})
	go func() {
		defer close(written)
		for f := range a.out {
			if err := attachio.WriteFrame(conn, f.Kind, f.Payload); err != nil {
				break
			}
		}
		// The reader below ends on this close.
		conn.Close()
	}()
	r.readInput(a, conn)
	r.leave(a)
	<-written
}

// readInput reads the caller's frames until it leaves.
func (r *runIO) readInput(a *attacher, conn sessionConn) {
	left := func() bool { return attachio.HungUp(conn) }
	for {
		f, err := attachio.ReadFrame(conn)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.log.Debug("attach session input", "container", r.cfg.Name, "err", err)
			}
			return
		}
		switch f.Kind {
		case attachio.Stdin:
			err := r.write(a, f.Payload, left)
			if errors.Is(err, attachio.ErrGone) && left() {
				return
			}
			if err != nil && !errors.Is(err, attachio.ErrGone) {
				r.log.Debug("write to the container's stdin", "container", r.cfg.Name, "err", err)
			}
		case attachio.CloseStdin:
			r.inputEnded(a)
		case attachio.Resize:
			rows, cols, err := attachio.DecodeResize(f.Payload)
			if err == nil && r.master != nil {
				err = ptyio.SetWinsize(r.master, rows, cols)
			}
			if err != nil {
				r.log.Debug("attach window size", "container", r.cfg.Name, "err", err)
			}
		}
	}
}

// teeReader passes what it reads from a run's output to its sessions; a
// terminal's EIO (no process holds the peer any more) is its EOF.
type teeReader struct {
	r    io.Reader
	io   *runIO
	kind attachio.Kind
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.io.broadcast(t.kind, p[:n])
	}
	if t.io.master != nil && errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}
