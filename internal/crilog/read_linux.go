package crilog

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
)

// Between two runs a follower cannot learn from the file system that the
// container terminated for good, so it asks ReadOptions.State, with
// back-off, only then and only while a client follows.
const (
	followCheckFirst = 100 * time.Millisecond
	followCheckMax   = 5 * time.Second
)

// ReadOptions say which lines a Reader prints, as kubectl logs takes them.
type ReadOptions struct {
	// Tail prints only the last Tail lines; -1 prints all.
	Tail       int
	Timestamps bool
	// Since drops lines older than it; zero keeps all.
	Since time.Time
	// Follow keeps reading what the infra writes next: the next file
	// after a rotation, the next run's files after a restart.
	Follow bool
	// State is asked by a follower between runs: the container's restart
	// count and whether it terminated for good; ok is false once the pod
	// is gone. Required with Follow.
	State func(ctx context.Context) (restarts int, final, ok bool)
}

// Flusher is a writer that can push what it buffered to the client.
type Flusher interface {
	io.Writer
	Flush() error
}

// Reader prints one run's lines, read from its files in order, and with
// Follow the last one followed (inotify on the container's log dir), then
// the files of the container's next runs.
type Reader struct {
	dir    string
	run    int
	tail   int
	follow bool
	state  func(ctx context.Context) (int, bool, bool)
	// files are the open files: those of the run still to read, or while
	// following the one being read.
	files []*os.File
	lines printer
	watch *dirWatch
}

// Open opens run's files in dir, a container's log directory, as they are
// now; a missing dir means no files yet.
func Open(dir string, run int, o ReadOptions) (*Reader, error) {
	r := &Reader{dir: dir, run: run, tail: o.Tail, follow: o.Follow, state: o.State}
	r.lines.timestamps, r.lines.since = o.Timestamps, o.Since
	var err error
	if r.files, err = openRun(dir, run); err != nil {
		return nil, err
	}
	return r, nil
}

// Empty reports whether the run had no file when it was opened: the
// container has not started yet.
func (r *Reader) Empty() bool { return len(r.files) == 0 }

// Close closes the files and the watch.
func (r *Reader) Close() error {
	closeAll(r.files)
	r.files = nil
	if r.watch != nil {
		return r.watch.close()
	}
	return nil
}

// Copy writes the lines to w, flushing w whenever it has to wait for more,
// until the log ends (with Follow: the container terminated for good, or
// the pod is gone) or ctx is done.
func (r *Reader) Copy(ctx context.Context, w Flusher) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	r.lines.w = bw
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		return w.Flush()
	}
	if r.follow {
		// Watch before the first read, so no change after it is missed.
		wt, err := newDirWatch(r.dir)
		if err != nil {
			return err
		}
		r.watch = wt
	}
	if err := r.skipToTail(); err != nil {
		return err
	}
	var last *os.File
	if n := len(r.files); n > 0 {
		last = r.files[n-1]
		for _, f := range r.files[:n-1] {
			if err := r.copyFile(newLineReader(f)); err != nil {
				return err
			}
		}
		closeAll(r.files[:n-1])
		r.files = r.files[n-1:]
	}
	if !r.follow {
		if last != nil {
			if err := r.copyFile(newLineReader(last)); err != nil {
				return err
			}
		}
		return flush()
	}
	return r.followFrom(ctx, last, flush)
}

// skipToTail drops the files before the last r.tail lines and sets how
// many lines of the first kept file to skip.
func (r *Reader) skipToTail() error {
	if r.tail < 0 || len(r.files) == 0 {
		return nil
	}
	// Count from the newest file back until there are enough lines.
	counts := make([]int, len(r.files))
	sum := 0
	for i := len(r.files) - 1; i >= 0 && (i == len(r.files)-1 || sum < r.tail); i-- {
		n, err := countLines(r.files[i])
		if err != nil {
			return err
		}
		if _, err := r.files[i].Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind container log: %w", err)
		}
		counts[i] = n
		sum += n
	}
	first, skip := tailPlan(counts, r.tail)
	closeAll(r.files[:first])
	r.files = r.files[first:]
	r.lines.skip = skip
	return nil
}

// copyFile writes the complete lines lr has now.
func (r *Reader) copyFile(lr *lineReader) error {
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := r.lines.record(line); err != nil {
			return err
		}
	}
}

