package container

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/mountinfo"
)

// moveRoot roots the process in rootfs without pivot_root, as runc's
// --no-pivot: the mounts outside the rootfs are detached (mountsToDetach),
// the rootfs is moved onto / and the process chroots into it. Weaker than
// pivot_root: the namespace keeps the host's root mount under the rootfs,
// which a process holding CAP_SYS_ADMIN (a privileged container) could
// unmount to reach; without it, ".." at the top of the moved mount leads
// back onto it, and the host's /proc and /sys, whose presence the kernel
// weighs before letting a namespace mount its own, are gone. A process
// that joins the namespace later (berth exec) lands in the rootfs too:
// setns(2) takes the mount stacked on the namespace's root.
func moveRoot(rootfs string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	entries, err := mountinfo.Parse(f)
	f.Close()
	if err != nil {
		return err
	}
	for _, p := range mountsToDetach(entries, rootfs) {
		// A parent detached before took this one along: EINVAL or ENOENT.
		err := unix.Unmount(p, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach %s: %w", p, err)
		}
	}
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s onto /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}
