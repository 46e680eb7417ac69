package images

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lock takes the store lock, shared for readers and exclusive for writers,
// and returns its release. Each call opens its own file description, so
// the lock also orders goroutines of one process.
func (s *Store) lock(exclusive bool) (func(), error) {
	p := filepath.Join(s.root, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open image store lock %s: %w", p, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := flockRetry(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock image store %s: %w", p, err)
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}

func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// tryLock takes an exclusive flock on f without waiting; false when
// another open file description holds one.
func tryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}

// workDir is a private directory under tmp/ that holds an flock on itself
// for as long as an import uses it.
type workDir struct {
	path string
	f    *os.File
}

func (s *Store) newWorkDir() (*workDir, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("image store work dir: %w", err)
	}
	p := filepath.Join(s.root, "tmp", hex.EncodeToString(b[:]))
	if err := os.Mkdir(p, 0o700); err != nil {
		return nil, fmt.Errorf("create image store work dir: %w", err)
	}
	f, err := os.Open(p)
	if err == nil {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("lock image store work dir %s: %w", p, err)
	}
	return &workDir{path: p, f: f}, nil
}

// remove deletes the work dir and releases its lock.
func (w *workDir) remove() error {
	err := removeTree(w.path)
	w.f.Close()
	if err != nil {
		return fmt.Errorf("remove image store work dir %s: %w", w.path, err)
	}
	return nil
}

// removeStaleTemps deletes work dirs of imports that are no longer running,
// that is whose flock can be taken.
func (s *Store) removeStaleTemps() error {
	tmp := filepath.Join(s.root, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("list image store work dirs: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		if !e.IsDir() {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove stale %s: %w", p, err)
			}
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("open work dir %s: %w", p, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close() // in use by a running import
			continue
		}
		err = removeTree(p)
		f.Close()
		if err != nil {
			return fmt.Errorf("remove stale work dir %s: %w", p, err)
		}
	}
	return nil
}

// removeTree removes a directory tree of berth's own (a layer or a work
// dir). Layers may hold read-only directories, which a non-root user
// cannot empty, so on failure directories are made writable and the
// removal is retried. WalkDir and RemoveAll never follow symlinks.
func removeTree(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o700) // best effort; RemoveAll reports what remains
		}
		return nil
	})
	return os.RemoveAll(p)
}

// Usage reports how full the store's file system is, as df counts it.
func (s *Store) Usage() (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.root, &st); err != nil {
		return Usage{}, fmt.Errorf("statfs image store %s: %w", s.root, err)
	}
	bs := uint64(st.Bsize)
	used := (st.Blocks - st.Bfree) * bs
	// df's Use%: used of what an unprivileged writer could fill.
	return Usage{Total: used + st.Bavail*bs, Used: used}, nil
}
