package crilog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// dirWatchMask is what wakes a follower in a container's log dir: records
// appended, files created, renamed (rotated) or removed, modes changed (a
// file marked complete), and the dir itself removed (the pod deleted).
const dirWatchMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// dirWatch is an inotify watch on one directory, read through the runtime's
// poller so that a wait can end at a deadline or with its context.
type dirWatch struct {
	dir     string
	fd      int
	f       *os.File
	watched bool
	buf     []byte
}

// newDirWatch watches dir; a dir that does not exist yet is watched from
// a later wait on.
func newDirWatch(dir string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch container logs: %w", err)
	}
	w := &dirWatch{dir: dir, fd: fd, f: os.NewFile(uintptr(fd), "inotify"), buf: make([]byte, 16<<10)}
	w.watched = w.add()
	return w, nil
}

func (w *dirWatch) add() bool {
	_, err := unix.InotifyAddWatch(w.fd, w.dir, dirWatchMask)
	return err == nil
}

func (w *dirWatch) close() error { return w.f.Close() }

// wait returns after a change in the dir, or, when timed, after d. gone is
// set when the dir itself was removed (the pod was deleted) or ctx ended:
// the stream is over.
func (w *dirWatch) wait(ctx context.Context, timed bool, d time.Duration) (gone bool, err error) {
	if ctx.Err() != nil {
		return true, nil
	}
	if !w.watched {
		if w.watched = w.add(); w.watched {
			// Something may have changed before the watch existed.
			return false, nil
		}
		timed = true
	}
	var deadline time.Time
	if timed {
		deadline = time.Now().Add(d)
	}
	if err := w.f.SetReadDeadline(deadline); err != nil {
		return false, fmt.Errorf("watch container logs: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { w.f.SetReadDeadline(time.Now()) })
	defer stop()
	// One read takes every event queued.
	n, err := w.f.Read(w.buf)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ctx.Err() != nil, nil
	case err != nil:
		return false, fmt.Errorf("watch container logs: %w", err)
	}
	return dirGone(w.buf[:n]), nil
}

// dirGone reports whether inotify events say the watched dir itself went
// away.
func dirGone(events []byte) bool {
	for off := 0; off+unix.SizeofInotifyEvent <= len(events); {
		mask := binary.NativeEndian.Uint32(events[off+4:])
		if mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 {
			return true
		}
		off += unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(events[off+12:]))
	}
	return false
}
