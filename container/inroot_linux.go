package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// In-root resolution is openat2(2) with RESOLVE_IN_ROOT (Linux 5.6): the
// kernel resolves the path as if root were "/", so neither "..", an
// absolute symlink nor a rename racing the lookup can leave it, and
// RESOLVE_NO_MAGICLINKS refuses procfs's fd links. pathrs resolves the same
// way (it calls openat2 too where it can), but then names every handle by
// reading its path back through a private, checked procfs: a dozen
// syscalls per lookup, some sixty lookups per container start. Here the
// handle is named by the path asked for, and pathrs serves the kernels
// without openat2.
const inRootResolve = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openat2Retries bounds the retries of a lookup that a concurrent rename
// or mount made the kernel give up on (EAGAIN), as pathrs bounds them.
const openat2Retries = 32

// openat2 is unix.Openat2 retried on EAGAIN and EINTR.
func openat2(dir int, p string, how *unix.OpenHow) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dir, p, how)
		if (err == unix.EAGAIN || err == unix.EINTR) && i < openat2Retries {
			continue
		}
		return fd, err
	}
}

// openAtInRoot is openat2 of p inside the root dir, as an O_PATH handle
// with extra open flags (O_DIRECTORY to ask for a directory).
func openAtInRoot(dir int, p string, flags int) (int, error) {
	return openat2(dir, p, &unix.OpenHow{
		Flags:   uint64(unix.O_PATH | unix.O_CLOEXEC | flags),
		Resolve: inRootResolve,
	})
}

// openInRoot opens p inside root as an O_PATH handle.
func openInRoot(root *os.File, p string) (*os.File, error) {
	fd, err := openAtInRoot(int(root.Fd()), p, 0)
	if err == unix.ENOSYS {
		return pathrs.OpenatInRoot(root, p)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open in root", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root.Name(), p)), nil
}

// openInRootPath is openInRoot for a root given by its path.
func openInRootPath(root, p string) (*os.File, error) {
	r, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return openInRoot(r, p)
}

// mkdirAllInRoot creates the directory p inside the root r and returns an
// O_PATH handle to it. An existing directory is one lookup. Otherwise the
// dangling symlinks on the way (an image's `/etc -> /host/etc`) are first
// followed lexically inside the root, as runc does, so that their targets
// are created inside the root instead of failing; then each missing
// component is made below the deepest existing one and opened without
// following a symlink or crossing a mount, so a component swapped in
// meanwhile is refused, never followed.
func mkdirAllInRoot(r rootDir, p string) (*os.File, error) {
	fd, err := openAtInRoot(int(r.f.Fd()), p, unix.O_DIRECTORY)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(r.path, p)), nil
	}
	full, err := securejoin.SecureJoin(r.path, p)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in %s: %w", p, r.path, err)
	}
	rel, err := filepath.Rel(r.path, full)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in %s: %w", p, r.path, err)
	}
	dir, rest, err := deepestInRoot(r.f, rel)
	if err == unix.ENOSYS {
		return pathrs.MkdirAllHandle(r.f, rel, 0o755)
	}
	if err != nil {
		return nil, err
	}
	for _, part := range rest {
		if err := unix.Mkdirat(dir, part, 0o755); err != nil && err != unix.EEXIST {
			unix.Close(dir)
			return nil, &os.PathError{Op: "mkdir in root", Path: p, Err: err}
		}
		next, err := openat2(dir, part, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
		})
		unix.Close(dir)
		if err != nil {
			return nil, &os.PathError{Op: "open in root", Path: p, Err: err}
		}
		dir = next
	}
	return os.NewFile(uintptr(dir), filepath.Join(r.path, rel)), nil
}

// deepestInRoot opens the deepest existing directory of rel (a path
// relative to root, free of symlinks on its missing part) inside root and
// returns the components still to create below it. A ".." among those is
// refused: it could only be resolved against directories that do not
// exist yet.
func deepestInRoot(root *os.File, rel string) (int, []string, error) {
	rel = filepath.Clean(rel)
	end := len(rel)
	if rel == "." {
		end = 0
	}
	for {
		dir, err := openAtInRoot(int(root.Fd()), "/"+rel[:end], unix.O_DIRECTORY)
		if err == nil {
			rest := strings.FieldsFunc(rel[end:], func(c rune) bool { return c == '/' })
			for _, part := range rest {
				if part == ".." {
					unix.Close(dir)
					return -1, nil, &os.PathError{Op: "mkdir in root", Path: rel, Err: errors.New("a \"..\" below a missing directory")}
				}
			}
			return dir, rest, nil
		}
		if (err != unix.ENOENT && err != unix.ENOTDIR) || end == 0 {
			if err == unix.ENOSYS {
				return -1, nil, err
			}
			return -1, nil, &os.PathError{Op: "open in root", Path: "/" + rel[:end], Err: err}
		}
		end = max(strings.LastIndexByte(rel[:end], '/'), 0)
	}
}
