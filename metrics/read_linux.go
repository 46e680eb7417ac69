package metrics

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxLayerEntries bounds the walk of one writable layer per scrape. A
// layer is usually small (what the container wrote over its image); one
// with more entries than this has no container_fs_usage_bytes series
// rather than a number that is only a lower bound, and the scrape's cost
// stays bounded whatever a container writes.
const maxLayerEntries = 10000

// errTooLarge is returned by layerUsage past maxLayerEntries.
var errTooLarge = errors.New("writable layer has too many entries to measure")

// layerUsage returns the disk space the files under dir take (allocated
// blocks, each inode once, as du counts) and the device that holds dir as
// "major:minor". statfs would be cheaper but tells about the whole file
// system, not the layer. The walk never follows a symlink: the tree is
// the container's to shape.
func layerUsage(dir string) (bytes uint64, device string, err error) {
	var root unix.Stat_t
	if err := unix.Lstat(dir, &root); err != nil {
		return 0, "", fmt.Errorf("stat writable layer %s: %w", dir, err)
	}
	device = fmt.Sprintf("%d:%d", unix.Major(root.Dev), unix.Minor(root.Dev))
	seen := map[uint64]bool{}
	n := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil // removed by the container meanwhile
		}
		if err != nil {
			return err
		}
		if n++; n > maxLayerEntries {
			return errTooLarge
		}
		info, err := d.Info()
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Nlink > 1 && !d.IsDir() {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		bytes += uint64(st.Blocks) * 512 // st_blocks counts 512-byte units
		return nil
	})
	if err != nil {
		return 0, "", fmt.Errorf("measure writable layer %s: %w", dir, err)
	}
	return bytes, device, nil
}

// readNetDev reads the interface counters of the network namespace of
// process pid: <proc>/<pid>/net/dev shows that namespace's interfaces, so
// no setns is needed.
func readNetDev(proc string, pid int) ([]Interface, error) {
	data, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "net", "dev"))
	if err != nil {
		return nil, fmt.Errorf("read network counters of process %d: %w", pid, err)
	}
	return parseNetDev(string(data))
}
