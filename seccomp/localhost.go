package seccomp

import (
	"errors"
	"fmt"
	"strings"
)

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
