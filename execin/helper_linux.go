package execin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
)

// Helper is a container run's exec helper, the daemon's side: exec-init
// started once with Config.Serve, which enters the container as it does
// for one command and then runs the commands Run sends it on a socket
// (see serveMain). The daemon's exec probes run through one, instead of
// starting exec-init, a Go process, for every probe.
//
// The helper is the daemon's child: one goroutine reads its replies (in
// Go's poller, no thread held) and, when the socket ends or a reply is out
// of the protocol, kills its tree and reaps it. A Helper serves one Run at
// a time.
type Helper struct {
	cfg  Config
	cmd  *exec.Cmd
	conn *os.File

	// replies carries the reply to the request in flight; max is its
	// output cap and pending whether one is in flight.
	replies chan reply
	max     atomic.Int64
	pending atomic.Bool
	// done closes once the helper is reaped; err is why it ended.
	done chan struct{}
	err  error
	// broken is set once the helper is not to be used again.
	broken atomic.Bool

	// mu orders killTree before the reaping: a reaped PID is never
	// signalled.
	mu     sync.Mutex
	reaped bool
}

// ErrHelperGone is wrapped by Run's error when the helper ended.
var ErrHelperGone = errors.New("exec helper ended")

// StartHelper starts the exec helper of cfg's container run (cfg.Args are
// ignored) from exe, a sealed binary that has exec-init, as Output does.
// Its failure to enter the container is the reply to the first Run.
// exited, when not nil, is called once it was reaped.
func StartHelper(exe string, cfg Config, exited func(*Helper)) (*Helper, error) {
	cfg.Args, cfg.TTY, cfg.Serve = nil, false, true
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("exec helper socket: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("exec helper socket: %w", err)
	}
	conn, peer := os.NewFile(uintptr(fds[0]), "exec helper"), os.NewFile(uintptr(fds[1]), "exec helper peer")
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		conn.Close()
		peer.Close()
		return nil, fmt.Errorf("config pipe: %w", err)
	}
	// No Pdeathsig: the helper outlives the thread that starts it; it
	// exits when the daemon's end of the socket closes instead.
	cmd := &exec.Cmd{
		Path: exe, Args: []string{"berth", InitSubcommand, "--config-fd=3", "--sync-fd=4"},
		Env: container.InitEnv(), ExtraFiles: []*os.File{cfgR, peer},
	}
	err = cmd.Start()
	cfgR.Close()
	peer.Close()
	if err != nil {
		conn.Close()
		cfgW.Close()
		return nil, fmt.Errorf("start %s: %w", InitSubcommand, err)
	}
	h := &Helper{cfg: cfg, cmd: cmd, conn: conn, replies: make(chan reply, 1), done: make(chan struct{})}
	go h.read(exited)
	if err := sendConfig(cfgW, cfg); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Target says which container run the helper is in.
func (h *Helper) Target() (pid int, startTime uint64) { return h.cfg.PID, h.cfg.StartTime }

// Usable says whether the helper may run another command.
func (h *Helper) Usable() bool {
	select {
	case <-h.done:
		return false
	default:
		return !h.broken.Load()
	}
}

// PID is the helper's process on the host.
func (h *Helper) PID() int { return h.cmd.Process.Pid }

// read reads the replies until the socket ends or a reply is out of the
// protocol (a reply with no request in flight is one), then kills the
// helper's tree and reaps it.
func (h *Helper) read(exited func(*Helper)) {
	first := true
	var err error
	for {
		var rp reply
		rp, err = readReply(h.conn, func() int { return int(h.max.Load()) })
		if err != nil {
			break
		}
		if !h.pending.CompareAndSwap(true, false) {
			err = fmt.Errorf("%w: a reply to no request", errProtocol)
			break
		}
		if rp.Setup != nil && !first {
			err = fmt.Errorf("%w: a setup report after setup", errProtocol)
			break
		}
		first = false
		if rp.Setup != nil {
			h.broken.Store(true)
		}
		h.replies <- rp
		if rp.Setup != nil {
			break
		}
	}
	h.broken.Store(true)
	h.conn.Close()
	h.mu.Lock()
	killTree(h.cmd.Process.Pid)
	h.cmd.Wait()
	h.reaped = true
	h.mu.Unlock()
	h.err = err
	close(h.done)
	if exited != nil {
		exited(h)
	}
}

// Close kills the helper and the command it runs; the reading goroutine
// reaps it.
func (h *Helper) Close() {
	h.broken.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.reaped {
		killTree(h.cmd.Process.Pid)
	}
}

// Run runs args in the helper's container as Output runs them: it returns
// the exit status and the first max bytes of the output, or, for a
// command that could not be run, its exit status and reason (as exec-init
// reports it). When ctx ends first, the command and the helper are killed
// (as Output kills exec-init) and the error wraps ctx's. Any other error
// means the helper is gone or broken: Usable says false, and the caller
// starts another.
func (h *Helper) Run(ctx context.Context, args []string, max int) (int, []byte, error) {
	name := strings.Join(args, " ")
	b, err := encodeRequest(request{Args: args, Max: max})
	if err != nil {
		return 0, nil, fmt.Errorf("exec %s: %w", name, err)
	}
	h.max.Store(int64(max))
	if h.broken.Load() {
		// Killed or ending: its reason comes once it is reaped.
		<-h.done
	}
	select {
	case <-h.done:
		return 0, nil, fmt.Errorf("exec %s: %w: %w", name, ErrHelperGone, h.exitReason())
	default:
	}
	if !h.pending.CompareAndSwap(false, true) {
		return 0, nil, fmt.Errorf("exec %s: a command already runs: %w", name, ErrHelperGone)
	}
	if d, ok := ctx.Deadline(); ok {
		h.conn.SetWriteDeadline(d)
	} else {
		h.conn.SetWriteDeadline(time.Time{})
	}
	if _, err := h.conn.Write(b); err != nil {
		h.Close()
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("exec %s: %w", name, ctx.Err())
		}
		return 0, nil, fmt.Errorf("exec %s: send to the exec helper: %w: %w", name, ErrHelperGone, err)
	}
	select {
	case rp := <-h.replies:
		if rp.Setup != nil {
			return rp.Setup.ExitCode(), []byte(rp.Setup.Error()), nil
		}
		return rp.Status, rp.Output, nil
	case <-h.done:
		select {
		case rp := <-h.replies:
			if rp.Setup != nil {
				return rp.Setup.ExitCode(), []byte(rp.Setup.Error()), nil
			}
		default:
		}
		return 0, nil, fmt.Errorf("exec %s: %w: %w", name, ErrHelperGone, h.exitReason())
	case <-ctx.Done():
		h.Close()
		return 0, nil, fmt.Errorf("exec %s: %w", name, ctx.Err())
	}
}

// exitReason says why the helper ended, once done closed.
func (h *Helper) exitReason() error {
	if h.err != nil && !errors.Is(h.err, io.EOF) {
		return h.err
	}
	if ws, ok := h.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		return fmt.Errorf("%s exited with %d", InitSubcommand, ExitCode(ws.Exited(), ws.ExitStatus(), ws.Signaled(), int(ws.Signal())))
	}
	return h.err
}
