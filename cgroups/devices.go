package cgroups

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// AnyNumber is a device rule's major or minor that matches every number
// ("*" in the kernel's syntax).
const AnyNumber = -1

// DeviceRule names device nodes by type, major and minor and what may be
// done with them: open for reading (r), open for writing (w), create with
// mknod (m).
type DeviceRule struct {
	// Type is 'c' (character) or 'b' (block).
	Type byte
	// Major and Minor are the device numbers, or AnyNumber.
	Major, Minor int64
	// Access is a subset of "rwm".
	Access string
}

// String is the rule in the kernel's syntax, as devices.allow takes it and
// devices.list shows it: "c 1:3 rwm", "c 136:* rwm".
func (r DeviceRule) String() string {
	return fmt.Sprintf("%c %s:%s %s", r.Type, deviceNumber(r.Major), deviceNumber(r.Minor), r.Access)
}

func deviceNumber(n int64) string {
	if n == AnyNumber {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

// DeviceAccess is what the processes of one cgroup may do with device
// nodes, wherever the nodes are: everything (AllowAll), or only what
// Allowed lists, everything else denied. The kernel checks it at open(2)
// and mknod(2) of a device node; a file descriptor opened before stays
// usable.
type DeviceAccess struct {
	AllowAll bool
	Allowed  []DeviceRule
}

// DefaultDevices are the devices a container that is not privileged may
// open and create: containerd's default for every container it runs, and
// so what Kubernetes pods get from its CRI. runc's and Docker's default
// has the same devices without console, plus "c *:* m" and "b *:* m",
// which let container root create any device node it can then never
// open. berth follows containerd: nodes outside this list can be neither
// created nor opened, so a program that probes with mknod(2) sees EPERM
// at once rather than a node it cannot use.
var DefaultDevices = []DeviceRule{
	{Type: 'c', Major: 1, Minor: 3, Access: "rwm"},           // /dev/null
	{Type: 'c', Major: 1, Minor: 5, Access: "rwm"},           // /dev/zero
	{Type: 'c', Major: 1, Minor: 7, Access: "rwm"},           // /dev/full
	{Type: 'c', Major: 1, Minor: 8, Access: "rwm"},           // /dev/random
	{Type: 'c', Major: 1, Minor: 9, Access: "rwm"},           // /dev/urandom
	{Type: 'c', Major: 5, Minor: 0, Access: "rwm"},           // /dev/tty
	{Type: 'c', Major: 5, Minor: 1, Access: "rwm"},           // /dev/console
	{Type: 'c', Major: 5, Minor: 2, Access: "rwm"},           // /dev/ptmx
	{Type: 'c', Major: 136, Minor: AnyNumber, Access: "rwm"}, // /dev/pts/*
}

// DevicePolicy chooses the device access of a cgroup.
type DevicePolicy int

// The device policies.
const (
	// DevicesInherited leaves the cgroup as its parent is: pod cgroups,
	// which hold no process.
	DevicesInherited DevicePolicy = iota
	// DevicesDefault allows DefaultDevices only.
	DevicesDefault
	// DevicesAll allows every device: privileged containers, which also
	// see the host's /dev, as the kubelet asks of its runtime.
	DevicesAll
)

// ContainerDevices is the policy of a container.
func ContainerDevices(privileged bool) DevicePolicy {
	if privileged {
		return DevicesAll
	}
	return DevicesDefault
}

// Access is the device access p gives; DevicesInherited gives none of its
// own and is never applied.
func (p DevicePolicy) Access() DeviceAccess {
	if p == DevicesAll {
		return DeviceAccess{AllowAll: true}
	}
	return DeviceAccess{Allowed: DefaultDevices}
}

// deviceWrite is one write to a v1 devices cgroup: the file and the line.
type deviceWrite struct {
	file, line string
}

// v1Writes are the writes that give a fresh v1 devices cgroup access a:
// "a" to devices.allow, or "a" to devices.deny (which empties the list)
// followed by each allowed rule to devices.allow.
func (a DeviceAccess) v1Writes() []deviceWrite {
	if a.AllowAll {
		return []deviceWrite{{"devices.allow", "a"}}
	}
	out := []deviceWrite{{"devices.deny", "a"}}
	for _, r := range a.Allowed {
		out = append(out, deviceWrite{"devices.allow", r.String()})
	}
	return out
}

// v1Shows reports whether list, the text of a devices.list file, shows
// that a holds: "a *:* rwm" alone for all, otherwise exactly one line per
// allowed rule, in any order.
func (a DeviceAccess) v1Shows(list string) bool {
	want := []string{"a *:* rwm"}
	if !a.AllowAll {
		want = want[:0]
		for _, r := range a.Allowed {
			want = append(want, r.String())
		}
	}
	var have []string
	for _, l := range strings.Split(list, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			have = append(have, l)
		}
	}
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(have, want)
}
