package volumes

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// hostPath types (v1.HostPathType) and what each one expects to find.
const (
	hostPathUnset             = ""
	hostPathDirectoryOrCreate = "DirectoryOrCreate"
	hostPathDirectory         = "Directory"
	hostPathFileOrCreate      = "FileOrCreate"
	hostPathFile              = "File"
	hostPathSocket            = "Socket"
	hostPathCharDevice        = "CharDevice"
	hostPathBlockDevice       = "BlockDevice"
)

// File types as fileTypeOf names them (kubelet's names, in its errors).
const (
	typeDirectory   = "Directory"
	typeFile        = "File"
	typeSocket      = "Socket"
	typeCharDevice  = "CharDevice"
	typeBlockDevice = "BlockDevice"
)

// hostPathCheck is what Prepare does for one hostPath type: create the path
// when missing (as a directory or an empty file), and the file type it
// must then have ("" for no check).
type hostPathCheck struct {
	createDir, createFile bool
	want                  string
}

// hostPathChecks mirrors kubelet's checkType (pkg/volume/hostpath). The
// unset type creates a missing directory: kubelet does not check it, but
// containerd's CRI (and Docker) create the bind source, so pods that rely
// on it keep working.
var hostPathChecks = map[string]hostPathCheck{
	hostPathUnset:             {createDir: true},
	hostPathDirectoryOrCreate: {createDir: true, want: typeDirectory},
	hostPathDirectory:         {want: typeDirectory},
	hostPathFileOrCreate:      {createFile: true, want: typeFile},
	hostPathFile:              {want: typeFile},
	hostPathSocket:            {want: typeSocket},
	hostPathCharDevice:        {want: typeCharDevice},
	hostPathBlockDevice:       {want: typeBlockDevice},
}

// fileTypeOf names the type of a file mode as kubelet's GetFileType does,
// or describes the mode when it is none of the five types.
func fileTypeOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return typeDirectory
	case m.IsRegular():
		return typeFile
	case m&fs.ModeSocket != 0:
		return typeSocket
	case m&fs.ModeCharDevice != 0:
		return typeCharDevice
	case m&fs.ModeDevice != 0:
		return typeBlockDevice
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	}
	return "file of mode " + m.String()
}

// checkHostPathSpec validates a hostPath volume's path and type before any
// file system access: an absolute path with no ".." element (as Kubernetes
// validation requires), and a known type.
func checkHostPathSpec(p, typ string) (hostPathCheck, error) {
	if !path.IsAbs(p) || strings.ContainsRune(p, 0) {
		return hostPathCheck{}, fmt.Errorf("hostPath %q must be an absolute path: %w", p, ErrInvalid)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return hostPathCheck{}, fmt.Errorf("hostPath %q may not contain '..': %w", p, ErrInvalid)
		}
	}
	c, ok := hostPathChecks[typ]
	if !ok {
		return hostPathCheck{}, fmt.Errorf("hostPath %s: type %q is not a hostPath type: %w", p, typ, ErrInvalid)
	}
	return c, nil
}
