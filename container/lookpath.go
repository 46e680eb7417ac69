package container

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// defaultPath is used when the container's environment has no PATH, as
// Docker does.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds file the way execvp does, but with the container's PATH
// (from env) rather than the init's own empty environment. isExecutable
// reports whether a candidate is a regular file the caller may execute.
// The error text matches os/exec's, e.g.
// `exec: "nope": executable file not found in $PATH`.
func lookPath(file string, env []string, isExecutable func(string) error) (string, error) {
	if strings.Contains(file, "/") {
		if err := isExecutable(file); err != nil {
			return "", &exec.Error{Name: file, Err: err}
		}
		return file, nil
	}
	for _, dir := range filepath.SplitList(envValue(env, "PATH", defaultPath)) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// envValue returns the last value of name in env, or def when unset.
func envValue(env []string, name, def string) string {
	v, found := def, false
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v, found = val, true
		}
	}
	if !found {
		return def
	}
	return v
}
