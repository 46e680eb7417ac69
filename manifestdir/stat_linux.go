package manifestdir

import "golang.org/x/sys/unix"

// fileVersion identifies one version of a file's content without reading
// it: a rename over the file changes the inode, a write changes size or
// mtime. For a symlink it describes the target.
type fileVersion struct {
	dev, ino uint64
	size     int64
	mtimeNs  int64
	ctimeNs  int64
}

// statAt stats name in the directory dirfd, following a symlink, and
// returns its version and whether it is a regular file.
func statAt(dirfd int, name string) (fileVersion, bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, 0); err != nil {
		return fileVersion{}, false, err
	}
	v := fileVersion{dev: st.Dev, ino: st.Ino, size: st.Size, mtimeNs: st.Mtim.Nano(), ctimeNs: st.Ctim.Nano()}
	return v, st.Mode&unix.S_IFMT == unix.S_IFREG, nil
}
