package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// fdPath names an open fd through procfs, so that mount(2) acts on exactly
// the file resolved in-root, not on a path that could be swapped for a
// symlink in between (CVE-2021-30465).
func fdPath(f *os.File) string {
	return "/proc/thread-self/fd/" + strconv.Itoa(int(f.Fd()))
}

// rootDir is a root (the rootfs before pivot_root, "/" after) as a path,
// for resolving symlinks lexically in-root, and as an O_PATH handle, for
// creating and opening without a race that could leave the root.
type rootDir struct {
	path string
	f    *os.File
}

// openRoot opens a trusted directory as a rootDir.
func openRoot(path string) (rootDir, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return rootDir{}, err
	}
	return rootDir{path: path, f: f}, nil
}

func (r rootDir) Close() error { return r.f.Close() }

// open resolves an existing path in-root and returns an O_PATH handle.
func (r rootDir) open(p string) (*os.File, error) {
	return pathrs.OpenatInRoot(r.f, p)
}

// mkdirAll creates p in-root and returns an O_PATH handle to it. Dangling
// symlinks on the way (an image's `/etc -> /host/etc`) are first followed
// lexically inside the root, as runc does, so their targets are created
// inside the root instead of failing; the creation itself is done by
// pathrs, which never leaves the root even if the tree changes meanwhile.
func (r rootDir) mkdirAll(p string) (*os.File, error) {
	full, err := securejoin.SecureJoin(r.path, p)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in %s: %w", p, r.path, err)
	}
	rel, err := filepath.Rel(r.path, full)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in %s: %w", p, r.path, err)
	}
	return pathrs.MkdirAllHandle(r.f, rel, 0o755)
}

// makeRootSlave stops mounts made here from propagating to the host, while
// host unmounts still reach the container.
func makeRootSlave() error {
	return unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, "")
}

// mountRootfs mounts the overlay of the image layers on RootfsDir, or a
// read-only bind of the single layer when there is no upper dir.
func mountRootfs(cfg Config) error {
	if cfg.UpperDir == "" && len(cfg.LowerDirs) == 1 {
		if err := unix.Mount(cfg.LowerDirs[0], cfg.RootfsDir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", cfg.LowerDirs[0], err)
		}
		return remountReadonly(cfg.RootfsDir)
	}
	plan, err := planOverlay(cfg.LowerDirs, cfg.UpperDir, cfg.WorkDir)
	if err != nil {
		return err
	}
	if plan.dir != "" {
		// Lower dirs are relative to plan.dir: the options would not fit
		// in a page otherwise.
		if err := unix.Chdir(plan.dir); err != nil {
			return fmt.Errorf("chdir to layers %s: %w", plan.dir, err)
		}
		defer unix.Chdir("/")
	}
	if err := unix.Mount("overlay", cfg.RootfsDir, "overlay", 0, plan.data); err != nil {
		return fmt.Errorf("overlay %q: %w", plan.data, err)
	}
	return nil
}

// remountReadonly makes the mount at path read-only, keeping the
// nosuid/nodev/noexec/atime flags it has: a bind remount that dropped a
// locked flag would fail, and one that dropped nosuid would widen access.
func remountReadonly(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", path, err)
	}
	flags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | statfsMountFlags(st.Flags)
	if err := unix.Mount("", path, "", flags, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", path, err)
	}
	return nil
}

// statfsMountFlags maps statfs f_flags to the mount flags a bind remount
// must repeat.
func statfsMountFlags(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_NOSUID:     unix.MS_NOSUID,
		unix.ST_NODEV:      unix.MS_NODEV,
		unix.ST_NOEXEC:     unix.MS_NOEXEC,
		unix.ST_NOATIME:    unix.MS_NOATIME,
		unix.ST_NODIRATIME: unix.MS_NODIRATIME,
		unix.ST_RELATIME:   unix.MS_RELATIME,
	} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out
}

