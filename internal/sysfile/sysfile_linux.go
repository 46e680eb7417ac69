package sysfile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// WriteExistingAt is WriteExisting for name beneath the open directory
// dir: a walk from dir, not from the root.
func WriteExistingAt(dir *os.File, name, s string) error {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "openat", Path: name, Err: err}
	}
	return writeClose(os.NewFile(uintptr(fd), name), name, s)
}

// writeClose writes s to f in one write and closes it.
func writeClose(f *os.File, path, s string) error {
	_, err := f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
