package container

import (
	"fmt"
	"slices"
	"strings"
)

// capNumbers are the Linux capability numbers (linux/capability.h).
var capNumbers = map[string]int{
	"CAP_CHOWN":              0,
	"CAP_DAC_OVERRIDE":       1,
	"CAP_DAC_READ_SEARCH":    2,
	"CAP_FOWNER":             3,
	"CAP_FSETID":             4,
	"CAP_KILL":               5,
	"CAP_SETGID":             6,
	"CAP_SETUID":             7,
	"CAP_SETPCAP":            8,
	"CAP_LINUX_IMMUTABLE":    9,
	"CAP_NET_BIND_SERVICE":   10,
	"CAP_NET_BROADCAST":      11,
	"CAP_NET_ADMIN":          12,
	"CAP_NET_RAW":            13,
	"CAP_IPC_LOCK":           14,
	"CAP_IPC_OWNER":          15,
	"CAP_SYS_MODULE":         16,
	"CAP_SYS_RAWIO":          17,
	"CAP_SYS_CHROOT":         18,
	"CAP_SYS_PTRACE":         19,
	"CAP_SYS_PACCT":          20,
	"CAP_SYS_ADMIN":          21,
	"CAP_SYS_BOOT":           22,
	"CAP_SYS_NICE":           23,
	"CAP_SYS_RESOURCE":       24,
	"CAP_SYS_TIME":           25,
	"CAP_SYS_TTY_CONFIG":     26,
	"CAP_MKNOD":              27,
	"CAP_LEASE":              28,
	"CAP_AUDIT_WRITE":        29,
	"CAP_AUDIT_CONTROL":      30,
	"CAP_SETFCAP":            31,
	"CAP_MAC_OVERRIDE":       32,
	"CAP_MAC_ADMIN":          33,
	"CAP_SYSLOG":             34,
	"CAP_WAKE_ALARM":         35,
	"CAP_BLOCK_SUSPEND":      36,
	"CAP_AUDIT_READ":         37,
	"CAP_PERFMON":            38,
	"CAP_BPF":                39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// DefaultCapabilities returns Docker's and containerd's default set of 14.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
		"CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
		"CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// AllCapabilities returns every capability berth knows, in number order.
func AllCapabilities() []string {
	all := make([]string, 0, len(capNumbers))
	for name := range capNumbers {
		all = append(all, name)
	}
	sortCaps(all)
	return all
}

// canonicalCap turns "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" into
// "CAP_NET_ADMIN", and fails for names that are not capabilities.
func canonicalCap(name string) (string, error) {
	c := strings.ToUpper(name)
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	if _, ok := capNumbers[c]; !ok {
		return "", fmt.Errorf("unknown capability %q", name)
	}
	return c, nil
}

// ComputeCapabilities applies a securityContext's add and drop lists to
// DefaultCapabilities the way containerd's CRI does: "ALL" in add, then
// "ALL" in drop, then the individual adds, then the individual drops, so
// that add [ALL] drop [CHOWN] is everything but CHOWN and drop [ALL] add
// [NET_BIND_SERVICE] is that one capability. Names may carry the CAP_
// prefix or not. The result is canonical and in number order.
func ComputeCapabilities(add, drop []string) ([]string, error) {
	set := map[string]bool{}
	for _, c := range DefaultCapabilities() {
		set[c] = true
	}
	if containsFold(add, "ALL") {
		for c := range capNumbers {
			set[c] = true
		}
	}
	if containsFold(drop, "ALL") {
		clear(set)
	}
	for _, a := range add {
		if strings.EqualFold(a, "ALL") {
			continue
		}
		c, err := canonicalCap(a)
		if err != nil {
			return nil, fmt.Errorf("capabilities.add: %w", err)
		}
		set[c] = true
	}
	for _, d := range drop {
		if strings.EqualFold(d, "ALL") {
			continue
		}
		c, err := canonicalCap(d)
		if err != nil {
			return nil, fmt.Errorf("capabilities.drop: %w", err)
		}
		delete(set, c)
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sortCaps(out)
	return out, nil
}

// capMask turns capability names into a 64-bit mask, skipping those above
// the running kernel's last capability (an older kernel does not have
// them, and asking for them is no reason to fail).
func capMask(names []string, lastCap int) (uint64, error) {
	var mask uint64
	for _, n := range names {
		c, err := canonicalCap(n)
		if err != nil {
			return 0, err
		}
		if num := capNumbers[c]; num <= lastCap {
			mask |= 1 << num
		}
	}
	return mask, nil
}

func sortCaps(caps []string) {
	slices.SortFunc(caps, func(a, b string) int { return capNumbers[a] - capNumbers[b] })
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}
