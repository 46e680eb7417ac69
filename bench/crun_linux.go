package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// hugetlbForCrun lets crun run on a hybrid cgroup host: crun 1.8 refuses
// one whose cgroup2 mount holds a controller (here hugetlb, which no v1
// hierarchy claimed). It mounts a v1 hierarchy for that controller, which
// takes it off the cgroup2 mount while mounted, and returns how to undo
// that (the controller goes back once no cgroup is left below it). On any
// other host it changes nothing.
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
		unix.Unmount(dir, 0)
		undoDir()
	}, nil
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
