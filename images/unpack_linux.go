package images

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// unpacker applies one layer tar to an empty directory. Every path is
// resolved from the layer root's fd one component at a time with
// O_NOFOLLOW, so an entry is never created through a symlink, and every
// change of owner, mode, time or xattr goes through an fd or an *at call
// with AT_SYMLINK_NOFOLLOW.
type unpacker struct {
	root       int // O_PATH fd of the layer root
	isRoot     bool
	budget     *budget
	maxEntries int
	dirs       []dirMeta // applied last, deepest first
	size       int64     // bytes of file content written
	dropped    []string  // xattrs not applied (see allowedXattr)
	devices    []string  // device nodes unpacked as whiteouts (see node)
}

// dirMeta is a directory's metadata, applied after its contents exist.
type dirMeta struct {
	name string
	hdr  *tar.Header
}

// unpackResult describes an unpacked layer.
type unpackResult struct {
	size          int64
	droppedXattrs []string
	devices       []string
}

// unpackLayer unpacks the tar stream r into dst, an existing empty
// directory. It does not read r past the tar's end-of-archive marker.
func unpackLayer(r io.Reader, dst string, b *budget, maxEntries int) (unpackResult, error) {
	root, err := unix.Open(dst, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return unpackResult{}, fmt.Errorf("open layer dir %s: %w", dst, err)
	}
	defer unix.Close(root)
	u := &unpacker{root: root, isRoot: os.Geteuid() == 0, budget: b, maxEntries: maxEntries}
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return unpackResult{}, fmt.Errorf("read layer tar: %w", err)
		}
		if n >= maxEntries {
			return unpackResult{}, fmt.Errorf("layer has more than %d entries: %w", maxEntries, ErrTooLarge)
		}
		if err := u.entry(hdr, tr); err != nil {
			return unpackResult{}, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	if err := u.finishDirs(); err != nil {
		return unpackResult{}, err
	}
	return unpackResult{size: u.size, droppedXattrs: u.dropped, devices: u.devices}, nil
}

// entry applies one tar entry.
func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanEntryName(hdr.Name)
	if err != nil {
		return err
	}
	if !validID(hdr.Uid) || !validID(hdr.Gid) {
		return fmt.Errorf("owner %d:%d out of range: %w", hdr.Uid, hdr.Gid, ErrUnsafeEntry)
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("layer root is not a directory: %w", ErrUnsafeEntry)
		}
		u.dirs = append(u.dirs, dirMeta{name: ".", hdr: hdr})
		return nil
	}
	dir, base := path.Split(name)
	kind, target, err := classifyWhiteout(base)
	if err != nil {
		return err
	}
	switch kind {
	case whiteoutAufs:
		return nil
	case whiteoutDir:
		if path.Clean(dir) == "." {
			// An opaque layer root would hide every layer below
			// it; image builders never write one.
			return fmt.Errorf("opaque whiteout at the layer root: %w", ErrUnsafeEntry)
		}
		return u.opaque(path.Clean(dir))
	case whiteoutFile:
		return u.whiteout(path.Join(dir, target))
	}
	parent, err := u.walk(path.Clean(dir), true)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	isDir := hdr.Typeflag == tar.TypeDir
	exists, err := clearLeaf(parent, base, isDir)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !exists {
			if err := unix.Mkdirat(parent, base, 0o700); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		}
		u.dirs = append(u.dirs, dirMeta{name: name, hdr: hdr})
		return nil
	case tar.TypeReg, tar.TypeGNUSparse:
		return u.file(parent, base, hdr, r)
	case tar.TypeSymlink:
		if hdr.Linkname == "" || strings.IndexByte(hdr.Linkname, 0) >= 0 {
			return fmt.Errorf("bad symlink target: %w", ErrUnsafeEntry)
		}
		// The target may point anywhere: it is only ever followed
		// inside the container's rootfs, never by the unpacker.
		if err := unix.Symlinkat(hdr.Linkname, parent, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		return u.finishLeaf(parent, base, hdr, false)
	case tar.TypeLink:
		return u.hardlink(parent, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return u.node(parent, name, hdr)
	}
	return fmt.Errorf("entry type %q: %w", hdr.Typeflag, ErrUnsupported)
}

