package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// hugetlbForCrun lets crun run on a hybrid cgroup host: crun 1.8 refuses
// one whose cgroup2 mount holds a controller (here hugetlb, which no v1
// hierarchy claimed). It mounts a v1 hierarchy for that controller, which
// takes it off the cgroup2 mount while mounted, and returns how to undo
// that: the cgroups podman left in it removed, then unmounted, the
// controller goes back to the cgroup2 mount. On any other host it changes
// nothing.
func hugetlbForCrun(root string) (func(), error) {
	ctrls, err := os.ReadFile(filepath.Join(root, "unified", "cgroup.controllers"))
	if err != nil || !hybridHolds(string(ctrls), "hugetlb") {
		return func() {}, nil
	}
	dir := filepath.Join(root, "hugetlb")
	_, statErr := os.Stat(dir)
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return nil, fmt.Errorf("crun on a hybrid host: create %s: %w", dir, err)
	}
	undoDir := func() {
		if os.IsNotExist(statErr) {
			os.Remove(dir)
		}
	}
	if err := unix.Mount("cgroup", dir, "cgroup", 0, "hugetlb"); err != nil {
		undoDir()
		return nil, fmt.Errorf("crun on a hybrid host: mount the v1 hugetlb hierarchy on %s: %w (use -podman-runtime runc)", dir, err)
	}
	return func() {
		// Removed cgroups go offline asynchronously: unmounted before they
		// did, the hierarchy lives on unseen and the controller never
		// returns. Mounting again reattaches that hierarchy; retry until
		// the controller is back on the cgroup2 mount.
		for deadline := time.Now().Add(10 * time.Second); ; {
			removeEmptyCgroups(dir)
			unix.Unmount(dir, 0)
			ctrls, _ := os.ReadFile(filepath.Join(root, "unified", "cgroup.controllers"))
			if hybridHolds(string(ctrls), "hugetlb") || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
			if err := unix.Mount("cgroup", dir, "cgroup", 0, "hugetlb"); err != nil {
				break
			}
		}
		undoDir()
	}, nil
}

// removeEmptyCgroups removes the cgroups below root, deepest first (podman
// leaves its conmon cgroups behind). The hierarchy was mounted for this
// run, so all of them are the run's; while any is left, unmounting keeps
// the hierarchy alive. A cgroup that still has processes stays (EBUSY).
func removeEmptyCgroups(root string) {
	var dirs []string
	filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() && path != root {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}

// hybridHolds reports whether a cgroup.controllers text lists ctrl.
func hybridHolds(controllers, ctrl string) bool {
	for _, c := range strings.Fields(controllers) {
		if c == ctrl {
			return true
		}
	}
	return false
}
