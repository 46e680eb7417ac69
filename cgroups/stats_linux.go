package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// StatsDirs returns where the statistics of container ctr of pod are, or of
// the pod cgroup itself when ctr is "".
func (m *Manager) StatsDirs(pod, ctr string) (StatsDirs, error) {
	if err := ValidateName(pod); err != nil {
		return StatsDirs{}, err
	}
	if ctr == "" {
		return m.l.statsDirs(pod), nil
	}
	if err := ValidateName(ctr); err != nil {
		return StatsDirs{}, err
	}
	return m.l.statsDirs(pod, ctr), nil
}

// ReadStats reads the cgroup's statistics files. It reads them directly
// rather than through containerd's Stat, which reads many more files per
// call and reports a missing counter as 0, and with plain openat and read,
// each directory opened once: os.ReadFile would walk the whole path for
// every file and register every cgroup file, which supports poll, with
// the runtime's epoll and remove it again, most of a scrape's cost. The
// files are read one after the other into one pooled buffer, which
// becomes one string for them all. A cgroup that does not exist (any
// more) is an error wrapping os.ErrNotExist.
func ReadStats(d StatsDirs) (Stats, error) {
	r := statsReaders.Get().(*statsReader)
	defer statsReaders.Put(r)
	r.reset()
	for _, g := range d.fileGroups() {
		if err := r.readGroup(d.Mode, g); err != nil {
			return Stats{}, fmt.Errorf("read statistics of cgroup %s: %w", d.Path, err)
		}
	}
	s, err := ParseStats(d.Mode, r.files())
	if err != nil {
		return Stats{}, fmt.Errorf("read statistics of cgroup %s: %w", d.Path, err)
	}
	return s, nil
}

// statsReader is what ReadStats reads one cgroup's files with, kept from
// one cgroup to the next.
type statsReader struct {
	buf   []byte
	spans []fileSpan
	m     map[string]string
}

// fileSpan is where one file's contents are in statsReader.buf.
type fileSpan struct {
	name       string
	start, end int
}

var statsReaders = sync.Pool{New: func() any {
	return &statsReader{buf: make([]byte, 0, 8192), m: make(map[string]string, 9)}
}}

func (r *statsReader) reset() {
	r.buf, r.spans = r.buf[:0], r.spans[:0]
	clear(r.m)
}

// files returns the files read, by name: valid until the next reset.
func (r *statsReader) files() map[string]string {
	all := string(r.buf)
	for _, sp := range r.spans {
		r.m[sp.name] = all[sp.start:sp.end]
	}
	return r.m
}

// readGroup reads the files of g; a file this kernel does not have is
// left out. The files only a CPU quota makes useful are read last, and
// only with a quota (see quotaOnly).
func (r *statsReader) readGroup(mode Mode, g fileGroup) error {
	dfd, err := retryEINTR(func() (int, error) {
		return unix.Open(g.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return &os.PathError{Op: "open", Path: g.dir, Err: err}
	}
	defer unix.Close(dfd)
	var laterBuf [2]string
	later := laterBuf[:0]
	for _, name := range g.names {
		if quotaOnly(mode, name) {
			later = append(later, name)
			continue
		}
		if err := r.read(dfd, g.dir, name); err != nil {
			return err
		}
	}
	if len(later) == 0 || !hasQuota(r.file("cpu.cfs_quota_us")) {
		return nil
	}
	for _, name := range later {
		if err := r.read(dfd, g.dir, name); err != nil {
			return err
		}
	}
	return nil
}

// file returns the contents of the file name read so far, false if it
// was not.
func (r *statsReader) file(name string) (string, bool) {
	for _, sp := range r.spans {
		if sp.name == name {
			return string(r.buf[sp.start:sp.end]), true
		}
	}
	return "", false
}

// read appends the file name of directory dfd (dir) whole to r.buf; a
// file this kernel does not have is left out.
func (r *statsReader) read(dfd int, dir, name string) error {
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Join(dir, name), Err: err}
	}
	defer unix.Close(fd)
	start := len(r.buf)
	for {
		if len(r.buf) == cap(r.buf) {
			r.buf = append(r.buf, 0)[:len(r.buf)] // grow
		}
		m, err := retryEINTR(func() (int, error) { return unix.Read(fd, r.buf[len(r.buf):cap(r.buf)]) })
		if err != nil {
			r.buf = r.buf[:start]
			return &os.PathError{Op: "read", Path: filepath.Join(dir, name), Err: err}
		}
		if m == 0 {
			r.spans = append(r.spans, fileSpan{name: name, start: start, end: len(r.buf)})
			return nil
		}
		r.buf = r.buf[:len(r.buf)+m]
	}
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
