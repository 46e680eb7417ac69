package metrics

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxLayerEntries and maxLayerDepth bound the walk of one writable layer
// per scrape. A layer is usually small (what the container wrote over its
// image); one with more entries, or deeper, has no
// container_fs_usage_bytes series rather than a number that is only a
// lower bound, and the scrape's cost (time, open directories) stays
// bounded whatever a container writes.
const (
	maxLayerEntries = 10000
	maxLayerDepth   = 64
)

// errTooLarge is returned by layerUsage past maxLayerEntries or
// maxLayerDepth.
var errTooLarge = errors.New("writable layer has too many entries to measure")

// layerUsage returns the disk space the files under dir take (allocated
// blocks, each inode once, as du counts) and the device that holds dir as
// "major:minor". statfs would be cheaper but tells about the whole file
// system, not the layer.
//
// The tree is the container's to shape, while it is walked: each
// directory is opened relative to its parent's fd with O_NOFOLLOW, so a
// directory swapped for a symlink is never followed out of the layer.
func layerUsage(dir string) (bytes uint64, device string, err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, "", fmt.Errorf("open writable layer %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return 0, "", fmt.Errorf("stat writable layer %s: %w", dir, err)
	}
	w := layerWalk{seen: map[uint64]bool{}, bytes: uint64(st.Blocks) * 512}
	if err := w.dir(fd, 1); err != nil {
		return 0, "", fmt.Errorf("measure writable layer %s: %w", dir, err)
	}
	return w.bytes, fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)), nil
}

type layerWalk struct {
	seen    map[uint64]bool // inodes with more than one link, counted once
	entries int
	bytes   uint64
}

// dir adds up the entries of the directory fd, which it closes.
func (w *layerWalk) dir(fd, depth int) error {
	f := os.NewFile(uintptr(fd), "layer")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if w.entries++; w.entries > maxLayerEntries {
			return errTooLarge
		}
		var st unix.Stat_t
		err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue // removed by the container meanwhile
		}
		if err != nil {
			return fmt.Errorf("stat %s: %w", name, err)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if st.Nlink > 1 && !isDir {
			if w.seen[st.Ino] {
				continue
			}
			w.seen[st.Ino] = true
		}
		w.bytes += uint64(st.Blocks) * 512 // st_blocks counts 512-byte units
		if !isDir {
			continue
		}
		if depth >= maxLayerDepth {
			return errTooLarge
		}
		sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			continue // removed or swapped meanwhile: never followed
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		if err := w.dir(sub, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// readNetDev reads the counters of interface name in the network
// namespace of process pid: <proc>/<pid>/net/dev shows that namespace's
// interfaces, so no setns is needed.
// At most maxNetDev bytes are read: the pod's interface comes first after
// loopback (the file lists interfaces in the order they were made), and a
// container with CAP_NET_ADMIN may make as many others as it likes.
func readNetDev(proc string, pid int, name string) (Interface, bool, error) {
	f, err := os.Open(filepath.Join(proc, strconv.Itoa(pid), "net", "dev"))
	if err != nil {
		return Interface{}, false, fmt.Errorf("read network counters of process %d: %w", pid, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxNetDev))
	if err != nil {
		return Interface{}, false, fmt.Errorf("read network counters of process %d: %w", pid, err)
	}
	return parseNetDev(string(data), name)
}

// maxNetDev bounds what readNetDev reads of a namespace's net/dev.
const maxNetDev = 64 << 10
