package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/infra"
)

const oNoFollow = syscall.O_NOFOLLOW

// Between two runs a follower cannot learn from the file system that the
// container terminated for good, so it re-reads the pod's status, with
// back-off, only then and only while a client follows.
const (
	followCheckFirst = 100 * time.Millisecond
	followCheckMax   = 5 * time.Second
)

// logStream is one `berth logs` request: the opened files of a run, read
// in order, and with follow the last one followed (inotify on the
// container's log dir), then the files of the container's next runs.
type logStream struct {
	dir    string
	run    int
	tail   int
	follow bool
	files  []*os.File
	lines  lineWriter
	// state reports the container's restart count and whether it
	// terminated for good; ok is false once the pod is gone.
	state func(ctx context.Context) (restarts int, final, ok bool)

	watch   *fsnotify.Watcher
	watched bool
}

var _ api.LogStream = (*logStream)(nil)

// Close closes the files and the watch.
func (s *logStream) Close() error {
	closeAll(s.files)
	s.files = nil
	if s.watch != nil {
		return s.watch.Close()
	}
	return nil
}

// Copy implements api.LogStream.
func (s *logStream) Copy(ctx context.Context, w api.Flusher) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	s.lines.w = bw
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		return w.Flush()
	}
	if s.follow {
		// Watch before the first read, so no change after it is missed.
		wt, err := fsnotify.NewWatcher()
		if err != nil {
			return fmt.Errorf("watch container logs: %w", err)
		}
		s.watch = wt
		s.watched = wt.Add(s.dir) == nil
	}
	if err := s.skipToTail(); err != nil {
		return err
	}
	var last *os.File
	if n := len(s.files); n > 0 {
		last = s.files[n-1]
		for _, f := range s.files[:n-1] {
			if err := s.copyFile(newLineReader(f)); err != nil {
				return err
			}
		}
	}
	if !s.follow {
		if last != nil {
			if err := s.copyFile(newLineReader(last)); err != nil {
				return err
			}
		}
		return flush()
	}
	return s.followFrom(ctx, last, flush)
}

// skipToTail drops the files before the last s.tail lines and sets how many
// lines of the first kept file to skip.
func (s *logStream) skipToTail() error {
	if s.tail < 0 || len(s.files) == 0 {
		return nil
	}
	// Count from the newest file back until there are enough lines.
	counts := make([]int, len(s.files))
	sum := 0
	for i := len(s.files) - 1; i >= 0 && (i == len(s.files)-1 || sum < s.tail); i-- {
		n, err := countLines(s.files[i])
		if err != nil {
			return err
		}
		if _, err := s.files[i].Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind container log: %w", err)
		}
		counts[i] = n
		sum += n
	}
	first, skip := tailPlan(counts, s.tail)
	closeAll(s.files[:first])
	s.files = s.files[first:]
	s.lines.skip = skip
	return nil
}

// copyFile writes the complete lines lr has now.
func (s *logStream) copyFile(lr *lineReader) error {
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.lines.record(line); err != nil {
			return err
		}
	}
}

// followFrom follows cur (nil: the run has no file yet), then whatever the
// infra writes next for the container: the next file after a rotation,
// the next run's files after a restart. It ends when the container has
// terminated for good, when the pod is gone, or when ctx ends.
func (s *logStream) followFrom(ctx context.Context, cur *os.File, flush func() error) error {
	var lr *lineReader
	if cur != nil {
		lr = newLineReader(cur)
	}
	check := followCheckFirst
	for {
		timed := false
		if cur != nil {
			next, ended, err := s.drain(cur, lr)
			if err != nil {
				return err
			}
			switch {
			case next != nil:
				cur, lr, check = next, newLineReader(next), followCheckFirst
				continue
			case ended:
				// The run's output is complete: on to the next run,
				// once it has a file or the container is done.
				s.run++
				cur, lr = nil, nil
				continue
			}
		} else {
			f, err := s.firstFile()
			if err != nil {
				return err
			}
			if f != nil {
				cur, lr, check = f, newLineReader(f), followCheckFirst
				continue
			}
			restarts, final, ok := s.state(ctx)
			if !ok || (final && restarts < s.run) {
				return flush()
			}
			timed = true
		}
		if err := flush(); err != nil {
			return err
		}
		gone, err := s.wait(ctx, timed, check)
		if err != nil || gone {
			return err
		}
		if timed {
			check = min(2*check, followCheckMax)
		}
	}
}

