// Package sealed gives the daemon a copy of its own binary that no container
// can modify, to re-execute as the infra and container-init processes
// (CVE-2019-5736: a container overwriting the host runtime through
// /proc/PID/exe). The copy lives in a sealed memfd, made once per daemon
// start and shared by every infra it launches; where the kernel refuses to
// execute memfds (vm.memfd_noexec), a read-only copy in a root-only directory
// is used instead.
package sealed

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Binary is a sealed copy of the running executable.
type Binary struct {
	// Path execs the copy; for a memfd it is /proc/self/fd/N, valid in this
	// process and in children it forks (the fd is CLOEXEC, so it is gone
	// once the child has exec'd).
	Path string
	file *os.File
}

// highFD keeps the memfd above the fds that exec.Cmd installs (stdio and
// ExtraFiles), which would otherwise be dup2'ed over it before execve
// resolves the path.
const highFD = 100

// Seal copies the running executable into a sealed memfd, or into
// fallbackDir (created 0700) when memfd execution is disabled.
func Seal(fallbackDir string) (*Binary, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own executable: %w", err)
	}
	defer self.Close()
	if memfdExecAllowed() {
		return sealMemfd(self)
	}
	return copyToDir(self, fallbackDir)
}

// Close releases the copy. Processes already started from it keep it alive.
func (b *Binary) Close() error {
	if b.file == nil {
		return nil
	}
	return b.file.Close()
}

func memfdExecAllowed() bool {
	v, err := os.ReadFile("/proc/sys/vm/memfd_noexec")
	if err != nil {
		return true // the sysctl predates no kernel that lacks memfd exec
	}
	return strings.TrimSpace(string(v)) == "0"
}

func sealMemfd(self *os.File) (*Binary, error) {
	fd, err := unix.MemfdCreate("berth", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL {
		// Kernels before 6.3 do not know MFD_EXEC; their memfds are executable.
		fd, err = unix.MemfdCreate("berth", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:berth")
	if _, err := io.Copy(mem, self); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copy own executable to memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	high, err := unix.FcntlInt(mem.Fd(), unix.F_DUPFD_CLOEXEC, highFD)
	mem.Close()
	if err != nil {
		return nil, fmt.Errorf("move memfd above fd %d: %w", highFD, err)
	}
	f := os.NewFile(uintptr(high), "memfd:berth")
	return &Binary{Path: fmt.Sprintf("/proc/self/fd/%d", high), file: f}, nil
}

func copyToDir(self *os.File, dir string) (*Binary, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", dir, err)
	}
	dst := filepath.Join(dir, fmt.Sprintf("berth.%d", os.Getpid()))
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o500)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", dst, err)
	}
	if _, err := io.Copy(f, self); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy own executable to %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", dst, err)
	}
	return &Binary{Path: dst}, nil
}
