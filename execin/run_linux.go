package execin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/ptyio"
	"github.com/berth-project/berth/internal/sealed"
)

// Options are the caller's side of an exec.
type Options struct {
	Config Config
	// Stdin forwards In to the command (-i); otherwise its stdin is
	// /dev/null, or the terminal with Config.TTY.
	Stdin        bool
	In, Out, Err *os.File
}

// drainTimeout bounds how long output is still read from the terminal
// after the command exited, when something it started keeps the terminal
// open.
const drainTimeout = 500 * time.Millisecond

// Run runs the command of o.Config in its container and returns the exit
// status berth exec should exit with. A failure before the command ran is
// a *SetupError (whose ExitCode applies), or another error when exec-init
// could not be started at all.
func Run(o Options) (int, error) {
	// exec-init dies (Pdeathsig) when the thread that started it exits:
	// keep this one until it is waited for.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	exe, release, err := sealSelf()
	if err != nil {
		return 0, err
	}
	defer release()

	var term *terminal
	if o.Config.TTY {
		if term, err = newTerminal(o); err != nil {
			return 0, err
		}
		defer term.close()
	}
	cmd, cfgW, syncR, err := startInit(exe, o, term)
	if err != nil {
		return 0, err
	}
	release()
	if err := sendConfig(cfgW, o.Config); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, err
	}
	if err := readSync(syncR); err != nil {
		cmd.Wait()
		return 0, err
	}
	stop := forwardSignals(cmd)
	defer stop()
	if term != nil {
		term.attach(o)
	}
	err = cmd.Wait()
	if term != nil {
		term.drain()
	}
	if cmd.ProcessState == nil {
		return 0, fmt.Errorf("wait for %s: %w", InitSubcommand, err)
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return 0, fmt.Errorf("wait for %s: %w", InitSubcommand, err)
	}
	return ExitCode(ws.Exited(), ws.ExitStatus(), ws.Signaled(), int(ws.Signal())), nil
}

// sealSelf makes the sealed copy of berth that exec-init runs from: its
// child is the command, inside the container, and must never reach the
// host's binary (docs/security.md rule 4). release may be called twice.
func sealSelf() (path string, release func(), err error) {
	dir, err := os.MkdirTemp("", "berth-exec-")
	if err != nil {
		return "", nil, fmt.Errorf("create directory for sealed binary: %w", err)
	}
	bin, err := sealed.Seal(dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("seal berth binary: %w", err)
	}
	done := false
	return bin.Path, func() {
		if !done {
			done = true
			bin.Close()
			os.RemoveAll(dir) // a started process keeps its binary
		}
	}, nil
}

// startInit starts exec-init with its config and sync pipes and the
// command's stdio.
func startInit(exe string, o Options, term *terminal) (cmd *exec.Cmd, cfgW, syncR *os.File, err error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("config pipe: %w", err)
	}
	defer cfgR.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		cfgW.Close()
		return nil, nil, nil, fmt.Errorf("sync pipe: %w", err)
	}
	defer syncW.Close()
	cmd = &exec.Cmd{
		Path: exe, Args: []string{"berth", InitSubcommand, "--config-fd=3", "--sync-fd=4"},
		Env: container.InitEnv(), ExtraFiles: []*os.File{cfgR, syncW},
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	switch {
	case term != nil:
		cmd.Stdin, cmd.Stdout, cmd.Stderr = term.peer, term.peer, term.peer
	default:
		if o.Stdin {
			cmd.Stdin = o.In
		}
		cmd.Stdout, cmd.Stderr = o.Out, o.Err
	}
	if err := cmd.Start(); err != nil {
		cfgW.Close()
		syncR.Close()
		return nil, nil, nil, fmt.Errorf("start %s: %w", InitSubcommand, err)
	}
	if term != nil {
		term.peer.Close() // the command holds it now; EOF comes when it exits
		term.peer = nil
	}
	return cmd, cfgW, syncR, nil
}

