package manifestdir

import (
	"io/fs"
	"syscall"
)

// fileVersion identifies one version of a file's content without reading
// it: a rename over the file changes the inode, a write changes size or
// mtime. For a symlink it describes the target.
type fileVersion struct {
	dev, ino uint64
	size     int64
	mtimeNs  int64
	ctimeNs  int64
}

func versionOf(fi fs.FileInfo) fileVersion {
	v := fileVersion{size: fi.Size(), mtimeNs: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		v.dev, v.ino = st.Dev, st.Ino
		v.ctimeNs = st.Ctim.Nano()
	}
	return v
}
