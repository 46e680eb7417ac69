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
// the runtime's epoll and remove it again, most of a scrape's cost. A
// cgroup that does not exist (any more) is an error wrapping
// os.ErrNotExist.
func ReadStats(d StatsDirs) (Stats, error) {
	files := make(map[string]string, 9)
	buf := readBufs.Get().(*[]byte)
	defer readBufs.Put(buf)
	for _, g := range d.fileGroups() {
		if err := readGroup(d.Mode, g, files, buf); err != nil {
			return Stats{}, fmt.Errorf("read statistics of cgroup %s: %w", d.Path, err)
		}
	}
	s, err := ParseStats(d.Mode, files)
	if err != nil {
		return Stats{}, fmt.Errorf("read statistics of cgroup %s: %w", d.Path, err)
	}
	return s, nil
}

// readGroup reads the files of g into files, by name; a file this kernel
// does not have is left out. The files only a CPU quota makes useful are
// read last, and only with a quota (see quotaOnly).
func readGroup(mode Mode, g fileGroup, files map[string]string, buf *[]byte) error {
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
		if err := readInto(dfd, g.dir, name, files, buf); err != nil {
			return err
		}
	}
	if len(later) == 0 || !hasQuota(files) {
		return nil
	}
	for _, name := range later {
		if err := readInto(dfd, g.dir, name, files, buf); err != nil {
			return err
		}
	}
	return nil
}

// readInto reads the file name of directory dfd (dir) into files; a file
// this kernel does not have is left out.
func readInto(dfd int, dir, name string, files map[string]string, buf *[]byte) error {
	data, err := readSmallFile(dfd, name, buf)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "read", Path: filepath.Join(dir, name), Err: err}
	}
	files[name] = data
	return nil
}

// readBufs are ReadStats' read buffers, kept from one scrape to the next.
var readBufs = sync.Pool{New: func() any {
	b := make([]byte, 4096)
	return &b
}}

// readSmallFile reads the file name in directory dfd whole, in *buf,
// which it grows as needed and which the next call reuses.
func readSmallFile(dfd int, name string, buf *[]byte) (string, error) {
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(*buf) {
			*buf = append(*buf, make([]byte, len(*buf))...)
		}
		m, err := retryEINTR(func() (int, error) { return unix.Read(fd, (*buf)[n:]) })
		if err != nil {
			return "", err
		}
		if m == 0 {
			return string((*buf)[:n]), nil
		}
		n += m
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
