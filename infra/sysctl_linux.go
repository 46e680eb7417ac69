package infra

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// procSys is where sysctls live. The infra sees the host's procfs, but a
// sysctl file belongs to the namespaces of the process that opens it (the
// kernel looks up net, ipc and uts tables through current's nsproxy), so
// writing from the infra sets the pod's values and never the host's.
const procSys = "/proc/sys"

// writeSysctls writes each sysctl in the infra's own namespaces. Paths are
// resolved beneath /proc/sys without following any link or crossing a
// mount, so no name can reach a file elsewhere.
func writeSysctls(sysctls []Sysctl) error {
	if len(sysctls) == 0 {
		return nil
	}
	dir, err := unix.Open(procSys, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", procSys, err)
	}
	defer unix.Close(dir)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(dir, &fs); err != nil {
		return fmt.Errorf("statfs %s: %w", procSys, err)
	}
	if fs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not on procfs (type %#x)", procSys, fs.Type)
	}
	for _, s := range sysctls {
		if err := writeSysctl(dir, s); err != nil {
			return fmt.Errorf("set sysctl %s=%q: %w", s.Name, s.Value, err)
		}
	}
	return nil
}

// writeSysctl writes one sysctl. Kernels before 5.6 have no openat2; there
// the path's plain elements (PodConfig.Validate refuses "..", "." and empty
// ones) and procfs's sysctl tree, which holds no links, keep it beneath.
func writeSysctl(dir int, s Sysctl) error {
	const flags = unix.O_WRONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW
	fd, err := unix.Openat2(dir, s.Path, &unix.OpenHow{
		Flags:   flags,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err == unix.ENOSYS {
		fd, err = unix.Openat(dir, s.Path, flags, 0)
	}
	if err != nil {
		return fmt.Errorf("open %s/%s: %w", procSys, s.Path, err)
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, []byte(s.Value))
	if err != nil {
		return fmt.Errorf("write %s/%s: %w", procSys, s.Path, err)
	}
	if n != len(s.Value) {
		return fmt.Errorf("write %s/%s: short write (%d of %d bytes)", procSys, s.Path, n, len(s.Value))
	}
	return nil
}
