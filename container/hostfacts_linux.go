package container

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// This file holds what the init stages (container-init, and exec-init in
// package execin) learn without trusting the container: the kernel's
// capability bound is asked of the kernel, never read from a /proc the
// container may have replaced, and the container's user database is read
// only as bounded regular files.

// LastCap returns the highest capability number the running kernel knows.
// It asks the kernel (PR_CAPBSET_READ fails with EINVAL past the last one)
// instead of reading /proc/sys/kernel/cap_last_cap: a container with
// CAP_SYS_ADMIN can mount over its own /proc/sys, and a bound read there
// would leave every capability above it in the bounding set.
func LastCap() (int, error) {
	last := -1
	for c := 0; c < 64; c++ {
		_, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read capability %d of the bounding set: %w", c, err)
		}
		last = c
	}
	if last < 0 {
		return 0, errors.New("the kernel reports no capability")
	}
	return last, nil
}

// MaxUserFile bounds the container's passwd and group files: they are the
// image's, and may be anything.
const MaxUserFile = 4 << 20

// ReadUserFile reads a file of the container's user database (/etc/passwd,
// /etc/group) in the calling thread's root, which must be the container's;
// it returns nil when the file does not exist. The open is non-blocking, so
// a FIFO planted there cannot hold it, and only a regular file is read; one
// above MaxUserFile is refused rather than cut, since a cut line could name
// another uid.
func ReadUserFile(path string) (io.Reader, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file but %s: fix the image", path, fileKind(st.Mode))
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxUserFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxUserFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxUserFile)
	}
	return bytes.NewReader(b), nil
}
