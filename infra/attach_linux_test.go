package infra

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
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

// session joins rio and serves it on one end of a connection; the caller
// gets the other.
func session(t *testing.T, rio *runIO, stdin bool) net.Conn {
	t.Helper()
	a, err := rio.join(stdin, false)
	if err != nil {
		t.Fatal(err)
	}
	here, there := net.Pipe()
	t.Cleanup(func() { here.Close() })
	go rio.serve(a, there)
	return here
}

func TestAttachStdinOnceClosesAfterTheFirstSession(t *testing.T) {
	rio, in := stdinRun(t, &ContainerConfig{Name: "app", Stdin: true, StdinOnce: true})
	watcher := session(t, rio, false)
	typist := session(t, rio, true)
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
	first := session(t, rio, true)
	attachio.WriteFrame(first, attachio.Stdin, []byte("one "))
	attachio.WriteFrame(first, attachio.CloseStdin, nil)
	first.Close()
	second := session(t, rio, true)
	attachio.WriteFrame(second, attachio.Stdin, []byte("two"))
	got := make([]byte, len("one two"))
	if _, err := io.ReadFull(in, got); err != nil || string(got) != "one two" {
		t.Fatalf("the container read %q, %v; want both sessions' input", got, err)
	}
}

func TestAttachOutputReachesSessionsAndEndClosesThem(t *testing.T) {
	rio, _ := stdinRun(t, &ContainerConfig{Name: "app"})
	conn := session(t, rio, false)
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
// it is dropped, and broadcasting goes on.
func TestAttachSlowSessionIsDropped(t *testing.T) {
	rio, _ := stdinRun(t, &ContainerConfig{Name: "app"})
	slow := session(t, rio, false)
	chunk := bytes.Repeat([]byte("x"), 1024)
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
	// What was buffered arrives, then the end.
	n := 0
	for {
		_, err := attachio.ReadFrame(slow)
		if err != nil {
			break
		}
		n++
	}
	if n == 0 || n > attachBuffer+1 {
		t.Errorf("the dropped session got %d frames, want at most its buffer", n)
	}
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
	here, there := net.Pipe()
	t.Cleanup(func() { here.Close() })
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
