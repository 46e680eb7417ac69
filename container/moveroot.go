package container

import "github.com/berth-project/berth/internal/mountinfo"

// mountsToDetach picks, from the init's copy of the host's mounts, what
// must go before its rootfs is moved onto / (MoveRoot): every mount hanging
// off the chain of mounts that holds rootfs (the namespace's root, the
// mounts of the state directory's path, the rootfs itself on top), except
// that chain and what is mounted inside the rootfs. A lazy unmount takes a
// mount's whole subtree with it, so the host's /proc, /sys, /dev and the
// other pods' mounts all go, and nothing of the host stays reachable from
// the container's namespace but the chain, which the rootfs covers. The
// mount points are host paths: none lies inside a container's files.
func mountsToDetach(entries []mountinfo.Entry, rootfs string) []string {
	byID := make(map[int]mountinfo.Entry, len(entries))
	top := -1
	for i, e := range entries {
		byID[e.ID] = e
		if e.MountPoint == rootfs {
			top = i
		}
	}
	if top < 0 {
		return nil
	}
	chain := map[int]bool{}
	for id := entries[top].ID; !chain[id]; {
		chain[id] = true
		e, ok := byID[id]
		if !ok {
			break
		}
		id = e.Parent
	}
	var out []string
	for _, e := range entries {
		if chain[e.Parent] && !chain[e.ID] && e.Parent != entries[top].ID {
			out = append(out, e.MountPoint)
		}
	}
	return out
}
