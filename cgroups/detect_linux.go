package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoCgroups is returned when no cgroup filesystem is mounted at the root.
var ErrNoCgroups = errors.New("no cgroup filesystem found")

// ErrControllerMissing is returned (wrapped, one per controller) by Check and
// by Ensure* when a limit needs a controller the host does not provide.
var ErrControllerMissing = errors.New("cgroup controller missing")

// Detect tells how cgroups are mounted at mountRoot (normally /sys/fs/cgroup).
// It does not use cgroups.Mode from containerd/cgroups, which only looks at
// /sys/fs/cgroup and caches its answer for the whole process.
func Detect(mountRoot string) (Mode, error) {
	if fsType(mountRoot) == unix.CGROUP2_SUPER_MAGIC {
		return V2, nil
	}
	v1 := false
	for _, c := range Controllers {
		v1 = v1 || fsType(filepath.Join(mountRoot, c)) == unix.CGROUP_SUPER_MAGIC
	}
	switch {
	case v1 && fsType(filepath.Join(mountRoot, "unified")) == unix.CGROUP2_SUPER_MAGIC:
		return Hybrid, nil
	case v1:
		return V1, nil
	}
	return 0, fmt.Errorf("detect cgroups at %s: %w", mountRoot, ErrNoCgroups)
}

// fsType returns the filesystem magic of path, or 0 when it cannot be read.
func fsType(path string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0
	}
	return int64(st.Type)
}

// probe finds the hierarchies berth can use: on V2 the controllers the
// parent's parent can hand down (its cgroup.controllers), on V1 and Hybrid
// the controllers that have a v1 hierarchy of their own, the devices
// hierarchy when it is mounted, and the cpuacct one when it is mounted
// apart from cpu.
func probe(mode Mode, root, parent string) (hierarchies map[string]string, usable []string, err error) {
	if mode == V2 {
		avail, err := v2Available(root, parent)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range Controllers {
			if slices.Contains(avail, c) {
				usable = append(usable, c)
			}
		}
		return map[string]string{"": root}, usable, nil
	}
	hierarchies = make(map[string]string)
	for _, c := range Controllers {
		dir := filepath.Join(root, c)
		if fsType(dir) == unix.CGROUP_SUPER_MAGIC {
			hierarchies[c] = dir
			usable = append(usable, c)
		}
	}
	if dir := filepath.Join(root, Devices); fsType(dir) == unix.CGROUP_SUPER_MAGIC {
		hierarchies[Devices] = dir
	}
	if dir := filepath.Join(root, CPUAcct); fsType(dir) == unix.CGROUP_SUPER_MAGIC && !sameDir(dir, hierarchies[CPU]) {
		hierarchies[CPUAcct] = dir
	}
	return hierarchies, usable, nil
}

// sameDir reports whether a and b are the same directory (a comounted
// hierarchy reached through two names).
func sameDir(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// v2Available reads cgroup.controllers of the nearest existing ancestor of
// the parent cgroup: those are the controllers berth can enable below it.
func v2Available(root, parent string) ([]string, error) {
	dir := filepath.Dir(filepath.Join(root, parent))
	for {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err == nil {
			return strings.Fields(string(data)), nil
		}
		if !errors.Is(err, os.ErrNotExist) || dir == root || len(dir) <= len(root) {
			return nil, fmt.Errorf("read available controllers of %s: %w", dir, err)
		}
		dir = filepath.Dir(dir)
	}
}

// missingReason explains, with a fix, why controller c is not usable.
func missingReason(mode Mode, root, parent, c string) string {
	switch mode {
	case V2:
		above := filepath.Dir(filepath.Join(root, parent))
		return fmt.Sprintf("controller %s not enabled in %s/cgroup.subtree_control "+
			"(not listed in %s/cgroup.controllers): enable it there, or run berth "+
			"with Delegate=yes, or choose a parent cgroup that has it",
			c, filepath.Dir(above), above)
	case Hybrid:
		if data, err := os.ReadFile(filepath.Join(root, "unified", "cgroup.controllers")); err == nil &&
			slices.Contains(strings.Fields(string(data)), c) {
			return fmt.Sprintf("controller %s is bound to the cgroup2 hierarchy at %s/unified, "+
				"but berth uses v1 hierarchies on hybrid hosts: mount it as v1 at %s/%s, "+
				"or boot with systemd.unified_cgroup_hierarchy=1 for a pure v2 host",
				c, root, root, c)
		}
	}
	return fmt.Sprintf("controller %s has no v1 hierarchy at %s/%s: mount it "+
		"(mount -t cgroup -o %s cgroup %s/%s) or enable it in the kernel (cgroup_enable=%s)",
		c, root, c, c, root, c, c)
}
