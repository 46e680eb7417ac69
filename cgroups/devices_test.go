package cgroups

import (
	"reflect"
	"testing"
)

// allows evaluates access the way the kernel's v1 devices controller and
// the generated v2 program do: allowed only when some rule matches the type,
// both numbers and every requested access.
func allows(a DeviceAccess, typ byte, major, minor int64, access string) bool {
	if a.AllowAll {
		return true
	}
	for _, r := range a.Allowed {
		if r.Type != typ || (r.Major != AnyNumber && r.Major != major) || (r.Minor != AnyNumber && r.Minor != minor) {
			continue
		}
		ok := true
		for _, c := range access {
			ok = ok && containsByte(r.Access, byte(c))
		}
		if ok {
			return true
		}
	}
	return false
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func TestContainerDevices(t *testing.T) {
	for _, tt := range []struct {
		name         string
		privileged   bool
		typ          byte
		major, minor int64
		access       string
		want         bool
	}{
		{"null rw", false, 'c', 1, 3, "rw", true},
		{"zero r", false, 'c', 1, 5, "r", true},
		{"full w", false, 'c', 1, 7, "w", true},
		{"random", false, 'c', 1, 8, "r", true},
		{"urandom", false, 'c', 1, 9, "r", true},
		{"tty", false, 'c', 5, 0, "rw", true},
		{"console", false, 'c', 5, 1, "rw", true},
		{"ptmx", false, 'c', 5, 2, "rw", true},
		{"a pts", false, 'c', 136, 7, "rw", true},
		{"mknod null", false, 'c', 1, 3, "m", true},
		{"mem", false, 'c', 1, 1, "r", false},
		{"kmem", false, 'c', 1, 2, "r", false},
		{"port", false, 'c', 1, 4, "r", false},
		{"kmsg", false, 'c', 1, 11, "r", false},
		{"tty0", false, 'c', 4, 0, "w", false},
		{"ttyS0", false, 'c', 4, 64, "rw", false},
		{"fuse", false, 'c', 10, 229, "rw", false},
		{"tun", false, 'c', 10, 200, "rw", false},
		{"loop0 read", false, 'b', 7, 0, "r", false},
		{"sda write", false, 'b', 8, 0, "w", false},
		{"block with a char's numbers", false, 'b', 1, 3, "rw", false},
		{"mknod block", false, 'b', 7, 0, "m", false},
		{"mknod other char", false, 'c', 4, 0, "m", false},
		{"privileged tty0", true, 'c', 4, 0, "rw", true},
		{"privileged block", true, 'b', 8, 0, "rwm", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := ContainerDevices(tt.privileged).Access()
			if got := allows(a, tt.typ, tt.major, tt.minor, tt.access); got != tt.want {
				t.Errorf("%c %d:%d %s allowed = %v, want %v", tt.typ, tt.major, tt.minor, tt.access, got, tt.want)
			}
		})
	}
}

func TestDeviceRuleString(t *testing.T) {
	for _, tt := range []struct {
		r    DeviceRule
		want string
	}{
		{DeviceRule{Type: 'c', Major: 1, Minor: 3, Access: "rwm"}, "c 1:3 rwm"},
		{DeviceRule{Type: 'c', Major: 136, Minor: AnyNumber, Access: "rwm"}, "c 136:* rwm"},
		{DeviceRule{Type: 'b', Major: AnyNumber, Minor: AnyNumber, Access: "m"}, "b *:* m"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestDeviceV1Writes(t *testing.T) {
	want := []deviceWrite{
		{"devices.deny", "a"},
		{"devices.allow", "c 1:3 rwm"},
		{"devices.allow", "c 1:5 rwm"},
		{"devices.allow", "c 1:7 rwm"},
		{"devices.allow", "c 1:8 rwm"},
		{"devices.allow", "c 1:9 rwm"},
		{"devices.allow", "c 5:0 rwm"},
		{"devices.allow", "c 5:1 rwm"},
		{"devices.allow", "c 5:2 rwm"},
		{"devices.allow", "c 136:* rwm"},
	}
	if got := DevicesDefault.Access().v1Writes(); !reflect.DeepEqual(got, want) {
		t.Errorf("default writes = %v, want %v", got, want)
	}
	if got := DevicesAll.Access().v1Writes(); !reflect.DeepEqual(got, []deviceWrite{{"devices.allow", "a"}}) {
		t.Errorf("privileged writes = %v", got)
	}
}

func TestDeviceV1Shows(t *testing.T) {
	const defaults = "c 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 136:* rwm\n"
	for _, tt := range []struct {
		name       string
		privileged bool
		list       string
		want       bool
	}{
		{"fresh cgroup, default wanted", false, "a *:* rwm\n", false},
		{"fresh cgroup, privileged wanted", true, "a *:* rwm\n", true},
		{"defaults applied", false, defaults, true},
		{"defaults in another order", false, "c 136:* rwm\n" + defaults[:len(defaults)-len("c 136:* rwm\n")], true},
		{"defaults applied, privileged wanted", true, defaults, false},
		{"one rule missing", false, defaults[len("c 1:3 rwm\n"):], false},
		{"one rule too many", false, defaults + "c 4:0 rwm\n", false},
		{"deny all applied, nothing allowed", false, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContainerDevices(tt.privileged).Access().v1Shows(tt.list); got != tt.want {
				t.Errorf("v1Shows(%q) = %v, want %v", tt.list, got, tt.want)
			}
		})
	}
}