func sendConfig(w *os.File, cfg Config) error {
	defer w.Close()
	if err := json.NewEncoder(w).Encode(cfg); err != nil {
		return fmt.Errorf("send config to %s: %w", InitSubcommand, err)
	}
	return nil
}

// readSync waits for exec-init's answer: EOF once the command runs, or a
// SetupError.
func readSync(r *os.File) error {
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return fmt.Errorf("read from %s: %w", InitSubcommand, err)
	}
	if len(b) == 0 {
		return nil
	}
	var se SetupError
	if err := json.Unmarshal(b, &se); err != nil {
		return fmt.Errorf("%s failed: %q", InitSubcommand, b)
	}
	return &se
}

// forwardSignals passes SIGTERM and SIGHUP on to exec-init (which passes
// them to the command). SIGINT and SIGQUIT come from the caller's terminal,
// which delivers them to the command directly (or, with -t, sends them as
// bytes through the pty): berth only keeps running to report the status.
func forwardSignals(cmd *exec.Cmd) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				if s == unix.SIGTERM || s == unix.SIGHUP {
					cmd.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// terminal is the pty of an exec with -t.
type terminal struct {
	master, peer *os.File
	// callerFd is the caller's terminal (-1 when it has none): raw mode and
	// the window size come from it.
	callerFd int
	restore  func() error
	winch    chan os.Signal
	copied   chan struct{}
}

func newTerminal(o Options) (*terminal, error) {
	master, peer, err := ptyio.Open()
	if err != nil {
		return nil, err
	}
	t := &terminal{master: master, peer: peer, callerFd: -1, copied: make(chan struct{})}
	for _, f := range []*os.File{o.In, o.Out} {
		if f != nil && ptyio.IsTerminal(int(f.Fd())) {
			t.callerFd = int(f.Fd())
			break
		}
	}
	if t.callerFd >= 0 {
		if err := ptyio.CopyWinsize(t.callerFd, master); err != nil {
			t.close()
			return nil, err
		}
	}
	return t, nil
}

// attach puts the caller's terminal in raw mode and starts copying: the
// command's output to Out, and In to the command with -i; window-size
// changes follow.
func (t *terminal) attach(o Options) {
	if o.Stdin && t.callerFd >= 0 && ptyio.IsTerminal(int(o.In.Fd())) {
		if restore, err := ptyio.MakeRaw(int(o.In.Fd())); err == nil {
			t.restore = restore
		}
	}
	if t.callerFd >= 0 {
		t.winch = make(chan os.Signal, 1)
		signal.Notify(t.winch, unix.SIGWINCH)
		go func() {
			for range t.winch {
				ptyio.CopyWinsize(t.callerFd, t.master)
			}
		}()
	}
	go func() {
		defer close(t.copied)
		copyOutput(o.Out, t.master)
	}()
	if o.Stdin {
		// Ends with the process: a read of the caller's stdin cannot be
		// interrupted portably.
		go io.Copy(t.master, o.In)
	}
}

// copyOutput copies the pty's output until the last holder of the peer
// closes it (EIO) or the drain deadline passes.
func copyOutput(w io.Writer, master *os.File) {
	_, err := io.Copy(w, master)
	if err != nil && !errors.Is(err, unix.EIO) && !errors.Is(err, os.ErrDeadlineExceeded) {
		fmt.Fprintf(os.Stderr, "berth exec: copy terminal output: %v\r\n", err)
	}
}

// drain waits for the output still buffered in the pty, at most
// drainTimeout once the command has exited.
func (t *terminal) drain() {
	t.master.SetReadDeadline(time.Now().Add(drainTimeout))
	<-t.copied
}

func (t *terminal) close() {
	if t.winch != nil {
		signal.Stop(t.winch)
		close(t.winch)
	}
	if t.restore != nil {
		t.restore()
	}
	if t.peer != nil {
		t.peer.Close()
	}
	t.master.Close()
}
