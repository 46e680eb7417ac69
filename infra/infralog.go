package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// InfraLogName is the infra's own log (JSON lines: containers started and
// failed, refused connections, log write errors) in the pod's log
// directory, beside the container directories.
const InfraLogName = "infra.log"

// infraLogMax caps the infra's log: past it the file moves to
// infra.log.1, replacing the previous one, and a new one starts. A pod
// logs a few lines per container run, so 1 MiB is months of a crash loop.
const infraLogMax = 1 << 20

// cappedFile is an append-only log file kept under max bytes with one
// previous generation. slog's handler serialises its writes.
type cappedFile struct {
	path string
	max  int64
	f    *os.File
	size int64
}

func openCappedFile(path string, max int64) (*cappedFile, error) {
	c := &cappedFile{path: path, max: max}
	if err := c.open(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cappedFile) open() error {
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return fmt.Errorf("open %s: %w", c.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", c.path, err)
	}
	c.f, c.size = f, st.Size()
	return nil
}

// Write appends p, first moving a full file aside. A failed move keeps
// writing to the current file: the log is for people, never a reason for
// the infra to stop.
func (c *cappedFile) Write(p []byte) (int, error) {
	if c.size > 0 && c.size+int64(len(p)) > c.max {
		old := c.f
		if err := os.Rename(c.path, c.path+".1"); err == nil && c.open() == nil {
			old.Close()
		} else {
			c.f = old
		}
	}
	n, err := c.f.Write(p)
	c.size += int64(n)
	return n, err
}

// openInfraLog opens the infra's log in the pod's log directory.
func openInfraLog(logDir string) (*cappedFile, error) {
	return openCappedFile(filepath.Join(logDir, InfraLogName), infraLogMax)
}
