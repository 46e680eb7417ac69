// Package hostclean removes what a throw-away berth daemon (an end-to-end
// test's or a benchmark's) made on the host besides its pods: its bridge,
// its nftables table, its cgroup parent, and its directories with anything
// still mounted below them. A real daemon keeps these across restarts.
package hostclean

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/volumes"
)

// Daemon names what one daemon owned.
type Daemon struct {
	Dir          string // the daemon's private root of manifests, state, run and log dirs
	Bridge       string
	Table        string // nftables table (family ip)
	CgroupParent string
}

// Remove deletes everything d names; what is already gone is skipped.
func Remove(d Daemon) {
	if d.Bridge != "" {
		if l, err := netlink.LinkByName(d.Bridge); err == nil {
			netlink.LinkDel(l)
		}
	}
	if d.Table != "" {
		if c, err := nftables.New(); err == nil {
			c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: d.Table})
			c.Flush()
		}
	}
	if d.CgroupParent != "" {
		RemoveCgroupTree(d.CgroupParent)
	}
	if d.Dir != "" {
		// volumes.Cleanup unmounts everything below, deepest first, then
		// removes the directory.
		volumes.Cleanup(d.Dir)
		os.RemoveAll(d.Dir)
	}
}

// CgroupDirs lists the directories of a cgroup under the root that exist,
// in every hierarchy: at most one on cgroup v2, one per v1 controller
// otherwise.
func CgroupDirs(cgroup string) []string {
	roots := []string{"/sys/fs/cgroup"}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		roots, _ = filepath.Glob("/sys/fs/cgroup/*")
	}
	var out []string
	for _, r := range roots {
		p := filepath.Join(r, cgroup)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// RemoveCgroupTree removes a cgroup and its descendants, deepest first, in
// every hierarchy. Cgroups that still hold processes stay.
func RemoveCgroupTree(cgroup string) {
	for _, dir := range CgroupDirs(cgroup) {
		var dirs []string
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			syscall.Rmdir(dirs[i])
		}
	}
}
