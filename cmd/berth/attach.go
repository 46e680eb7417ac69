package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/attachio"
	"github.com/berth-project/berth/internal/ptyio"
)

func newAttachCmd(g *globals) *cobra.Command {
	var namespace, ctr string
	var stdin, tty bool
	c := &cobra.Command{
		Use:   "attach [-i] [-t] POD [-c CONTAINER]",
		Short: "Attach to the process of a running container",
		Long: "Attach to the main process of a running container, as kubectl attach does: its output " +
			"from now on is shown; with -i what you type goes to its stdin (the container needs " +
			"stdin: true); with -t your terminal is put in raw mode and its size follows yours " +
			"(the container needs tty: true). Ctrl-C detaches, and the container runs on (with -it it is " +
			"typed into the container instead); with stdinOnce: true the " +
			"container's stdin closes when the first session that sent input ends. Needs root.",
		Example: "  berth attach web\n  berth attach -it debug -c shell",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttach(cmd.Context(), api.NewClient(g.socket), attachRequest{
				namespace: namespace, pod: args[0], container: ctr, stdin: stdin, tty: tty,
			})
		},
	}
	f := c.Flags()
	f.StringVarP(&namespace, "namespace", "n", "default", "namespace of the pod")
	f.StringVarP(&ctr, "container", "c", "", "container name (may be omitted when the pod has one)")
	f.BoolVarP(&stdin, "stdin", "i", false, "pass stdin to the container")
	f.BoolVarP(&tty, "tty", "t", false, "stdin is a TTY")
	return c
}

type attachRequest struct {
	namespace, pod, container string
	stdin, tty                bool
}

// attachTerminal decides whether the caller's terminal goes to raw mode:
// with -t and -i on a terminal. Otherwise a -t still asks the container for
// its terminal (its output, its size) but nothing is typed into it; -i -t
// without a terminal to read says so, in kubectl's words.
func attachTerminal(stdin, tty, stdinIsTerminal bool) (raw bool, warning string) {
	switch {
	case !tty:
		return false, ""
	case stdin && !stdinIsTerminal:
		return false, "Unable to use a TTY - input is not a terminal or the right kind of file"
	}
	return stdin, ""
}

func runAttach(ctx context.Context, client *api.Client, r attachRequest) error {
	target := r.namespace + "/" + r.pod
	raw, warning := attachTerminal(r.stdin, r.tty, ptyio.IsTerminal(int(os.Stdin.Fd())))
	if warning != "" {
		fmt.Fprintln(os.Stderr, warning)
	}
	conn, err := client.Attach(ctx, r.namespace, r.pod, r.container, r.stdin, r.tty)
	if err != nil {
		return fmt.Errorf("attach to pod %s: %w", target, err)
	}
	defer conn.Close()
	s := &attachSession{conn: conn}
	if raw {
		fmt.Fprintln(os.Stderr, "If you don't see a command prompt, try pressing enter.")
		restore, err := ptyio.MakeRaw(int(os.Stdin.Fd()))
		if err != nil {
			return fmt.Errorf("attach to pod %s: %w", target, err)
		}
		defer restore()
	}
	if r.tty {
		stop := s.followWinsize(int(os.Stdout.Fd()))
		defer stop()
	}
	if r.stdin {
		go s.sendInput(os.Stdin)
	}
	stop := detachOnSignal(conn)
	defer stop()
	err = s.copyOutput(os.Stdout, os.Stderr)
	if raw {
		fmt.Fprintf(os.Stderr, "\r\nSession ended, resume using '%s' command when the pod is running\r\n", resumeCommand(r))
	}
	if err != nil {
		return fmt.Errorf("attach to pod %s: %w", target, err)
	}
	return nil
}

// attachSession is the caller's side of an attach: frames to the infra
// are written by several goroutines (input, window sizes), one at a time.
type attachSession struct {
	conn net.Conn
	mu   sync.Mutex
}

func (s *attachSession) send(kind attachio.Kind, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return attachio.WriteFrame(s.conn, kind, data)
}

// sendInput forwards in until its end, then says so (CloseStdin), and
// the session goes on showing output until the container's run ends.
func (s *attachSession) sendInput(in io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if s.send(attachio.Stdin, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			s.send(attachio.CloseStdin, nil)
			return
		}
	}
}

// followWinsize sends the size of the terminal fd now and at every
// SIGWINCH; nothing when fd is no terminal.
func (s *attachSession) followWinsize(fd int) (stop func()) {
	sendSize := func() {
		if rows, cols, err := ptyio.Winsize(fd); err == nil && rows > 0 && cols > 0 {
			s.send(attachio.Resize, attachio.EncodeResize(rows, cols))
		}
	}
	if !ptyio.IsTerminal(fd) {
		return func() {}
	}
	sendSize()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	go func() {
		for range ch {
			sendSize()
		}
	}()
	return func() { signal.Stop(ch); close(ch) }
}

// copyOutput shows the container's output until the session ends.
func (s *attachSession) copyOutput(stdout, stderr io.Writer) error {
	for {
		f, err := attachio.ReadFrame(s.conn)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		w := stdout
		if f.Kind == attachio.Stderr {
			w = stderr
		}
		if _, err := w.Write(f.Payload); err != nil {
			return err
		}
	}
}

// detachOnSignal ends the session on Ctrl-C (in raw mode, with -it, the
// key is a byte for the container instead), SIGTERM or SIGHUP: the
// container keeps running.
func detachOnSignal(conn net.Conn) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			conn.Close()
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// resumeCommand is the command that attaches again, for the message at
// the end of a terminal session, as kubectl prints it.
func resumeCommand(r attachRequest) string {
	cmd := "berth attach " + r.pod
	if r.namespace != "default" {
		cmd += " -n " + r.namespace
	}
	if r.container != "" {
		cmd += " -c " + r.container
	}
	return cmd + " -i -t"
}
