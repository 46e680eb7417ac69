package pod

import (
	"crypto/sha256"
	"io"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// statFile reads what tells a change of path's content; a path that is
// not a regular file is missing.
func statFile(path string) fileState {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return fileState{missing: true}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileState{missing: true}
	}
	return fileState{dev: uint64(st.Dev), ino: st.Ino, size: uint64(st.Size),
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
}

// hashFile adds the digest of the file's content, when it is small
// enough. A container that can write the file's directory may swap in a
// link to a device or a FIFO: the path is opened with O_PATH, which opens
// nothing, and read only when that is the regular file statFile saw.
func hashFile(path string, s *fileState) {
	if s.missing || s.size > maxHashedFile {
		return
	}
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || uint64(st.Dev) != s.dev || st.Ino != s.ino {
		return
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(pfd), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxHashedFile)); err != nil {
		return
	}
	copy(s.sum[:], h.Sum(nil))
	s.hashed = true
}
