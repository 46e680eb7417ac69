package images

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
)

// PartialMaxAge is how long GC keeps a partial blob download no pull is
// continuing.
const PartialMaxAge = 24 * time.Hour

// ErrPartialBusy is returned by OpenPartial when another download holds
// the blob's partial file.
var ErrPartialBusy = errors.New("partial blob download in use")

// Partial is the kept bytes of a blob download that may be continued
// (partial/sha256/<hex>), open read-write and locked for one downloader.
// Its name says which blob it is meant to become, never that its content
// is right: the downloader hashes it all before Place. Close keeps the
// bytes for a later attempt.
type Partial struct {
	*os.File
	path string
}

// OpenPartial opens, creating it if needed, the partial download of blob
// d, locked against every other downloader (also in other processes); it
// fails with ErrPartialBusy when one holds it.
func (s *Store) OpenPartial(d digest.Digest) (*Partial, error) {
	if err := CheckDigest(d); err != nil {
		return nil, err
	}
	p := filepath.Join(s.partialDir(), d.Encoded())
	for {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open partial blob %s: %w", d, err)
		}
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock partial blob %s: %w", d, err)
		}
		if !ok {
			f.Close()
			return nil, fmt.Errorf("blob %s: %w", d, ErrPartialBusy)
		}
		// The holder before may have placed or discarded the file
		// between the open and the lock: then lock the new one.
		if same, err := samePath(f, p); err != nil {
			f.Close()
			return nil, fmt.Errorf("partial blob %s: %w", d, err)
		} else if same {
			return &Partial{File: f, path: p}, nil
		}
		f.Close()
	}
}

// Place renames the partial, which the caller has hashed to its digest,
// to dst on the store's file system, and closes it.
func (p *Partial) Place(dst string) error {
	err := os.Rename(p.path, dst)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("place downloaded blob: %w", err)
	}
	return nil
}

// Discard removes the partial and closes it.
func (p *Partial) Discard() error {
	err := os.Remove(p.path)
	p.Close()
	if err != nil {
		return fmt.Errorf("discard partial blob: %w", err)
	}
	return nil
}

func (s *Store) partialDir() string { return filepath.Join(s.root, "partial", "sha256") }

// RemovePartials removes the partial downloads no downloader holds that
// were last written longer than maxAge before now (all of them for 0),
// and returns how many.
func (s *Store) RemovePartials(maxAge time.Duration, now time.Time) (int, error) {
	ents, err := os.ReadDir(s.partialDir())
	if err != nil {
		return 0, fmt.Errorf("list partial blobs: %w", err)
	}
	n := 0
	for _, e := range ents {
		p := filepath.Join(s.partialDir(), e.Name())
		removed, err := removeIdlePartial(p, maxAge, now)
		if err != nil {
			return n, err
		}
		if removed {
			n++
		}
	}
	return n, nil
}

// removeIdlePartial removes the partial download p when it is unlocked
// and old enough, or not a regular file.
func removeIdlePartial(p string, maxAge time.Duration, now time.Time) (bool, error) {
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("partial blob %s: %w", p, err)
	}
	if !info.Mode().IsRegular() {
		return true, removeTree(p)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // placed meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("partial blob %s: %w", p, err)
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil || !ok {
		return false, err
	}
	// Stat again under the lock: a download may have written since.
	info, err = f.Stat()
	if err != nil {
		return false, fmt.Errorf("partial blob %s: %w", p, err)
	}
	if now.Sub(info.ModTime()) < maxAge {
		return false, nil
	}
	if same, err := samePath(f, p); err != nil || !same {
		return false, err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove partial blob %s: %w", p, err)
	}
	return true, nil
}

// samePath reports whether path still names the file f has open.
func samePath(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}
