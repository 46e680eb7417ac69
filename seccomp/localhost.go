package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// maxProfileSize bounds a Localhost profile file.
const maxProfileSize = 1 << 20

// CheckLocalhostPath refuses a Localhost profile name that could leave the
// profile directory (CVE-2023-2431): empty, absolute, or with a ".."
// component.
func CheckLocalhostPath(name string) error {
	switch {
	case name == "":
		return errors.New("the profile path is empty")
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%q is absolute: give a path relative to the profile directory", name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%q contains a NUL byte", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return fmt.Errorf("%q has a \"..\" component: give a path inside the profile directory", name)
		}
	}
	return nil
}

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
