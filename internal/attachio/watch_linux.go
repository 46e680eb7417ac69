package attachio

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// WatchEvery is how often a side of a session that waits on a reader
// (a container that does not read its stdin, an infra that does not take
// the caller's frames) asks whether its own caller is gone.
const WatchEvery = 200 * time.Millisecond

// ErrGone is a write WriteWatching gave up: its gone said so.
var ErrGone = errors.New("write given up: nobody waits for it any more")

// DeadlineWriter is a writer that takes write deadlines: a pollable file
// (a pipe, a pty master) or a connection.
type DeadlineWriter interface {
	io.Writer
	SetWriteDeadline(t time.Time) error
}

// WriteWatching writes all of p to w however long w takes, but while w
// takes nothing it asks gone every WatchEvery and gives up with ErrGone
// when gone says so. It sets w's write deadline: one writer at a time.
func WriteWatching(w DeadlineWriter, p []byte, gone func() bool) error {
	for len(p) > 0 {
		if err := w.SetWriteDeadline(time.Now().Add(WatchEvery)); err != nil {
			return err
		}
		n, err := w.Write(p)
		p = p[n:]
		switch {
		case err == nil:
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return err
		case gone():
			return ErrGone
		}
	}
	return nil
}

// HungUp reports, without reading, whether the peer of unix socket c
// closed it: POLLHUP, set once the peer closed its end (not when it only
// shut down its writing), however much it sent before is still unread.
func HungUp(c syscall.Conn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return true
	}
	hup := false
	err = rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd)}}
		if n, err := unix.Poll(fds, 0); err == nil && n > 0 {
			hup = fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
		}
	})
	return hup || err != nil
}
