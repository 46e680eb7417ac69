package container

import (
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/mountinfo"
)

func TestMountsToDetach(t *testing.T) {
	// The initial ramfs at /, the host's /proc, /sys and a cgroup2 below
	// it, a state directory on its own disk, another pod's rootfs and its
	// /proc, this container's rootfs stacked on a stale mount, and what the
	// init mounted inside it.
	const rootfs = "/var/lib/berth/pods/p/c/rootfs"
	in := `1 0 0:1 / / rw - rootfs rootfs rw
20 1 0:20 / /proc rw - proc proc rw
21 1 0:21 / /sys rw - sysfs sys rw
22 21 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
30 1 8:1 / /var/lib/berth rw - ext4 /dev/vda rw
40 30 0:40 / /var/lib/berth/pods/q/c/rootfs rw - overlay overlay rw
41 40 0:41 / /var/lib/berth/pods/q/c/rootfs/proc rw - proc proc rw
50 30 0:50 / /var/lib/berth/pods/p/c/rootfs rw - overlay overlay rw
51 50 0:51 / /var/lib/berth/pods/p/c/rootfs rw - overlay overlay rw
52 51 0:52 / /var/lib/berth/pods/p/c/rootfs/proc rw - proc proc rw
53 51 8:1 /volumes/data /var/lib/berth/pods/p/c/rootfs/data rw - ext4 /dev/vda rw
`
	entries, err := mountinfo.Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := mountsToDetach(entries, rootfs)
	want := []string{"/proc", "/sys", "/var/lib/berth/pods/q/c/rootfs"}
	if !slices.Equal(got, want) {
		t.Errorf("mountsToDetach() = %q, want %q", got, want)
	}
	if got := mountsToDetach(entries, "/not/mounted"); got != nil {
		t.Errorf("mountsToDetach() of a rootfs not mounted = %q, want none", got)
	}
}