// mountInRoot makes one mount inside the rootfs. The target is resolved
// and created in-root and mounted through its fd; a bind source with a
// SubPath is resolved inside the volume the same way. makeDev fills a
// fresh /dev tmpfs with the minimal nodes.
func mountInRoot(root rootDir, m Mount, makeDev bool) error {
	opts := parseMountOptions(m.Options)
	if m.Type == "bind" {
		return bindInRoot(root, m, opts)
	}
	if m.Type == "proc" || m.Type == "sysfs" {
		if err := checkPlainDir(root, m.Target); err != nil {
			return err
		}
	}
	target, err := root.mkdirAll(m.Target)
	if err != nil {
		return fmt.Errorf("create target in rootfs: %w", err)
	}
	defer target.Close()
	if err := unix.Mount(m.Source, fdPath(target), m.Type, opts.flags, opts.data); err != nil {
		return fmt.Errorf("mount %s (%s, %q): %w", m.Source, m.Type, opts.data, err)
	}
	if err := applyPropagation(root, m.Target, opts.propagation); err != nil {
		return err
	}
	if makeDev && m.Target == "/dev" {
		return populateDev(root)
	}
	return nil
}

// checkPlainDir refuses to mount /proc or /sys where the image has a
// symlink or anything but a directory, as runc does: masking and the
// read-only paths are applied by those names, and must land on the mount.
// A missing one is fine (it is created); deeper targets are resolved
// in-root by the mount itself.
func checkPlainDir(root rootDir, target string) error {
	name := strings.TrimPrefix(filepath.Clean(target), "/")
	if name == "" || strings.Contains(name, "/") {
		return nil
	}
	var st unix.Stat_t
	err := unix.Fstatat(int(root.f.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s in the image: %w", target, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("the image's %s is not a plain directory (a symlink or a file): fix the image", target)
	}
	return nil
}

// bindInRoot bind-mounts m.Source (or its SubPath) onto the target, then
// remounts it with the requested flags when there are any.
func bindInRoot(root rootDir, m Mount, opts mountOptions) error {
	src, err := openBindSource(m)
	if err != nil {
		return err
	}
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return fmt.Errorf("stat source %s: %w", m.Source, err)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	target, err := ensureTarget(root, m.Target, m.File || !isDir)
	if err != nil {
		return err
	}
	defer target.Close()

	if err := unix.Mount(fdPath(src), fdPath(target), "", unix.MS_BIND|opts.flags&unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", m.Source, err)
	}
	extra := opts.flags &^ (unix.MS_BIND | unix.MS_REC)
	if extra != 0 {
		if err := remountBind(root, m.Target, src, extra); err != nil {
			return err
		}
	}
	return applyPropagation(root, m.Target, opts.propagation)
}

// openBindSource opens the host side of a bind: Source itself (a host
// path berth chose), or SubPath resolved inside it without leaving it
// (CVE-2017-1002101, CVE-2021-25741).
func openBindSource(m Mount) (*os.File, error) {
	if m.SubPath == "" {
		f, err := os.OpenFile(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open source: %w", err)
		}
		return f, nil
	}
	f, err := pathrs.OpenInRoot(m.Source, m.SubPath)
	if err != nil {
		return nil, fmt.Errorf("open subPath %s in %s: %w", m.SubPath, m.Source, err)
	}
	return f, nil
}

// ensureTarget resolves target in-root, creating it as a directory or an
// empty file, and returns an O_PATH handle to it.
func ensureTarget(root rootDir, target string, file bool) (*os.File, error) {
	if !file {
		f, err := root.mkdirAll(target)
		if err != nil {
			return nil, fmt.Errorf("create target dir in rootfs: %w", err)
		}
		return f, nil
	}
	if f, err := root.open(target); err == nil {
		return f, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open target in rootfs: %w", err)
	}
	parent, err := root.mkdirAll(filepath.Dir(target))
	if err != nil {
		return nil, fmt.Errorf("create parent of target in rootfs: %w", err)
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), filepath.Base(target), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create target file in rootfs: %w", err)
	}
	if err == nil {
		unix.Close(fd)
	}
	f, err := root.open(target)
	if err != nil {
		return nil, fmt.Errorf("open target in rootfs: %w", err)
	}
	return f, nil
}

// remountBind applies flags (ro, nosuid, ...) to a fresh bind mount at
// target, keeping the flags the source's mount has.
func remountBind(root rootDir, target string, src *os.File, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(src.Fd()), &st); err != nil {
		return fmt.Errorf("statfs source: %w", err)
	}
	// Re-resolve: the handle taken before the mount points below it.
	mounted, err := root.open(target)
	if err != nil {
		return fmt.Errorf("reopen target: %w", err)
	}
	defer mounted.Close()
	all := unix.MS_BIND | unix.MS_REMOUNT | flags | statfsMountFlags(st.Flags)
	if err := unix.Mount("", fdPath(mounted), "", all, ""); err != nil {
		return fmt.Errorf("remount bind with flags %#x: %w", flags, err)
	}
	return nil
}

