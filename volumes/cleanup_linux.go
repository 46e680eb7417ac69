package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// maxUnmountPasses bounds Cleanup's unmount loop; each pass unmounts what
// mountinfo shows, so stacked mounts take one pass per layer.
const maxUnmountPasses = 8

// Cleanup unmounts every mount at or below podDir (memory emptyDirs and
// secret tmpfs, and anything else found there), deepest first, and removes
// podDir. It needs no saved state: the mounts are found in
// /proc/self/mountinfo. A mount that stays busy is detached (MNT_DETACH) as
// a last resort. podDir is removed only once nothing is mounted below it,
// so the removal can never reach into a mounted file system. Cleanup is
// idempotent: a missing podDir is success.
func Cleanup(podDir string) error {
	abs, err := filepath.Abs(podDir)
	if err != nil {
		return fmt.Errorf("volume dir %s: %w", podDir, err)
	}
	if abs == "/" {
		return fmt.Errorf("volume dir may not be /: %w", ErrInvalid)
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolve volume dir %s: %w", abs, err)
	}
	if err := unmountUnder(real); err != nil {
		return err
	}
	if err := os.RemoveAll(real); err != nil {
		return fmt.Errorf("remove volume dir %s: %w", real, err)
	}
	return nil
}

// unmountUnder unmounts everything at or below dir, or fails naming what
// is still mounted.
func unmountUnder(dir string) error {
	for range maxUnmountPasses {
		points, err := readMountPoints()
		if err != nil {
			return err
		}
		under := mountsUnder(points, dir)
		if len(under) == 0 {
			return nil
		}
		for _, mp := range under {
			if err := unmount(mp); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("volume dir %s: mounts remain after %d unmount passes", dir, maxUnmountPasses)
}

// unmount unmounts mp, detaching it when it is busy. EINVAL (no longer a
// mount point, e.g. already gone with its parent) and ENOENT count as done.
func unmount(mp string) error {
	err := unix.Unmount(mp, unix.UMOUNT_NOFOLLOW)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(mp, unix.UMOUNT_NOFOLLOW|unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", mp, err)
	}
	return nil
}

// readMountPoints lists the mount points of the calling process's mount
// namespace.
func readMountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("open mountinfo: %w", err)
	}
	defer f.Close()
	return parseMountPoints(f)
}
