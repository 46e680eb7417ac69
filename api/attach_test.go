//go:build !berthlean

package api

import (
	"bytes"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// unixPair is a connected pair of unix sockets, closed when the test ends.
func unixPair(t *testing.T) (a, b *net.UnixConn) {
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

// A client that leaves while the infra takes none of its input (the
// container does not read its stdin) ends the splice, and with it the
// daemon's side of the session.
func TestAttachSpliceEndsWhenTheClientLeavesUnreadInput(t *testing.T) {
	caller, client := unixPair(t)
	infra, _ := unixPair(t)
	// The infra's socket holds almost nothing, and nobody reads its peer.
	if err := infra.SetWriteBuffer(1); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		splice(client, client, infra)
	}()
	if _, err := caller.Write(bytes.Repeat([]byte("x"), 64<<10)); err != nil {
		t.Fatal(err)
	}
	caller.Close()
	testutil.WaitFor(t, 10*time.Second, "the splice to end after the client left", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
}