// applyPropagation sets propagation options (rprivate, ...) on the mount
// now at target.
func applyPropagation(root rootDir, target string, props []uintptr) error {
	if len(props) == 0 {
		return nil
	}
	mounted, err := root.open(target)
	if err != nil {
		return fmt.Errorf("reopen target: %w", err)
	}
	defer mounted.Close()
	for _, p := range props {
		if err := unix.Mount("", fdPath(mounted), "", p, ""); err != nil {
			return fmt.Errorf("set propagation %#x: %w", p, err)
		}
	}
	return nil
}

// populateDev creates the minimal device nodes and links in a fresh /dev
// tmpfs. A node that cannot be created (no CAP_MKNOD) is bound from the
// host's /dev instead.
func populateDev(root rootDir) error {
	dev, err := root.open("/dev")
	if err != nil {
		return fmt.Errorf("open /dev in rootfs: %w", err)
	}
	defer dev.Close()
	dfd := int(dev.Fd())
	for _, d := range devices {
		if err := makeDevice(root, dfd, d.name, d.major, d.minor); err != nil {
			return fmt.Errorf("create /dev/%s: %w", d.name, err)
		}
	}
	for _, l := range devSymlinks {
		if err := unix.Symlinkat(l.target, dfd, l.name); err != nil {
			return fmt.Errorf("link /dev/%s -> %s: %w", l.name, l.target, err)
		}
	}
	return nil
}

// makeDevice creates one character device node, mode 0666 like runc.
func makeDevice(root rootDir, dfd int, name string, major, minor uint32) error {
	err := unix.Mknodat(dfd, name, unix.S_IFCHR|0o666, int(unix.Mkdev(major, minor)))
	if err == nil {
		return unix.Fchmodat(dfd, name, 0o666, 0)
	}
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	return bindInRoot(root, Mount{Source: "/dev/" + name, Target: "/dev/" + name, Type: "bind", File: true}, mountOptions{flags: unix.MS_BIND})
}

// pivotRoot makes rootfs the root the runc way: pivot_root(".", ".")
// stacks the old root on the new one, which is then lazily unmounted, so
// no directory for the old root is needed inside the image.
func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// Slave first, so the unmount cannot propagate to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// maskPaths hides each path that exists: /dev/null over files, an empty
// read-only tmpfs over directories.
func maskPaths(paths []string) error {
	return eachExistingInRoot(paths, func(_ string, f *os.File, isDir bool) error {
		if isDir {
			return unix.Mount("tmpfs", fdPath(f), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}
		return unix.Mount("/dev/null", fdPath(f), "", unix.MS_BIND, "")
	})
}

// readonlyPaths bind-mounts each existing path on itself read-only.
func readonlyPaths(paths []string) error {
	return eachExistingInRoot(paths, func(path string, f *os.File, _ bool) error {
		p := fdPath(f)
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		// The bind sits on top of f; name it by a fresh in-root handle.
		return remountReadonlyInRoot(path)
	})
}

// remountReadonlyInRoot resolves path in the (pivoted) root and remounts
// the mount there read-only.
func remountReadonlyInRoot(path string) error {
	f, err := pathrs.OpenInRoot("/", path)
	if err != nil {
		return err
	}
	defer f.Close()
	return remountReadonly(fdPath(f))
}

// eachExistingInRoot calls fn with an O_PATH handle of each path that
// exists in the current root; missing paths are skipped.
func eachExistingInRoot(paths []string, fn func(path string, f *os.File, isDir bool) error) error {
	for _, p := range paths {
		f, err := pathrs.OpenInRoot("/", p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", p, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(int(f.Fd()), &st)
		if err == nil {
			err = fn(p, f, st.Mode&unix.S_IFMT == unix.S_IFDIR)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// ensureCwd creates the working directory in-root if it is missing, as
// Docker does.
func ensureCwd(cwd string) error {
	if cwd == "" {
		return nil
	}
	root, err := openRoot("/")
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.mkdirAll(cwd)
	if err != nil {
		return err
	}
	return f.Close()
}
