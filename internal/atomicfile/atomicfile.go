// Package atomicfile writes files so that a crash at any point leaves either
// the old or the new content, never a torn file: write a temp file in the
// same directory and rename it over the target.
//
// WriteFile also makes the result durable (fsync of the file before the
// rename and of the directory after): for what must survive a power loss,
// such as the user's manifests. Place does the same in two halves, so that
// a reader of the directory may act on the new file while the disk
// catches up. Replace does not: for runtime state that
// describes processes, namespaces, cgroups and leases, which a reboot ends
// anyway. A daemon crash still leaves old or new content (the page cache
// survives it), and start-up recovery handles a record lost to a power
// loss; the fsyncs would cost about 1 ms each on a pod's start path.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// WriteFile atomically and durably replaces path with data, created with
// perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// Replace atomically replaces path with data, created with perm, without
// waiting for the disk.
func Replace(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

// Placed is a file Place put in place whose content and name may not be
// on disk yet.
type Placed struct {
	path string
	f    *os.File // the file, open for its sync (nil: already synced)
}

// Place is WriteFile in two halves: it returns once path holds data for
// any reader, and Sync returns once data and its name are on disk. A new
// file is renamed into place before its content is synced: a power loss
// before Sync returned leaves no file or a file that may be empty, never
// another file's content lost. A file that replaces another is synced
// before the rename, so that a power loss leaves the old content or the
// new, as WriteFile does; only the directory's sync is left to Sync then.
// The caller must call Sync, and report the write done only once it
// returned nil.
func Place(path string, data []byte, perm os.FileMode) (*Placed, error) {
	_, err := os.Lstat(path)
	replaces := err == nil
	f, err := tempWith(path, data, perm, replaces)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("rename %s: %w", path, err)
	}
	p := &Placed{path: path, f: f}
	if replaces {
		f.Close()
		p.f = nil
	}
	return p, nil
}

// Sync makes the placed file durable: its content (unless Place synced
// it already) and the directory entry that names it.
func (p *Placed) Sync() error {
	if p.f != nil {
		err := p.f.Sync()
		if cerr := p.f.Close(); err == nil {
			err = cerr
		}
		p.f = nil
		if err != nil {
			return fmt.Errorf("sync %s: %w", p.path, err)
		}
	}
	return SyncDir(filepath.Dir(p.path))
}

// tempMarker is in the name of every temp file write makes:
// "." + target name + ".tmp-" + random digits.
const tempMarker = ".tmp-"

// IsTemp reports whether name is one of write's temp files.
func IsTemp(name string) bool {
	i := strings.LastIndex(name, tempMarker)
	return strings.HasPrefix(name, ".") && i > 1 && i+len(tempMarker) < len(name)
}

// RemoveStale removes the temp files a process killed between creating one
// and renaming it into place left in dir. Call it only while no writer can
// be running, such as at start-up under the directory owner's lock.
func RemoveStale(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("remove stale temp files in %s: %w", dir, err)
	}
	var errs []error
	for _, e := range ents {
		if e.Type().IsRegular() && IsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove stale temp files in %s: %w", dir, err)
	}
	return nil
}

func write(path string, data []byte, perm os.FileMode, durable bool) error {
	f, err := tempWith(path, data, perm, durable)
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return SyncDir(filepath.Dir(path))
}

// tempWith makes the temp file beside path that will become it, holding
// data with perm, synced when sync is set, and returns it open. On an
// error it leaves nothing behind.
func tempWith(path string, data []byte, perm os.FileMode, sync bool) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+tempMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err != nil {
		err = fmt.Errorf("write %s: %w", path, err)
	} else if sync {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("sync %s: %w", path, err)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// SyncDir makes the renames and creations in dir durable (fsync of the
// directory), for callers that rename files into place themselves.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
