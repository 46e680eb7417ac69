package main

import (
	"strings"

	"github.com/berth-project/berth/internal/mountinfo"
)

// inCgroup reports whether a /proc/PID/cgroup file (one
// "id:controllers:path" line per hierarchy) puts the process at or below
// the cgroup parent in any hierarchy.
func inCgroup(procCgroup, parent string) bool {
	for line := range strings.Lines(procCgroup) {
		_, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		_, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		for _, part := range strings.Split(path, "/") {
			if part == parent {
				return true
			}
		}
	}
	return false
}

// mountsUnder returns the mount points of a mountinfo listing that are dir
// or below it, and the entries whose source or root names dir (a bind of
// something under it elsewhere). An unreadable listing counts as a leak.
func mountsUnder(listing, dir string) []string {
	entries, err := mountinfo.Parse(strings.NewReader(listing))
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range entries {
		if mountinfo.Under(e.MountPoint, dir) || mountinfo.Under(e.Root, dir) || mountinfo.Under(e.Source, dir) {
			out = append(out, e.MountPoint)
		}
	}
	return out
}
