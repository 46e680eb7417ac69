package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ensureHostPath checks (and for the *OrCreate types creates) the host path
// p of type typ, and reports whether it is something other than a
// directory, so that the mount target is made a file.
//
// Like kubelet it follows symlinks (os.Stat): the host path is chosen by
// whoever wrote the manifest, who is trusted with the host. Like kubelet,
// FileOrCreate creates the file only, not its parent directories.
func ensureHostPath(p, typ string) (isFile bool, err error) {
	check, err := checkHostPathSpec(p, typ)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist) && check.createDir:
		if err := os.MkdirAll(p, 0o755); err != nil {
			return false, fmt.Errorf("create hostPath directory %s: %w", p, err)
		}
		fi, err = os.Stat(p)
	case errors.Is(err, fs.ErrNotExist) && check.createFile:
		f, cerr := os.OpenFile(p, os.O_RDONLY|os.O_CREATE, 0o644)
		if cerr != nil {
			return false, fmt.Errorf("create hostPath file %s: %w", p, cerr)
		}
		f.Close()
		fi, err = os.Stat(p)
	case errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("hostPath %s (type %s) does not exist: %w", p, typ, ErrHostPathType)
	}
	if err != nil {
		return false, fmt.Errorf("stat hostPath %s: %w", p, err)
	}
	if got := fileTypeOf(fi.Mode()); check.want != "" && got != check.want {
		return false, fmt.Errorf("hostPath %s is not a %s, it is a %s: %w", p, check.want, got, ErrHostPathType)
	}
	return !fi.IsDir(), nil
}
