package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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
	return openInRoot(r.f, p)
}

// mkdirAll creates p in-root and returns an O_PATH handle to it (see
// mkdirAllInRoot).
func (r rootDir) mkdirAll(p string) (*os.File, error) {
	return mkdirAllInRoot(r, p)
}

// makeRootSlave stops mounts made here from propagating to the host, while
// host unmounts still reach the container.
func makeRootSlave() error {
	return unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, "")
}

// mountRootfs mounts the overlay of the image layers on RootfsDir, or a
// read-only bind of the single layer when there is no upper dir. Unless the
// container is privileged the mount is nodev: a device node from an image
// layer, or one made in the rootfs, cannot be opened (the device cgroup
// refuses most of them too; /dev is a mount of its own).
func mountRootfs(cfg Config) error {
	var flags uintptr
	if !cfg.Privileged {
		flags = unix.MS_NODEV
	}
	if cfg.UpperDir == "" && len(cfg.LowerDirs) == 1 {
		if err := unix.Mount(cfg.LowerDirs[0], cfg.RootfsDir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", cfg.LowerDirs[0], err)
		}
		return remountReadonly(cfg.RootfsDir, flags)
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
	if err := unix.Mount("overlay", cfg.RootfsDir, "overlay", flags, plan.data); err != nil {
		return fmt.Errorf("overlay %q: %w", plan.data, err)
	}
	return nil
}

// remountReadonly makes the mount at path read-only, with the extra flags
// and keeping the nosuid/nodev/noexec/atime flags it has: a bind remount
// that dropped a locked flag would fail, and one that dropped nosuid would
// widen access.
func remountReadonly(path string, extra uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", path, err)
	}
	flags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | extra | statfsMountFlags(st.Flags)
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

// plainDir opens the directory p of the root as an O_PATH handle, one
// component at a time without following symlinks, creating missing
// components. A component that is a symlink, a file or anything else but
// a directory is refused: procfs and sysfs go exactly where the container
// expects them, or not at all (runc refuses them on anything but an
// ordinary directory). The handle is the checked directory itself, so
// nothing can swap it before the mount.
func (r rootDir) plainDir(p string) (*os.File, error) {
	fd, err := unix.Openat(int(r.f.Fd()), ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	done := "/"
	for _, c := range strings.Split(strings.Trim(filepath.Clean(p), "/"), "/") {
		done = filepath.Join(done, c)
		next, err := openPlainDir(fd, c)
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("the image's %s %w", done, err)
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openPlainDir opens (creating it if missing) the directory name in dir
// without following a symlink, and says what name is when it is not a
// directory.
func openPlainDir(dir int, name string) (int, error) {
	open := func() (int, error) {
		return unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	fd, err := open()
	if errors.Is(err, unix.ENOENT) {
		if err := unix.Mkdirat(dir, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("is missing and cannot be created: %w", err)
		}
		fd, err = open()
	}
	if err != nil {
		return -1, fmt.Errorf("cannot be opened: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("cannot be examined: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fd, nil
	}
	what := fileKind(st.Mode)
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		buf := make([]byte, unix.PathMax)
		if n, err := unix.Readlinkat(fd, "", buf); err == nil {
			what = fmt.Sprintf("a symlink to %q", buf[:n])
		}
	}
	unix.Close(fd)
	return -1, fmt.Errorf("is %s, not a plain directory: %w", what, errNotPlainDir)
}

// errNotPlainDir marks an image whose /proc or /sys (or a directory above
// another kernel filesystem's mount point) is not a directory.
var errNotPlainDir = errors.New("the kernel filesystem mounted there needs a plain directory (as in runc); rebuild the image with it as an empty directory, or without it")

// fileKind names a file type for an error.
func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symlink"
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return fmt.Sprintf("a file of type %#o", mode&unix.S_IFMT)
}

// checkTarget refuses a mount whose target, as resolved in-root (through
// the image's symlinks), is somewhere no mount may go; see
// forbiddenResolved. It reads where the handle f really is, as runc does.
func (r rootDir) checkTarget(f *os.File, target string) error {
	rootReal, err := os.Readlink(fdPath(r.f))
	if err != nil {
		return fmt.Errorf("locate rootfs: %w", err)
	}
	resolved, err := os.Readlink(fdPath(f))
	if err != nil {
		return fmt.Errorf("locate target %s: %w", target, err)
	}
	rel, err := filepath.Rel(rootReal, resolved)
	if err != nil {
		return fmt.Errorf("locate target %s: %w", target, err)
	}
	return forbiddenResolved(target, rel)
}

// forbiddenResolved decides whether a mount at target, which resolved to
// rel (relative to the rootfs, "." for the rootfs itself), may be made.
// As in runc: never on the rootfs itself, outside it, or at or inside
// /proc, where a mount replaces what the kernel shows the container and
// what berth reads there; the /proc mount itself goes through plainDir.
// /dev may be a symlink in-root, as runc allows, but its tmpfs must not
// land on /sys either, which is mounted after it.
func forbiddenResolved(target, rel string) error {
	rel = filepath.Clean(rel)
	under := func(dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }
	var where string
	switch {
	case rel == ".":
		where = "the container's root"
	case rel == ".." || strings.HasPrefix(rel, "../"):
		where = "outside the rootfs"
	case under("proc"):
		where = "/" + rel + ", inside /proc"
	case filepath.Clean(target) == "/dev" && under("sys"):
		where = "/" + rel + ", inside /sys"
	default:
		return nil
	}
	return fmt.Errorf("mount target %s resolves, through the image's symlinks, to %s; fix the image's symlinks or mount elsewhere", target, where)
}

// mountInRoot makes one mount inside the rootfs. The target is resolved
// and created in-root and mounted through its fd; a bind source with a
// SubPath is resolved inside the volume the same way. procfs and sysfs
// need a plain directory (plainDir); every other target is checked where
// it resolved (checkTarget). makeDev fills a fresh /dev tmpfs with the
// minimal nodes.
func mountInRoot(root rootDir, m Mount, makeDev bool) error {
	opts := parseMountOptions(m.Options)
	if m.Type == "bind" {
		return bindInRoot(root, m, opts, nil)
	}
	var target *os.File
	var err error
	if m.Type == "proc" || m.Type == "sysfs" {
		if target, err = root.plainDir(m.Target); err != nil {
			return err
		}
	} else {
		if target, err = root.mkdirAll(m.Target); err != nil {
			return fmt.Errorf("create target in rootfs: %w", err)
		}
		if err := root.checkTarget(target, m.Target); err != nil {
			target.Close()
			return err
		}
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

// sharedTrees clones, before / is made a slave, the source of each mount
// that asks for rshared propagation (Bidirectional): a clone of a shared
// mount is a peer of it, so mounts made below it in the container reach
// the host and the host's reach the container, which the slave copies of
// the host's mounts left after makeRootSlave never do. It returns the
// clones by index in mounts; the caller closes them.
func sharedTrees(mounts []Mount) (map[int]*os.File, error) {
	trees := map[int]*os.File{}
	for i, m := range mounts {
		if m.Type != "bind" || !slices.Contains(m.Options, "rshared") {
			continue
		}
		src, err := openBindSource(m)
		if err != nil {
			closeTrees(trees)
			return nil, fmt.Errorf("mount %s: %w", m.Target, err)
		}
		fd, err := unix.OpenTree(int(src.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
		src.Close()
		if err != nil {
			closeTrees(trees)
			return nil, fmt.Errorf("mount %s: clone %s for shared propagation (open_tree, Linux 5.2+): %w", m.Target, m.Source, err)
		}
		trees[i] = os.NewFile(uintptr(fd), m.Source)
	}
	return trees, nil
}

func closeTrees(trees map[int]*os.File) {
	for _, f := range trees {
		f.Close()
	}
}

// bindInRoot bind-mounts m.Source (or its SubPath) onto the target, or
// attaches tree, a clone of it sharedTrees made, when not nil; then it
// remounts it with the requested flags when there are any.
func bindInRoot(root rootDir, m Mount, opts mountOptions, tree *os.File) error {
	src := tree
	if src == nil {
		var err error
		if src, err = openBindSource(m); err != nil {
			return err
		}
		defer src.Close()
	}
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
	if err := root.checkTarget(target, m.Target); err != nil {
		return err
	}

	if tree != nil {
		if err := unix.MoveMount(int(tree.Fd()), "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
			return fmt.Errorf("attach the clone of %s: %w", m.Source, err)
		}
	} else if err := unix.Mount(fdPath(src), fdPath(target), "", unix.MS_BIND|opts.flags&unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", m.Source, err)
	}
	extra := opts.flags &^ (unix.MS_BIND | unix.MS_REC)
	if extra != 0 {
		if err := remountBind(root, m.Target, src, extra); err != nil {
			return err
		}
	}
	if opts.flags&unix.MS_REC != 0 && extra&unix.MS_NODEV != 0 {
		if err := nodevBelow(root, m.Target); err != nil {
			return err
		}
	}
	return applyPropagation(root, m.Target, opts.propagation)
}

// nodevBelow makes every mount at and below target nodev: a recursive
// bind brings the source's submounts along (a hostPath of /run or of / has
// tmpfs and devtmpfs below it), and the bind remount only reaches the top
// one. mount_setattr(2) is Linux 5.12+; on older kernels the submounts
// keep their flags and the device cgroup alone refuses their nodes.
func nodevBelow(root rootDir, target string) error {
	mounted, err := root.open(target)
	if err != nil {
		return fmt.Errorf("reopen target: %w", err)
	}
	defer mounted.Close()
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NODEV}
	err = unix.MountSetattr(int(mounted.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if err != nil && !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("set nodev below: %w", err)
	}
	return nil
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
	f, err := openInRootPath(m.Source, m.SubPath)
	if errors.Is(err, os.ErrNotExist) {
		f, err = makeSubPath(m)
	}
	if err != nil {
		return nil, fmt.Errorf("open subPath %s in %s: %w", m.SubPath, m.Source, err)
	}
	return f, nil
}

// makeSubPath creates a missing subPath as directories inside the volume,
// as the kubelet does: one component at a time below the volume's root,
// never following a link (an existing link in the way is an error), each
// new directory with the mode of the volume's root (an emptyDir's 0777)
// whatever the umask.
func makeSubPath(m Mount) (*os.File, error) {
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	dir, err := unix.Open(m.Source, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open volume: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		unix.Close(dir)
		return nil, fmt.Errorf("stat volume: %w", err)
	}
	for _, el := range strings.Split(filepath.Clean(m.SubPath), "/") {
		if el == "." || el == ".." {
			unix.Close(dir)
			return nil, fmt.Errorf("subPath element %q: %w", el, unix.EINVAL)
		}
		next, err := unix.Openat(dir, el, flags, 0)
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(dir, el, st.Mode&0o777); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(dir)
				return nil, fmt.Errorf("create %s: %w", el, err)
			}
			if next, err = unix.Openat(dir, el, flags, 0); err == nil {
				err = unix.Fchmodat(unix.AT_FDCWD, "/proc/thread-self/fd/"+strconv.Itoa(next), st.Mode&0o7777, 0)
			}
		}
		unix.Close(dir)
		if err != nil {
			if next > 0 {
				unix.Close(next)
			}
			return nil, fmt.Errorf("open %s: %w", el, err)
		}
		dir = next
	}
	return os.NewFile(uintptr(dir), filepath.Join(m.Source, m.SubPath)), nil
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
	return bindInRoot(root, Mount{Source: "/dev/" + name, Target: "/dev/" + name, Type: "bind", File: true}, mountOptions{flags: unix.MS_BIND}, nil)
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
// read-only tmpfs over directories. The container's /dev/null must be the
// null device, as runc checks: a volume or image file there would
// otherwise be what the masked files show.
func maskPaths(paths []string) error {
	root, err := openRoot("/")
	if err != nil {
		return err
	}
	defer root.Close()
	null, err := openDevNull(root)
	if err != nil {
		return err
	}
	defer null.Close()
	return eachExistingInRoot(root, paths, func(_ string, f *os.File, isDir bool) error {
		if isDir {
			return unix.Mount("tmpfs", fdPath(f), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}
		return unix.Mount(fdPath(null), fdPath(f), "", unix.MS_BIND, "")
	})
}

// openDevNull opens the (pivoted) root's /dev/null and checks that it is
// the null device.
func openDevNull(root rootDir) (*os.File, error) {
	f, err := root.open("/dev/null")
	if err != nil {
		return nil, fmt.Errorf("open the container's /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat the container's /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		f.Close()
		return nil, fmt.Errorf("the container's /dev/null is %s, not the null device (a volume mounted there?): masked paths would show it", fileKind(st.Mode))
	}
	return f, nil
}

// readonlyPaths bind-mounts each existing path on itself read-only.
func readonlyPaths(paths []string) error {
	root, err := openRoot("/")
	if err != nil {
		return err
	}
	defer root.Close()
	return eachExistingInRoot(root, paths, func(path string, f *os.File, _ bool) error {
		p := fdPath(f)
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		// The bind sits on top of f; name it by a fresh in-root handle.
		return remountReadonlyInRoot(root, path)
	})
}

// remountReadonlyInRoot resolves path in root and remounts the mount there
// read-only.
func remountReadonlyInRoot(root rootDir, path string) error {
	f, err := root.open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return remountReadonly(fdPath(f), 0)
}

// eachExistingInRoot calls fn with an O_PATH handle of each path that
// exists in root; missing paths are skipped.
func eachExistingInRoot(root rootDir, paths []string, fn func(path string, f *os.File, isDir bool) error) error {
	for _, p := range paths {
		f, err := root.open(p)
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
