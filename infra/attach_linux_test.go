package infra

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/attachio"
	"github.com/berth-project/berth/internal/ptyio"
	"github.com/berth-project/berth/internal/testutil"
)

// stdinRun is a run with a stdin pipe: what the container would read
// comes out of the returned reader.
func stdinRun(t *testing.T, cfg *ContainerConfig) (*runIO, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return newRunIO(cfg, slog.New(slog.DiscardHandler), w, nil), r
}

// connPair is a connected pair of unix sockets, as an attach session's.
func connPair(t *testing.T) (here, there *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "attach")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

// session joins rio and serves it on one end of a connection; the caller
// gets the other, and served is closed once the session ended.
func session(t *testing.T, rio *runIO, stdin bool) (conn net.Conn, served chan struct{}) {
	t.Helper()
	a, err := rio.join(stdin, false)
	if err != nil {
		t.Fatal(err)
	}
	here, there := connPair(t)
	served = make(chan struct{})
	go func() {
		defer close(served)
		rio.serve(a, there)
	}()
	return here, served
}

// isClosed says whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAttachStdinOnceClosesAfterTheFirstSession(t *testing.T) {
	rio, in := stdinRun(t, &ContainerConfig{Name: "app", Stdin: true, StdinOnce: true})
	watcher, _ := session(t, rio, false)
	typist, _ := session(t, rio, true)
	if err := attachio.WriteFrame(typist, attachio.Stdin, []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	// A session without input ending leaves the stdin open.
	watcher.Close()
	if err := attachio.WriteFrame(typist, attachio.CloseStdin, nil); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(in)
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("the container read %q, %v; want the input, then EOF", got, err)
	}
	if _, err := rio.join(true, false); err == nil {
		t.Fatal("a second session with input was let in after stdinOnce closed the stdin")
	}
	if _, err := rio.join(false, false); err != nil {
		t.Fatalf("a session for output alone after stdinOnce: %v", err)
	}
}

func TestAttachStdinStaysOpenWithoutStdinOnce(t *testing.T) {
	rio, in := stdinRun(t, &ContainerConfig{Name: "app", Stdin: true})
	first, firstServed := session(t, rio, true)
	attachio.WriteFrame(first, attachio.Stdin, []byte("one "))
	attachio.WriteFrame(first, attachio.CloseStdin, nil)
	first.Close()
	// The socket holds the first session's frames: it ends after them.
	<-firstServed
	second, _ := session(t, rio, true)
	attachio.WriteFrame(second, attachio.Stdin, []byte("two"))
	got := make([]byte, len("one two"))
	if _, err := io.ReadFull(in, got); err != nil || string(got) != "one two" {
		t.Fatalf("the container read %q, %v; want both sessions' input", got, err)
	}
}

func TestAttachOutputReachesSessionsAndEndClosesThem(t *testing.T) {
	rio, _ := stdinRun(t, &ContainerConfig{Name: "app"})
	conn, _ := session(t, rio, false)
	rio.broadcast(attachio.Stdout, []byte("out"))
	rio.broadcast(attachio.Stderr, []byte("err"))
	for _, want := range []attachio.Frame{{Kind: attachio.Stdout, Payload: []byte("out")}, {Kind: attachio.Stderr, Payload: []byte("err")}} {
		f, err := attachio.ReadFrame(conn)
		if err != nil || f.Kind != want.Kind || !bytes.Equal(f.Payload, want.Payload) {
			t.Fatalf("got %+v, %v; want %+v", f, err, want)
		}
	}
	rio.end()
	if _, err := attachio.ReadFrame(conn); err != io.EOF {
		t.Fatalf("after the run ended: %v, want EOF", err)
	}
	if _, err := rio.join(false, false); err == nil {
		t.Fatal("a session joined a run that ended")
	}
}

