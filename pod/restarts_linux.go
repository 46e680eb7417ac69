package pod

import (
	"crypto/sha256"
	"io"
	"os"
	"syscall"
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
// enough; a FIFO swapped in meanwhile is never waited on.
func hashFile(path string, s *fileState) {
	if s.missing || s.size > maxHashedFile {
		return
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
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