// followFrom follows cur (nil: the run has no file yet), then whatever the
// infra writes next for the container: the next file after a rotation,
// the next run's files after a restart. It ends when the container has
// terminated for good, when the pod is gone, or when ctx ends.
func (r *Reader) followFrom(ctx context.Context, cur *os.File, flush func() error) error {
	var lr *lineReader
	if cur != nil {
		lr = newLineReader(cur)
	}
	check := followCheckFirst
	for {
		timed := false
		if cur != nil {
			next, ended, err := r.drain(cur, lr)
			if err != nil {
				return err
			}
			switch {
			case next != nil:
				cur, lr, check = next, newLineReader(next), followCheckFirst
				continue
			case ended:
				// The run's output is complete: on to the next run,
				// once it has a file or the container is done. No file
				// stays open meanwhile, so that removing the log dir
				// ends the watch.
				r.run++
				closeAll(r.files)
				r.files, cur, lr = nil, nil, nil
				continue
			}
		} else {
			f, err := r.firstFile()
			if err != nil {
				return err
			}
			if f != nil {
				cur, lr, check = f, newLineReader(f), followCheckFirst
				continue
			}
			restarts, final, ok := r.state(ctx)
			if !ok || (final && restarts < r.run) {
				return flush()
			}
			timed = true
		}
		if err := flush(); err != nil {
			return err
		}
		gone, err := r.watch.wait(ctx, timed, check)
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
func (r *Reader) drain(cur *os.File, lr *lineReader) (next *os.File, ended bool, err error) {
	if err := r.copyFile(lr); err != nil {
		return nil, false, err
	}
	fi, err := cur.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("stat container log: %w", err)
	}
	if !complete(uint32(fi.Mode().Perm())) {
		return nil, false, nil
	}
	// Lines written between the read and the mark.
	if err := r.copyFile(lr); err != nil {
		return nil, false, err
	}
	names, err := listDir(r.dir)
	if err != nil {
		return nil, false, err
	}
	files := RunFiles(names, r.run)
	entries := make([]fileEntry, 0, len(files))
	for _, n := range files {
		if ino, ok := inode(filepath.Join(r.dir, n)); ok {
			entries = append(entries, fileEntry{name: n, ino: ino})
		}
	}
	i, ended := nextFile(entries, inodeOf(fi), Name(r.run))
	if i < 0 {
		return nil, ended, nil
	}
	f, err := openFile(filepath.Join(r.dir, entries[i].name))
	if errors.Is(err, os.ErrNotExist) {
		// Rotated out and deleted just now: the next wake-up looks again.
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	closeAll(r.files)
	r.files = []*os.File{f}
	return f, false, nil
}

// firstFile opens the first file of r.run, or returns nil when it has none
// yet.
func (r *Reader) firstFile() (*os.File, error) {
	files, err := openRun(r.dir, r.run)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	closeAll(files[1:])
	r.files = files[:1]
	return files[0], nil
}

// openRun opens run's files in dir in the order they were written. A file
// that went away between listing and opening (rotated out) is skipped; a
// missing dir means no files yet.
func openRun(dir string, run int) ([]*os.File, error) {
	names, err := listDir(dir)
	if err != nil {
		return nil, err
	}
	var out []*os.File
	for _, n := range RunFiles(names, run) {
		f, err := openFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func listDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list container logs: %w", err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// openFile opens a log file for reading, never through a symlink, and
// without blocking should something have put a fifo in its place.
func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	return f, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
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

// tailRead is how much of the end of a run's log Tail reads: enough for
// 2 KiB of text in records of short lines.
const tailRead = 64 << 10

// Tail returns the text of the last maxLines lines of a run's log, cut to
// its last maxBytes bytes: the termination message of a container whose
// policy is FallbackToLogsOnError. current is the run's current file, as
// Path names it; the lines may reach back into its rotated files. A run
// without files has an empty tail.
func Tail(current string, maxLines, maxBytes int) (string, error) {
	dir, base := filepath.Split(current)
	run, ok := runOf(base)
	if !ok {
		return "", fmt.Errorf("%s is not a container log file", current)
	}
	names, err := listDir(dir)
	if err != nil {
		return "", err
	}
	files := RunFiles(names, run)
	// Files end between records, so the ends of several files read
	// back to back are records too.
	var raw []byte
	whole := true
	for i := len(files) - 1; i >= 0; i-- {
		if len(raw) >= tailRead {
			whole = false
			break
		}
		b, fileWhole, err := readEnd(filepath.Join(dir, files[i]), tailRead-int64(len(raw)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		raw = append(b, raw...)
		if !fileWhole {
			whole = false
			break
		}
	}
	return tailText(raw, whole, maxLines, maxBytes), nil
}

// readEnd reads at most the last n bytes of the file at path; whole says
// they are the whole file.
func readEnd(path string, n int64) ([]byte, bool, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("container log %s is not a regular file", path)
	}
	off := max(fi.Size()-n, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return b, off == 0, nil
}
