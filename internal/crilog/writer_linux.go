package crilog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Write failures (a full disk, EIO): a record that cannot be written is
// retried with back-off for up to writeRetryBudget, holding up both of the
// run's streams, so a short outage loses nothing. If the disk stays full the
// writer drops records (counting them, and logging when dropping begins and
// ends) and tries each later record once, so that the copier keeps draining
// the pipes: a container never blocks forever on a full disk, and what was
// written before stays intact.
const (
	writeRetryFirst  = 10 * time.Millisecond
	writeRetryMax    = time.Second
	writeRetryBudget = 5 * time.Second
)

// Writer writes one run's records to <dir>/<run>.log and rotates the
// file by size. Each Write is one complete record, so rotation always falls
// between records. It is safe for the stdout and stderr copiers to share.
// It has no timer: it acts only when a record arrives.
type Writer struct {
	dir      string
	run      int
	maxSize  int64
	maxFiles int
	log      *slog.Logger
	dropFn   func(uint64, error)
	now      func() time.Time
	sleep    func(time.Duration)
	budget   time.Duration

	mu sync.Mutex
	f  *os.File
	// size is the current file's length; rotateAt is the size past which
	// the next record rotates (raised after a failed rotation so that it
	// is not retried on every record).
	size, rotateAt int64
	// rotated are the run's rotated files, oldest first.
	rotated []string
	// dropping is set while records are dropped; dropped counts them,
	// droppedBefore those of the earlier outages.
	dropping      bool
	dropped       uint64
	droppedBefore uint64
	closed        bool
}

// WriterConfig are a Writer's settings; zero sizes select the defaults.
type WriterConfig struct {
	// Dir is the container's log directory.
	Dir string
	Run int
	// MaxSize is the size in bytes past which the current file is
	// rotated, MaxFiles how many of the run's files are kept, the current
	// one included.
	MaxSize  int64
	MaxFiles int
	// Log carries the pod and container.
	Log *slog.Logger
	// Dropping, if set, is told when records start to be dropped (err
	// says why) and when writing works again (dropped says how many were
	// lost since it began, err is nil). It is called with the writer locked: it must not
	// block or write to the writer.
	Dropping func(dropped uint64, err error)
}

// OpenWriter creates the container's log directory (0750) and run's
// current file.
func OpenWriter(c WriterConfig) (*Writer, error) {
	if c.MaxSize <= 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.MaxFiles <= 0 {
		c.MaxFiles = DefaultMaxFiles
	}
	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("create log dir %s: %w", c.Dir, err)
	}
	w := &Writer{
		dir: c.Dir, run: c.Run, maxSize: c.MaxSize, maxFiles: c.MaxFiles, log: c.Log, dropFn: c.Dropping,
		now: time.Now, sleep: time.Sleep, budget: writeRetryBudget,
	}
	f, size, err := w.openCurrent()
	if err != nil {
		return nil, err
	}
	w.f, w.size, w.rotateAt = f, size, c.MaxSize
	return w, nil
}

// openCurrent opens <run>.log for appending (0640, never through a
// symlink) and returns its size.
func (w *Writer) openCurrent() (*os.File, int64, error) {
	path := filepath.Join(w.dir, Name(w.run))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_NOFOLLOW, modeWriting)
	if err != nil {
		return nil, 0, fmt.Errorf("open log file %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat log file %s: %w", path, err)
	}
	return f, fi.Size(), nil
}

// Write writes rec, one complete record, rotating first when rec would
// take the file past its maximum size. A record that cannot be written is
// dropped as described at writeRetryBudget; Write fails only once the
// writer is closed.
func (w *Writer) Write(rec []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("write log of run %d in %s: %w", w.run, w.dir, os.ErrClosed)
	}
	if w.size > 0 && w.size+int64(len(rec)) > w.rotateAt {
		if err := w.rotate(); err != nil {
			w.log.Warn("rotate container log", "err", err)
			w.rotateAt = w.size + w.maxSize
		}
	}
	err := w.writeRecord(rec)
	if err != nil && !w.dropping {
		delay := writeRetryFirst
		for waited := time.Duration(0); err != nil && waited < w.budget; waited += delay {
			w.sleep(delay)
			delay = min(2*delay, writeRetryMax)
			err = w.writeRecord(rec)
		}
	}
	switch {
	case err != nil:
		if !w.dropping {
			w.log.Warn("container log write failing; dropping records until it works again", "err", err)
			w.dropping, w.droppedBefore = true, w.dropped
			if w.dropFn != nil {
				w.dropFn(0, err)
			}
		}
		w.dropped++
	case w.dropping:
		w.log.Warn("container log writes work again", "dropped", w.dropped)
		w.dropping = false
		if w.dropFn != nil {
			w.dropFn(w.dropped-w.droppedBefore, nil)
		}
	}
	return len(rec), nil
}

// writeRecord appends rec whole or not at all: a short write is cut off
// again, so a later record never continues a torn one.
func (w *Writer) writeRecord(rec []byte) error {
	n, err := w.f.Write(rec)
	if err == nil {
		w.size += int64(n)
		return nil
	}
	if n > 0 {
		if terr := w.f.Truncate(w.size); terr != nil {
			return errors.Join(err, fmt.Errorf("cut torn log record: %w", terr))
		}
	}
	return err
}

// rotate renames the current file to its rotated name, opens a fresh one,
// marks the old one complete and deletes the oldest files beyond maxFiles.
// When the fresh file cannot be opened the rename is undone and writing
// goes on in the old file.
func (w *Writer) rotate() error {
	name, remove := planRotation(w.rotated, w.run, w.now(), w.maxFiles)
	cur := filepath.Join(w.dir, Name(w.run))
	next := filepath.Join(w.dir, name)
	if err := os.Rename(cur, next); err != nil {
		return fmt.Errorf("rename %s: %w", cur, err)
	}
	f, size, err := w.openCurrent()
	if err != nil {
		if uerr := os.Rename(next, cur); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undo rename of %s: %w", cur, uerr))
		}
		return err
	}
	old := w.f
	w.f, w.size, w.rotateAt = f, size, w.maxSize
	w.rotated = append(w.rotated, name)
	var errs []error
	if err := old.Chmod(modeComplete); err != nil {
		errs = append(errs, fmt.Errorf("mark %s complete: %w", next, err))
	}
	if err := old.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close %s: %w", next, err))
	}
	for _, r := range remove {
		if err := os.Remove(filepath.Join(w.dir, r)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove old log: %w", err))
		}
	}
	w.rotated = w.rotated[len(remove):]
	return errors.Join(errs...)
}

// Close marks the current file complete (the run's output ended) and
// closes it.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.dropped > 0 {
		w.log.Warn("container log records were dropped", "dropped", w.dropped)
	}
	err := w.f.Chmod(modeComplete)
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close log of run %d in %s: %w", w.run, w.dir, err)
	}
	return nil
}
