package main

import (
	"slices"
	"testing"
)

func TestInCgroup(t *testing.T) {
	cases := []struct {
		name, file string
		want       bool
	}{
		{"v1 pod leaf", "12:pids:/berth-chaos-ab/default_p/_infra\n11:memory:/berth-chaos-ab/default_p/_infra\n0::/\n", true},
		{"v2 container", "0::/berth-chaos-ab/default_p/main\n", true},
		{"the parent itself", "3:cpu,cpuacct:/berth-chaos-ab\n", true},
		{"under a service", "0::/system.slice/berth-chaos-ab/default_p/main\n", true},
		{"other run", "12:pids:/berth-chaos-ab1/default_p/_infra\n0::/berth-chaos-a\n", false},
		{"host", "12:pids:/user.slice\n1:name=systemd:/init.scope\n0::/init.scope\n", false},
		{"garbage", "no colons here\n", false},
	}
	for _, tc := range cases {
		if got := inCgroup(tc.file, "berth-chaos-ab"); got != tc.want {
			t.Errorf("%s: inCgroup = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMountsUnder(t *testing.T) {
	mi := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
100 22 0:50 / /tmp/berth-chaos-1/s/pods/default_p/containers/main/rootfs rw - overlay overlay rw,lowerdir=/x
101 22 0:51 / /tmp/berth-chaos-1/s/pods/default_p/volumes/with\040space rw - tmpfs tmpfs rw
102 22 8:1 /tmp/berth-chaos-1/s/etc /elsewhere ro - ext4 /dev/sda1 rw
103 22 0:52 / /tmp/berth-chaos-10 rw - tmpfs tmpfs rw
104 22 0:53 / /tmp/berth-chaos-1 rw - tmpfs tmpfs rw
`
	got := mountsUnder(mi, "/tmp/berth-chaos-1")
	want := []string{
		"/tmp/berth-chaos-1/s/pods/default_p/containers/main/rootfs",
		"/tmp/berth-chaos-1/s/pods/default_p/volumes/with space",
		"/elsewhere",
		"/tmp/berth-chaos-1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("mountsUnder = %q\nwant %q", got, want)
	}
}
