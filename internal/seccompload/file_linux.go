package seccompload

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ReadProgram fills f.Program from f.File when the program is not inline.
// The file must be a regular file (opened without following a symlink,
// non-blocking, so a FIFO put there cannot hold the init stage) of one to
// MaxInstructions whole instructions. The caller reads it before it
// enters the container: File is a path on the host.
func (f *Filter) ReadProgram() error {
	if len(f.Program) > 0 {
		return nil
	}
	if f.File == "" {
		return fmt.Errorf("seccomp filter has neither a program nor a file")
	}
	fd, err := unix.Open(f.File, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open seccomp filter %s: %w", f.File, err)
	}
	file := os.NewFile(uintptr(fd), f.File)
	defer file.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat seccomp filter %s: %w", f.File, err)
	}
	n := st.Size
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("seccomp filter %s is not a regular file", f.File)
	case n == 0 || n > MaxInstructions*InstructionSize || n%InstructionSize != 0:
		return fmt.Errorf("seccomp filter %s has %d bytes, not 1 to %d instructions", f.File, n, MaxInstructions)
	}
	prog := make([]byte, n)
	if _, err := io.ReadFull(file, prog); err != nil {
		return fmt.Errorf("read seccomp filter %s: %w", f.File, err)
	}
	f.Program = prog
	return nil
}