// walk opens the directory rel (clean, relative to the layer root) as an
// O_PATH fd, creating missing components when create is set. A component
// that is a symlink or not a directory is an error: nothing is ever
// resolved through a symlink.
func (u *unpacker) walk(rel string, create bool) (int, error) {
	fd, err := unix.Openat(u.root, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open layer root: %w", err)
	}
	if rel == "." || rel == "" {
		return fd, nil
	}
	for _, c := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT && create {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil {
				next, err = unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		if err == unix.ENOTDIR || err == unix.ELOOP {
			return -1, fmt.Errorf("parent %q of %q is not a directory (or is a symlink): %w", c, rel, ErrUnsafeEntry)
		}
		if err != nil {
			return -1, fmt.Errorf("open %q in layer: %w", c, err)
		}
		fd = next
	}
	return fd, nil
}

// clearLeaf makes room for a new entry named base in parent: a later entry
// replaces an earlier one (tar semantics), except that a directory over a
// directory merges. It reports whether a directory was kept.
func clearLeaf(parent int, base string, isDir bool) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat: %w", err)
	}
	wasDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if wasDir && isDir {
		return true, nil
	}
	flags := 0
	if wasDir {
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(parent, base, flags); err != nil {
		return false, fmt.Errorf("replace earlier entry: %w", err)
	}
	return false, nil
}

// file writes a regular file's content and metadata.
func (u *unpacker) file(parent int, base string, hdr *tar.Header, r io.Reader) error {
	if hdr.Size > u.budget.written {
		return fmt.Errorf("file of %d bytes: %w", hdr.Size, ErrTooLarge)
	}
	fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(r, hdr.Size))
	u.budget.written -= n
	u.size += n
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := u.applyMeta(fd, hdr); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return setTimes(parent, base, hdr)
}

// hardlink links base to an earlier entry of the same layer. The target is
// resolved in the layer like any entry name, so "/etc/passwd" means the
// layer's etc/passwd and must already exist.
func (u *unpacker) hardlink(parent int, base string, hdr *tar.Header) error {
	target, err := cleanEntryName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	if target == "." {
		return fmt.Errorf("hardlink to the layer root: %w", ErrUnsafeEntry)
	}
	tdir, tbase := path.Split(target)
	tparent, err := u.walk(path.Clean(tdir), false)
	if err != nil {
		return fmt.Errorf("hardlink target %q not in layer: %w: %w", hdr.Linkname, ErrUnsafeEntry, err)
	}
	defer unix.Close(tparent)
	var st unix.Stat_t
	if err := unix.Fstatat(tparent, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hardlink target %q not in layer: %w", hdr.Linkname, ErrUnsafeEntry)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hardlink to directory %q: %w", hdr.Linkname, ErrUnsafeEntry)
	}
	// Flags 0: a symlink target is linked itself, never followed.
	if err := unix.Linkat(tparent, tbase, parent, base, 0); err != nil {
		return fmt.Errorf("hardlink: %w", err)
	}
	return nil
}

// node creates a FIFO or, for a character or block device entry, an
// overlay whiteout (a 0:0 character device, which needs root): no node
// with an entry's device numbers is ever made (see the package doc).
func (u *unpacker) node(parent int, name string, hdr *tar.Header) error {
	base := path.Base(name)
	if hdr.Typeflag == tar.TypeFifo {
		if err := unix.Mknodat(parent, base, unix.S_IFIFO|0o600, 0); err != nil {
			return fmt.Errorf("mkfifo: %w", err)
		}
		return u.finishLeaf(parent, base, hdr, true)
	}
	if !u.isRoot {
		return fmt.Errorf("device node: %w", ErrNeedsRoot)
	}
	if hdr.Devmajor < 0 || hdr.Devminor < 0 || hdr.Devmajor > 1<<20 || hdr.Devminor > 1<<20 {
		return fmt.Errorf("device number %d:%d: %w", hdr.Devmajor, hdr.Devminor, ErrUnsafeEntry)
	}
	if err := unix.Mknodat(parent, base, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("whiteout for device node: %w", err)
	}
	if hdr.Devmajor != 0 || hdr.Devminor != 0 {
		u.devices = append(u.devices, name)
	}
	return nil
}

