package main

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// readDaemonUse reads a process's open fds (by kind), threads and memory.
func readDaemonUse(pid int) (daemonUse, error) {
	u := daemonUse{FDKinds: map[string]int{}}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return u, fmt.Errorf("daemon fds: %w", err)
	}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		u.FDs++
		u.FDKinds[fdKind(link)]++
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	if u.Threads, err = parseThreads(string(status)); err != nil {
		return u, err
	}
	m, err := readMem(pid)
	if err != nil {
		return u, err
	}
	u.RSS, u.PSS = m.RSS, m.PSS
	return u, nil
}

// hostCounts are the host objects a daemon's pods hold.
type hostCounts struct {
	NftRules          int
	CgroupDirs        int
	CgroupByHierarchy map[string]int
	Leases            int
}

// hostObjects counts the rules in the daemon's own nftables table, the
// cgroup directories below its cgroup parent in every hierarchy, and its
// IP leases (one file per address in its network state).
func (d *berthDaemon) hostObjects() (hostCounts, error) {
	h := hostCounts{CgroupByHierarchy: map[string]int{}}
	c, err := nftables.New()
	if err != nil {
		return h, fmt.Errorf("nftables: %w", err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return h, fmt.Errorf("list nftables chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name != d.table {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return h, fmt.Errorf("list rules of chain %s: %w", ch.Name, err)
		}
		h.NftRules += len(rules)
	}
	roots, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", d.cgroupParent))
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", d.cgroupParent)); err == nil {
		roots = append(roots, filepath.Join("/sys/fs/cgroup", d.cgroupParent))
	}
	for _, root := range roots {
		n := 0
		filepath.WalkDir(root, func(_ string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				n++
			}
			return nil
		})
		h.CgroupByHierarchy[filepath.Base(filepath.Dir(root))] = n
		h.CgroupDirs += n
	}
	ents, err := os.ReadDir(filepath.Join(d.state, "net"))
	if err != nil {
		return h, fmt.Errorf("IP leases: %w", err)
	}
	for _, e := range ents {
		if a, err := netip.ParseAddr(e.Name()); err == nil && a.Is4() {
			h.Leases++
		}
	}
	return h, nil
}

// freeCIDR picks a pod range for up to pods pods that overlaps no route
// of the host (other daemons' bridges, the host's own networks).
func freeCIDR(pods int, random func() (byte, byte)) (netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list routes: %w", err)
	}
	var used []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		// A default route (0.0.0.0/0) overlaps everything: not a network.
		if p, err := netip.ParsePrefix(r.Dst.String()); err == nil && p.Bits() > 0 {
			used = append(used, p)
		}
	}
	for range 100 {
		a, b := random()
		p := scaleCIDR(pods, a, b)
		if !overlapsAny(p, used) {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /%d range for %d pods in 10.150.0.0/16 to 10.189.0.0/16", scaleCIDR(pods, 0, 0).Bits(), pods)
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}