// A session that never reads must not hold the output: past its buffer
// it is dropped and closed, broadcasting goes on, and the session lets
// go of what was buffered for it (its writer is not left blocked).
func TestAttachSlowSessionIsDropped(t *testing.T) {
	rio, _ := stdinRun(t, &ContainerConfig{Name: "app"})
	slow, served := session(t, rio, false)
	// Far more than the socket holds: the writer blocks.
	chunk := bytes.Repeat([]byte("x"), 16<<10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range attachBuffer * 4 {
			rio.broadcast(attachio.Stdout, chunk)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("broadcast blocked on a session that does not read")
	}
	testutil.WaitFor(t, 10*time.Second, "the slow session to be dropped", func() bool {
		rio.mu.Lock()
		defer rio.mu.Unlock()
		return len(rio.attachers) == 0
	})
	testutil.WaitFor(t, 10*time.Second, "the dropped session to end while its caller does not read", func() bool { return isClosed(served) })
	// What the socket took before the drop arrives, then the end.
	n := 0
	for {
		_, err := attachio.ReadFrame(slow)
		if err != nil {
			break
		}
		n++
	}
	if n > attachBuffer+1 {
		t.Errorf("the dropped session got %d frames, want at most its buffer", n)
	}
}

// abandonInput sends more input than a pipe holds on a new session of
// rio, then leaves without waiting for the container to read it; the
// returned channel is closed when the session ended.
func abandonInput(t *testing.T, rio *runIO) chan struct{} {
	t.Helper()
	conn, served := session(t, rio, true)
	chunk := bytes.Repeat([]byte("x"), attachio.MaxPayload)
	for range 4 {
		if err := attachio.WriteFrame(conn, attachio.Stdin, chunk); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	return served
}

// Callers who leave a container that never reads its stdin leave with
// their sessions: the slots free up, and the stdin stays open.
func TestAttachCallerLeavingUnreadInputFreesTheSlot(t *testing.T) {
	rio, in := stdinRun(t, &ContainerConfig{Name: "app", Stdin: true})
	var sessions []chan struct{}
	for range maxSessions {
		sessions = append(sessions, abandonInput(t, rio))
	}
	testutil.WaitFor(t, 20*time.Second, "the abandoned sessions to end", func() bool {
		for _, s := range sessions {
			if !isClosed(s) {
				return false
			}
		}
		return true
	})
	conn, _ := session(t, rio, true)
	if err := attachio.WriteFrame(conn, attachio.Stdin, []byte("marker")); err != nil {
		t.Fatal(err)
	}
	var read atomic.Value
	go func() {
		var got []byte
		buf := make([]byte, 64<<10)
		for {
			n, err := in.Read(buf)
			got = append(got, buf[:n]...)
			read.Store(string(got))
			if err != nil {
				return
			}
		}
	}()
	testutil.WaitFor(t, 10*time.Second, "the new session's input to reach the container", func() bool {
		got, _ := read.Load().(string)
		return strings.HasSuffix(got, "marker")
	})
	if got := read.Load().(string); strings.Trim(got[:len(got)-len("marker")], "x") != "" {
		t.Errorf("the container read something else than the sessions' input: %.40q", got)
	}
}

// With stdinOnce, a session that sent input and whose caller left while
// the container does not read ends as any first session: it closes the
// stdin, behind what was written.
func TestAttachStdinOnceCallerLeavingUnreadInput(t *testing.T) {
	rio, in := stdinRun(t, &ContainerConfig{Name: "app", Stdin: true, StdinOnce: true})
	served := abandonInput(t, rio)
	testutil.WaitFor(t, 10*time.Second, "the abandoned session to end", func() bool { return isClosed(served) })
	got, err := io.ReadAll(in)
	if err != nil || len(got) == 0 || strings.Trim(string(got), "x") != "" {
		t.Fatalf("the container read %d bytes, %v; want some of the input, then EOF", len(got), err)
	}
}

// A terminal that does not read: the caller leaving is seen too, and the
// end-of-file character (stdinOnce) holds no session.
func TestAttachTerminalCallerLeavingUnreadInput(t *testing.T) {
	master, peer, err := ptyio.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); peer.Close() })
	rio := newRunIO(&ContainerConfig{Name: "app", Stdin: true, StdinOnce: true, TTY: true}, slog.New(slog.DiscardHandler), master, master)
	a, err := rio.join(true, true)
	if err != nil {
		t.Fatal(err)
	}
	here, there := connPair(t)
	served := make(chan struct{})
	go func() {
		defer close(served)
		rio.serve(a, there)
	}()
	// Lines, which a terminal in canonical mode keeps (it drops what
	// overflows a line), more than it holds (a few KiB); then leave.
	lines := bytes.Repeat([]byte(strings.Repeat("x", 63)+"\n"), attachio.MaxPayload/64)
	for range 2 {
		if err := attachio.WriteFrame(here, attachio.Stdin, lines); err != nil {
			t.Fatal(err)
		}
	}
	here.Close()
	testutil.WaitFor(t, 10*time.Second, "the abandoned session to end", func() bool { return isClosed(served) })
}

func TestAttachTerminalSizeAndStdinOnce(t *testing.T) {
	master, peer, err := ptyio.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); peer.Close() })
	rio := newRunIO(&ContainerConfig{Name: "app", Stdin: true, StdinOnce: true, TTY: true}, slog.New(slog.DiscardHandler), master, master)
	a, err := rio.join(true, true)
	if err != nil {
		t.Fatal(err)
	}
	here, there := connPair(t)
	go rio.serve(a, there)
	attachio.WriteFrame(here, attachio.Resize, attachio.EncodeResize(30, 90))
	attachio.WriteFrame(here, attachio.Stdin, []byte("hi\n"))
	attachio.WriteFrame(here, attachio.CloseStdin, nil)
	// Canonical mode: one line per read, then the end-of-file character
	// makes a read return nothing.
	buf := make([]byte, 64)
	n, err := peer.Read(buf)
	if err != nil || string(buf[:n]) != "hi\n" {
		t.Fatalf("the container read %q, %v; want the line", buf[:n], err)
	}
	if n, err := peer.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the session's input ended: %q, %v; want EOF", buf[:n], err)
	}
	rows, cols, err := ptyio.Winsize(int(peer.Fd()))
	if err != nil || rows != 30 || cols != 90 {
		t.Errorf("the terminal's size is %dx%d, %v; want 30x90", rows, cols, err)
	}
}

func TestAttachSessionsAreCapped(t *testing.T) {
	rio, _ := stdinRun(t, &ContainerConfig{Name: "app"})
	for range maxSessions {
		if _, err := rio.join(false, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rio.join(false, false); err == nil {
		t.Fatalf("session %d let in", maxSessions+1)
	}
}
