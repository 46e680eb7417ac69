// Package sealed gives the daemon a copy of the binary its infra and
// container-init processes re-execute that no container can modify
// (CVE-2019-5736: a container overwriting the host runtime through
// /proc/PID/exe). The copy is either berth itself (Seal) or the lean init
// binary embedded in it (SealReader, see internal/embedbin). It lives in a
// sealed memfd, made once per daemon start and shared by every infra it
// launches; where the kernel refuses to execute memfds (vm.memfd_noexec), a
// read-only copy in a root-only directory is used instead.
package sealed

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Binary is a sealed copy of an executable.
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

// Seal copies the running executable into a sealed memfd named "berth", or
// into fallbackDir (created 0700) when memfd execution is disabled.
func Seal(fallbackDir string) (*Binary, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own executable: %w", err)
	}
	defer self.Close()
	return seal("berth", self, fallbackDir)
}

// SealReader is Seal for an executable read from src. name names the
// memfd (/proc/PID/exe of its processes reads "/memfd:<name> (deleted)")
// or the fallback file; it must be a plain file name.
func SealReader(name string, src io.Reader, fallbackDir string) (*Binary, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("seal executable %q: name must be a plain file name", name)
	}
	return seal(name, src, fallbackDir)
}

// Close releases the copy. Processes already started from it keep it alive.
func (b *Binary) Close() error {
	if b.file == nil {
		return nil
	}
	return b.file.Close()
}

// seal copies src into a sealed memfd, or into fallbackDir when the kernel
// does not execute memfds.
func seal(name string, src io.Reader, fallbackDir string) (*Binary, error) {
	if memfdExecAllowed() {
		return sealMemfd(name, src)
	}
	return copyToDir(name, src, fallbackDir)
}

func memfdExecAllowed() bool {
	v, err := os.ReadFile("/proc/sys/vm/memfd_noexec")
	if err != nil {
		return true // the sysctl predates no kernel that lacks memfd exec
	}
	return strings.TrimSpace(string(v)) == "0"
}

func sealMemfd(name string, src io.Reader) (*Binary, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL {
		// Kernels before 6.3 do not know MFD_EXEC; their memfds are executable.
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create %s: %w", name, err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:"+name)
	if _, err := io.Copy(mem, src); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copy %s to memfd: %w", name, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if err := addSealsRetrying(mem, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal memfd %s: %w", name, err)
	}
	high, err := unix.FcntlInt(mem.Fd(), unix.F_DUPFD_CLOEXEC, highFD)
	mem.Close()
	if err != nil {
		return nil, fmt.Errorf("move memfd %s above fd %d: %w", name, highFD, err)
	}
	f := os.NewFile(uintptr(high), "memfd:"+name)
	return &Binary{Path: fmt.Sprintf("/proc/self/fd/%d", high), file: f}, nil
}

// addSeals adds seals to the memfd f (a variable for tests).
var addSeals = func(f *os.File, seals int) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals)
	return err
}

// sealRetries and sealRetryWait bound the retries of a seal the kernel
// refused with EBUSY. F_SEAL_WRITE waits a while for every page of the
// memfd to be free of extra references and fails when one keeps one: a
// page being migrated, or looked at by khugepaged or DAMON, holds it for a
// moment (seen once in five CI runs, the daemon then failing to start). A
// refused F_ADD_SEALS adds none of the seals, so it can be asked again.
const (
	sealRetries   = 5
	sealRetryWait = 10 * time.Millisecond
)

// addSealsRetrying is addSeals, tried again after a pause, doubled each
// time, while the kernel answers EBUSY.
func addSealsRetrying(f *os.File, seals int) error {
	wait := sealRetryWait
	for i := 0; ; i++ {
		err := addSeals(f, seals)
		if !errors.Is(err, unix.EBUSY) || i == sealRetries {
			return err
		}
		time.Sleep(wait)
		wait *= 2
	}
}

// copyToDir writes src to dir/<name>.<pid>, read-only and executable by
// root alone, in a directory only root may enter, and removes the copies
// earlier daemons made: processes still running from one keep its inode,
// and an infra starts its containers' init from /proc/self/exe, which
// names that inode, not the path.
func copyToDir(name string, src io.Reader, dir string) (*Binary, error) {
	// Missing parents get the mode the daemon gives its run directory, in
	// which the API socket's group must be able to reach the socket.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", dir, err)
	}
	dst := filepath.Join(dir, fmt.Sprintf("%s.%d", name, os.Getpid()))
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o500)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", dst, err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy %s to %s: %w", name, dst, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", dst, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, name+".*"))
	if err != nil {
		return nil, fmt.Errorf("list old copies in %s: %w", dir, err)
	}
	for _, o := range old {
		if o != dst {
			if err := os.Remove(o); err != nil {
				return nil, fmt.Errorf("remove old copy: %w", err)
			}
		}
	}
	return &Binary{Path: dst}, nil
}
