package volumes

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"path"
	"strings"
	"time"
)

// Names of the atomic writer layout (kubelet's, so tools that know it work).
const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
	tsLayout    = "..2006_01_02_15_04_05."
)

// writePayload makes the volume directory dir hold exactly p in the atomic
// writer layout and reports whether the content changed. It is idempotent:
// when ..data already holds p, only the user-visible links are repaired.
//
// Every access goes through an os.Root on dir and links are never followed
// for writing: the new version goes into a directory created here, ..data
// is replaced by rename (which replaces a link, never follows it), and
// stale entries are removed with RemoveAll, which does not follow links.
//
// Files are not fsynced: a version torn by a power loss differs from the
// payload, so the next Prepare or Update rewrites it.
//
// nested are the directories other mounts of the pod need inside the
// volume (nestedMountpoints); they are made beside the links and kept. One
// whose first element is also a payload name is left to the payload.
//
// before, when not nil, is called with the path of a new version directory
// before ..data points at it.
func writePayload(dir string, p payload, nested []string, before func(versionDir string) error) (changed bool, err error) {
	root, err := openVolumeRoot(dir)
	if err != nil {
		return false, err
	}
	defer root.Close()

	ts, ok := currentVersion(root)
	if !ok || !versionMatches(root, ts, p) {
		if ts, err = writeVersion(root, p); err != nil {
			return false, fmt.Errorf("write files in %s: %w", dir, err)
		}
		if before != nil {
			if err := before(path.Join(dir, ts)); err != nil {
				return false, err
			}
		}
		if err := swapData(root, ts); err != nil {
			return false, fmt.Errorf("swap %s in %s: %w", dataLink, dir, err)
		}
		changed = true
	}
	top := p.topLevel()
	if err := linkTopLevel(root, top); err != nil {
		return changed, fmt.Errorf("link files in %s: %w", dir, err)
	}
	keep := maps.Clone(top)
	for _, n := range nested {
		first, _, _ := strings.Cut(n, "/")
		if top[first] {
			continue
		}
		if err := root.MkdirAll(n, 0o755); err != nil {
			return changed, fmt.Errorf("make mount point %s in %s: %w", n, dir, err)
		}
		keep[first] = true
	}
	if err := removeStale(root, ts, keep); err != nil {
		return changed, fmt.Errorf("remove old files in %s: %w", dir, err)
	}
	return changed, nil
}

// openVolumeRoot opens dir as an os.Root, refusing a dir that is a symlink
// (or was swapped for one while it was being opened).
func openVolumeRoot(dir string) (*os.Root, error) {
	before, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("volume dir: %w", err)
	}
	if !before.IsDir() {
		return nil, fmt.Errorf("volume dir %s is a %s, not a directory: %w", dir, fileTypeOf(before.Mode()), ErrInvalid)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open volume dir: %w", err)
	}
	after, err := root.Stat(".")
	if err != nil || !os.SameFile(before, after) {
		root.Close()
		return nil, fmt.Errorf("volume dir %s changed while being opened: %w", dir, ErrInvalid)
	}
	return root, nil
}

// isVersionName reports whether name is one of the timestamped version
// directories (or a leftover of one); ..data and its temp name are not.
func isVersionName(name string) bool {
	return strings.HasPrefix(name, "..") && name != ".." && name != dataLink && name != dataLinkTmp &&
		!strings.Contains(name, "/")
}

// currentVersion returns the version directory ..data names, when it names
// one directly (a link planted to anywhere else does not count).
func currentVersion(root *os.Root) (string, bool) {
	target, err := root.Readlink(dataLink)
	if err != nil || !isVersionName(target) {
		return "", false
	}
	fi, err := root.Lstat(target)
	if err != nil || !fi.IsDir() {
		return "", false
	}
	return target, true
}

// versionMatches reports whether the version directory ts holds exactly p:
// the same regular files with the same bytes and permissions.
func versionMatches(root *os.Root, ts string, p payload) bool {
	seen := 0
	err := fs.WalkDir(root.FS(), ts, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		want, ok := p[strings.TrimPrefix(name, ts+"/")]
		if !ok || !d.Type().IsRegular() {
			return fs.ErrInvalid
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != want.mode {
			return fs.ErrInvalid
		}
		got, err := root.ReadFile(name)
		if err != nil || !bytes.Equal(got, want.data) {
			return fs.ErrInvalid
		}
		seen++
		return nil
	})
	return err == nil && seen == len(p)
}

// writeVersion writes p into a new version directory and returns its name.
func writeVersion(root *os.Root, p payload) (string, error) {
	ts, err := mkdirVersion(root)
	if err != nil {
		return "", err
	}
	for _, name := range p.sortedPaths() {
		if err := writeFile(root, path.Join(ts, name), p[name]); err != nil {
			return "", err
		}
	}
	return ts, nil
}

// mkdirVersion creates an empty version directory named like kubelet's
// (the time, then a random number so two writes in a second differ).
func mkdirVersion(root *os.Root) (string, error) {
	for range 10 {
		n, err := rand.Int(rand.Reader, big.NewInt(1e9))
		if err != nil {
			return "", fmt.Errorf("random version name: %w", err)
		}
		name := time.Now().UTC().Format(tsLayout) + fmt.Sprintf("%09d", n)
		err = root.Mkdir(name, 0o755)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("create version dir %s: %w", name, err)
		}
	}
	return "", fmt.Errorf("create version dir: no free name: %w", fs.ErrExist)
}

// writeFile creates name (which must not exist) with f's data and mode,
// creating its parent directories.
func writeFile(root *os.Root, name string, f file) error {
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return fmt.Errorf("create dir of %s: %w", name, err)
	}
	// O_EXCL: the file is new, so no link can be followed; the mode is set
	// with fchmod afterwards so the umask does not change it.
	fh, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	_, werr := fh.Write(f.data)
	cerr := fh.Chmod(f.mode)
	if err := errors.Join(werr, cerr, fh.Close()); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// swapData points ..data at ts atomically: a temp link renamed over it.
func swapData(root *os.Root, ts string) error {
	if err := root.RemoveAll(dataLinkTmp); err != nil {
		return err
	}
	if err := root.Symlink(ts, dataLinkTmp); err != nil {
		return err
	}
	if err := root.Rename(dataLinkTmp, dataLink); err != nil {
		// ..data is not a link (a directory planted there): rename cannot
		// replace a directory with a link, so remove it and retry.
		if rmErr := root.RemoveAll(dataLink); rmErr != nil {
			return errors.Join(err, rmErr)
		}
		return root.Rename(dataLinkTmp, dataLink)
	}
	return nil
}

// linkTopLevel makes each top-level name a link to ..data/name, replacing
// whatever else is there.
func linkTopLevel(root *os.Root, top map[string]bool) error {
	for name := range top {
		want := path.Join(dataLink, name)
		if got, err := root.Readlink(name); err == nil && got == want {
			continue
		}
		if err := root.RemoveAll(name); err != nil {
			return err
		}
		if err := root.Symlink(want, name); err != nil {
			return err
		}
	}
	return nil
}

// removeStale removes every entry of the volume directory that is neither
// the current version ts, ..data, nor a name in keep: old versions,
// leftovers of an interrupted write, keys that were removed.
func removeStale(root *os.Root, ts string, keep map[string]bool) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if name == ts || name == dataLink || keep[name] {
			continue
		}
		errs = append(errs, root.RemoveAll(name))
	}
	return errors.Join(errs...)
}
