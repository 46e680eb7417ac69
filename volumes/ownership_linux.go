package volumes

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxOwnershipDepth bounds the walk: each level holds a directory fd.
const maxOwnershipDepth = 1024

// apply sets o on the volume rooted at dir (a directory of berth's own):
// the whole tree, unless the policy lets the root's state skip it.
//
// The tree may have been written by a container and is hostile: the walk
// goes through fds only, opens every entry with O_PATH|O_NOFOLLOW and
// decides on fstat of that fd, so a symlink is never followed (the link
// itself gets the group, as lchown would, and is never chmodded) and an
// entry swapped for a link mid-walk cannot send it elsewhere.
func (o ownership) apply(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsGroup: open %s: %w", dir, err)
	}
	root := os.NewFile(uintptr(fd), dir)
	defer root.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fsGroup: stat %s: %w", dir, err)
	}
	if o.skipWalk(st.Gid, st.Mode, true) {
		return nil
	}
	if err := o.walkDir(root, &st, 0); err != nil {
		return fmt.Errorf("fsGroup %d on %s: %w", o.gid, dir, err)
	}
	return nil
}

// walkDir owns the directory dir (whose stat is st) and everything below.
// Its one fd serves both the listing and the entries' openat: a level of
// the walk holds one fd.
func (o ownership) walkDir(dir *os.File, st *unix.Stat_t, depth int) error {
	if depth > maxOwnershipDepth {
		return fmt.Errorf("more than %d directory levels", maxOwnershipDepth)
	}
	fd := int(dir.Fd())
	if err := o.own(fd, st); err != nil {
		return err
	}
	for {
		// In batches: the volume is the container's, and a directory of
		// millions of entries must not grow berth's memory with it.
		names, err := dir.Readdirnames(dirBatch)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		for _, name := range names {
			if err := o.walkEntry(fd, name, depth); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
}

// dirBatch is how many names of a directory the walk holds at once.
const dirBatch = 1024

// walkEntry owns one entry of the directory dirfd.
func (o ownership) walkEntry(dirfd int, name string, depth int) error {
	pfd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil // removed while we walk
	}
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		unix.Close(pfd)
		return fmt.Errorf("stat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		defer unix.Close(pfd)
		return o.own(pfd, &st)
	}
	// Reopen the very directory the O_PATH fd holds, for reading; the
	// O_PATH fd is closed before the walk goes down.
	dfd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	unix.Close(pfd)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	dir := os.NewFile(uintptr(dfd), name)
	defer dir.Close()
	return o.walkDir(dir, &st, depth+1)
}

// own gives the file fd (of any type, O_PATH included) the group and, unless
// it is a symlink, the mode. chown and chmod act on the fd's inode:
// fchownat with AT_EMPTY_PATH, and chmod through /proc/self/fd, which for
// an O_PATH fd names that inode and is not a path anyone else controls.
func (o ownership) own(fd int, st *unix.Stat_t) error {
	typ := st.Mode & unix.S_IFMT
	if st.Gid != o.gid {
		if err := unix.Fchownat(fd, "", -1, int(o.gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if typ == unix.S_IFLNK {
		return nil
	}
	isDir := typ == unix.S_IFDIR
	want := o.mode(st.Mode, isDir)
	// chown of a regular file drops its setuid and setgid bits: compare
	// with what the kernel left.
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if now.Mode&permBits == want {
		return nil
	}
	if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), want); err != nil {
		return fmt.Errorf("chmod %#o: %w", want, err)
	}
	return nil
}
