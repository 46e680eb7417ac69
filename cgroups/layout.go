package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Mode is the cgroup setup of a host.
type Mode int

// The modes Detect reports.
const (
	// V1 is the legacy layout: one v1 hierarchy per controller.
	V1 Mode = iota + 1
	// Hybrid is V1 plus a cgroup2 mount at <root>/unified; berth uses the v1
	// hierarchies, as runc and systemd do.
	Hybrid
	// V2 is the unified hierarchy mounted at the root.
	V2
)

func (m Mode) String() string {
	switch m {
	case V1:
		return "v1"
	case Hybrid:
		return "hybrid"
	case V2:
		return "v2"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Controller names berth manages.
const (
	CPU    = "cpu"
	Memory = "memory"
	Pids   = "pids"
)

// Controllers are the controllers berth uses, in the order it applies them.
var Controllers = []string{CPU, Memory, Pids}

// Devices is the v1 devices controller. It is not in Controllers: it
// limits no resource, and on v2 an eBPF program attached to the cgroup
// takes its place.
const Devices = "devices"

// CPUAcct is the v1 cpuacct controller, which counts CPU time. Mostly it
// shares the cpu hierarchy (cpu,cpuacct); where it has one of its own,
// berth uses that too, so that a container's CPU time can be read.
const CPUAcct = "cpuacct"

// InfraName is the leaf under a pod cgroup that holds the pod's infra process.
const InfraName = "_infra"

// maxNameLen keeps names well inside NAME_MAX.
const maxNameLen = 200

// ErrInvalidName is returned for pod or container names unfit for a path.
var ErrInvalidName = errors.New("invalid cgroup name")

// ValidateName checks a pod or container name before it becomes a path
// component: 1..200 characters of [A-Za-z0-9._-], starting with a letter or
// digit (so never ".", "..", a hidden name or InfraName), and no "..". The
// callers already pass safe identities; this is defence in depth.
func ValidateName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("name %q: length must be 1..%d: %w", name, maxNameLen, ErrInvalidName)
	}
	if !isAlnum(name[0]) {
		return fmt.Errorf("name %q: must start with a letter or digit: %w", name, ErrInvalidName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("name %q: character %q not allowed: %w", name, c, ErrInvalidName)
		}
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("name %q: contains \"..\": %w", name, ErrInvalidName)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validateParent checks the configured parent: a relative, clean path whose
// components are all valid names.
func validateParent(parent string) error {
	if parent == "" || filepath.IsAbs(parent) || filepath.Clean(parent) != parent {
		return fmt.Errorf("parent %q: must be a clean relative path: %w", parent, ErrInvalidName)
	}
	for _, part := range strings.Split(parent, "/") {
		if err := ValidateName(part); err != nil {
			return fmt.Errorf("parent %q: %w", parent, err)
		}
	}
	return nil
}

// layout maps pods and containers to directories. hierarchies holds the
// directory of each hierarchy berth uses: on V2 the unified mount alone (key
// ""), on V1 and Hybrid one per available controller, devices included.
type layout struct {
	mode        Mode
	parent      string
	hierarchies map[string]string
}

// keys returns the hierarchy keys in a fixed order.
func (l layout) keys() []string {
	if l.mode == V2 {
		return []string{""}
	}
	var ks []string
	for _, c := range append(slices.Clone(Controllers), Devices, CPUAcct) {
		if _, ok := l.hierarchies[c]; ok {
			ks = append(ks, c)
		}
	}
	return ks
}

// dirs returns the directory of the cgroup at rel (relative to the parent)
// in every hierarchy, in keys order.
func (l layout) dirs(rel ...string) []string {
	var out []string
	for _, k := range l.keys() {
		out = append(out, l.dir(k, rel...))
	}
	return out
}

// dir returns the directory of the cgroup at rel in the hierarchy with key
// k, or "" when there is no such hierarchy.
func (l layout) dir(k string, rel ...string) string {
	h, ok := l.hierarchies[k]
	if !ok {
		return ""
	}
	return filepath.Join(append([]string{h, l.parent}, rel...)...)
}

// absent reports whether the cgroup at rel is in no hierarchy yet. A
// directory that cannot be looked up counts as present.
func (l layout) absent(rel ...string) bool {
	for _, d := range l.dirs(rel...) {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// procsFiles returns the cgroup.procs file of the cgroup at rel in every
// hierarchy.
func (l layout) procsFiles(rel ...string) []string {
	dirs := l.dirs(rel...)
	for i, d := range dirs {
		dirs[i] = filepath.Join(d, "cgroup.procs")
	}
	return dirs
}

// cgroupPath is the path of the cgroup at rel as /proc/PID/cgroup shows it
// (relative to the hierarchy root).
func (l layout) cgroupPath(rel ...string) string {
	return "/" + filepath.Join(append([]string{l.parent}, rel...)...)
}

// memoryDir returns the directory that holds the memory files of the cgroup
// at rel, or "" when no hierarchy has the memory controller.
func (l layout) memoryDir(rel ...string) string {
	if l.mode == V2 {
		return l.dir("", rel...)
	}
	return l.dir(Memory, rel...)
}

// devicesDir returns the v1 devices cgroup directory at rel, or "" when
// there is none (v2, or no v1 devices hierarchy).
func (l layout) devicesDir(rel ...string) string {
	if l.mode == V2 {
		return ""
	}
	return l.dir(Devices, rel...)
}
