package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// maxProfileSize bounds a Localhost profile file.
const maxProfileSize = 1 << 20

// readLocalhost reads profile name inside dir. Symlinks are resolved with
// dir as their root, so none leads out of it.
func readLocalhost(dir, name string) ([]byte, error) {
	if err := CheckLocalhostPath(name); err != nil {
		return nil, err
	}
	h, err := pathrs.OpenInRoot(dir, path.Clean(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNoProfile)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxProfileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxProfileSize)
	}
	return b, nil
}