// finishLeaf applies owner, mode (unless the leaf is a symlink) and times
// to a leaf that has no open fd, without following a symlink.
func (u *unpacker) finishLeaf(parent int, base string, hdr *tar.Header, chmod bool) error {
	if u.isRoot {
		if err := unix.Fchownat(parent, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if chmod {
		// fchmodat cannot refuse symlinks on Linux; the leaf was just
		// created by us as a node in a private directory.
		if err := unix.Fchmodat(parent, base, u.mode(hdr), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	return setTimes(parent, base, hdr)
}

// applyMeta sets xattrs, owner and mode on an open fd (in that order: a
// chown clears setuid bits).
func (u *unpacker) applyMeta(fd int, hdr *tar.Header) error {
	if err := u.setXattrs(fd, hdr); err != nil {
		return err
	}
	if u.isRoot {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if err := unix.Fchmod(fd, u.mode(hdr)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

// mode returns the permission bits to apply; setuid and setgid only as root.
func (u *unpacker) mode(hdr *tar.Header) uint32 {
	m := uint32(hdr.Mode) & 0o7777
	if !u.isRoot {
		m &^= unix.S_ISUID | unix.S_ISGID
	}
	return m
}

func (u *unpacker) setXattrs(fd int, hdr *tar.Header) error {
	keys := make([]string, 0, len(hdr.PAXRecords))
	for k := range hdr.PAXRecords {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, xattrPAXPrefix)
		if !ok {
			continue
		}
		if !allowedXattr(name) {
			u.dropped = append(u.dropped, name)
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(hdr.PAXRecords[k]), 0); err != nil {
			if errors.Is(err, unix.EPERM) && !u.isRoot {
				return fmt.Errorf("xattr %s: %w", name, ErrNeedsRoot)
			}
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

// whiteout records the deletion of rel as an overlayfs whiteout: a 0/0
// character device.
func (u *unpacker) whiteout(rel string) error {
	if !u.isRoot {
		return fmt.Errorf("whiteout: %w", ErrNeedsRoot)
	}
	dir, base := path.Split(rel)
	parent, err := u.walk(path.Clean(dir), true)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	if _, err := clearLeaf(parent, base, false); err != nil {
		return err
	}
	if err := unix.Mknodat(parent, base, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("whiteout %q: %w", rel, err)
	}
	return nil
}

// opaque marks the directory rel opaque for overlayfs.
func (u *unpacker) opaque(rel string) error {
	if !u.isRoot {
		return fmt.Errorf("opaque whiteout: %w", ErrNeedsRoot)
	}
	fd, err := u.openDir(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		return fmt.Errorf("mark %q opaque: %w", rel, err)
	}
	return nil
}

// openDir opens the directory rel for reading (so that fchmod and
// fsetxattr work on it), refusing symlinks.
func (u *unpacker) openDir(rel string, create bool) (int, error) {
	if rel == "." {
		fd, err := unix.Openat(u.root, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("open layer root: %w", err)
		}
		return fd, nil
	}
	dir, base := path.Split(rel)
	parent, err := u.walk(path.Clean(dir), create)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT && create {
		if err = unix.Mkdirat(parent, base, 0o755); err == nil {
			fd, err = unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	}
	if err != nil {
		return -1, fmt.Errorf("open directory %q: %w", rel, err)
	}
	return fd, nil
}

// finishDirs applies directory metadata, deepest first, so that a
// read-only parent is made read-only only after its children are done.
func (u *unpacker) finishDirs() error {
	sort.SliceStable(u.dirs, func(i, j int) bool {
		return strings.Count(u.dirs[i].name, "/") > strings.Count(u.dirs[j].name, "/")
	})
	for _, d := range u.dirs {
		if err := u.finishDir(d); err != nil {
			return fmt.Errorf("layer directory %q: %w", d.name, err)
		}
	}
	return nil
}

func (u *unpacker) finishDir(d dirMeta) error {
	fd, err := u.openDir(d.name, false)
	if err != nil {
		// A later entry replaced the directory with something else.
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOENT) || errors.Is(err, ErrUnsafeEntry) {
			return nil
		}
		return err
	}
	err = u.applyMeta(fd, d.hdr)
	unix.Close(fd)
	if err != nil {
		return err
	}
	if d.name == "." {
		return setTimes(u.root, ".", d.hdr)
	}
	dir, base := path.Split(d.name)
	parent, err := u.walk(path.Clean(dir), false)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	return setTimes(parent, base, d.hdr)
}

func times(hdr *tar.Header) []unix.Timespec {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return []unix.Timespec{
		{Sec: atime.Unix(), Nsec: int64(atime.Nanosecond())},
		{Sec: hdr.ModTime.Unix(), Nsec: int64(hdr.ModTime.Nanosecond())},
	}
}

func setTimes(parent int, base string, hdr *tar.Header) error {
	if err := unix.UtimesNanoAt(parent, base, times(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}