// drain reads cur to its end; when cur is complete it returns the file to
// read next (after a rotation), or ended when cur was the run's last.
func (s *logStream) drain(cur *os.File, lr *lineReader) (next *os.File, ended bool, err error) {
	if err := s.copyFile(lr); err != nil {
		return nil, false, err
	}
	fi, err := cur.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("stat container log: %w", err)
	}
	if !infra.LogComplete(uint32(fi.Mode().Perm())) {
		return nil, false, nil
	}
	// Lines written between the read and the mark.
	if err := s.copyFile(lr); err != nil {
		return nil, false, err
	}
	names, err := listDir(s.dir)
	if err != nil {
		return nil, false, err
	}
	files := infra.RunLogFiles(names, s.run)
	entries := make([]fileEntry, 0, len(files))
	for _, n := range files {
		if ino, ok := inode(filepath.Join(s.dir, n)); ok {
			entries = append(entries, fileEntry{name: n, ino: ino})
		}
	}
	i, ended := nextFile(entries, inodeOf(fi), infra.LogName(s.run))
	if i < 0 {
		return nil, ended, nil
	}
	f, err := openLogFile(filepath.Join(s.dir, entries[i].name))
	if errors.Is(err, os.ErrNotExist) {
		// Rotated out and deleted just now: the next wake-up looks again.
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	cur.Close()
	s.files = append(s.files, f)
	return f, false, nil
}

// firstFile opens the first file of s.run, or returns nil when it has none
// yet.
func (s *logStream) firstFile() (*os.File, error) {
	files, err := openRun(s.dir, s.run)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	closeAll(files[1:])
	s.files = append(s.files, files[0])
	return files[0], nil
}

// wait returns after a change in the container's log dir, or, when timed,
// after d. gone is set when the log dir itself was removed (the pod was
// deleted) or ctx ended: the stream is over.
func (s *logStream) wait(ctx context.Context, timed bool, d time.Duration) (gone bool, err error) {
	if !s.watched {
		s.watched = s.watch.Add(s.dir) == nil
		if s.watched {
			// Something may have changed before the watch existed.
			return false, nil
		}
		timed = true
	}
	var tc <-chan time.Time
	if timed {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-ctx.Done():
		return true, nil
	case <-tc:
		return false, nil
	case err := <-s.watch.Errors:
		return false, fmt.Errorf("watch container logs: %w", err)
	case ev := <-s.watch.Events:
		if ev.Name == s.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
			return true, nil
		}
	}
	// Take what else is queued: one pass reads it all.
	for {
		select {
		case ev := <-s.watch.Events:
			if ev.Name == s.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				return true, nil
			}
		default:
			return false, nil
		}
	}
}

// fileEntry is a run's log file by name and inode.
type fileEntry struct {
	name string
	ino  uint64
}

// nextFile decides where a follower goes when the file it read (inode
// cur) is complete, given the run's files in order and the name of the
// run's current file: the index of the next file; or -1 with ended when
// cur is the run's last file (its output ended); or -1 alone when the
// next file is not there yet (a rotation is under way).
func nextFile(files []fileEntry, cur uint64, currentName string) (next int, ended bool) {
	for i, f := range files {
		if f.ino != cur {
			continue
		}
		if i+1 < len(files) {
			return i + 1, false
		}
		return -1, f.name == currentName
	}
	// cur was rotated out and deleted: the oldest file left comes next.
	if len(files) > 0 {
		return 0, false
	}
	return -1, false
}

func inode(path string) (uint64, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, false
	}
	return inodeOf(fi), true
}

func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
