package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/internal/testutil"
)

// The host devices whose numbers the test plants: a virtual console and a
// loop device. Nothing is ever read from or written to them; the test only
// checks that opening them fails.
var plantedDevices = []struct {
	name         string
	mode         uint32
	major, minor uint32
}{
	{"tty0", unix.S_IFCHR, 4, 0},
	{"disk", unix.S_IFBLK, 7, 0},
}

// mknodAll makes the planted device nodes, mode 0666, in dir.
func mknodAll(t *testing.T, dir string) {
	t.Helper()
	for _, n := range plantedDevices {
		p := filepath.Join(dir, n.name)
		if err := unix.Mknod(p, n.mode|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

// nodeStates describes the device nodes at paths (type, numbers, mode,
// owner), to show they are unchanged after the pods ran.
func nodeStates(t *testing.T, paths []string) map[string]unix.Stat_t {
	t.Helper()
	out := map[string]unix.Stat_t{}
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue
		}
		st.Atim, st.Mtim, st.Ctim = unix.Timespec{}, unix.Timespec{}, unix.Timespec{}
		out[p] = st
	}
	return out
}

// TestDeviceNodesUnusable plants device nodes with the numbers of the
// host's tty0 and of a loop device in an image and in a hostPath volume,
// and checks that no container can use them or make its own: an
// unprivileged user finds the image's nodes gone (unpacked as whiteouts)
// and the volume's refused (nodev); container root cannot create device
// nodes outside the default list, neither from its init process nor from
// `berth exec` (device cgroup); /dev/null and /dev/zero work; a privileged
// container still may.
func TestDeviceNodesUnusable(t *testing.T) {
	d := startDaemon(t)
	root := testutil.WorkloadRootfs(t)
	mknodAll(t, root)
	s, err := images.Open(filepath.Join(d.state, "images"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportRootfs(root, "berth.test/devices:latest"); err != nil {
		t.Fatal(err)
	}
	hostDev := filepath.Join(d.dir, "hostdev")
	if err := os.Mkdir(hostDev, 0o755); err != nil {
		t.Fatal(err)
	}
	mknodAll(t, hostDev)
	watched := []string{"/dev/tty0", "/dev/loop0", "/dev/disk", filepath.Join(hostDev, "tty0"), filepath.Join(hostDev, "disk")}
	before := nodeStates(t, watched)

	d.apply("devuser.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: devuser
spec:
  volumes: [{name: hostdev, hostPath: {path: `+hostDev+`, type: Directory}}]
  containers:
  - name: main
    image: berth.test/devices:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: hostdev, mountPath: /hostdev}]
    securityContext:
      runAsUser: 1000
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
`)
	d.apply("devroot.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: devroot
spec:
  volumes: [{name: hostdev, hostPath: {path: `+hostDev+`, type: Directory}}]
  containers:
  - name: main
    image: berth.test/devices:latest
    command: ["/bin/demo", "sleep"]
    volumeMounts: [{name: hostdev, mountPath: /hostdev}]
`)
	d.apply("devpriv.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: devpriv
spec:
  containers:
  - name: main
    image: berth.test/devices:latest
    command: ["/bin/demo", "sleep"]
    securityContext: {privileged: true}
`)
	p := filepath.Join(d.dir, "devinit.yaml")
	if err := os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: devinit
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: berth.test/devices:latest
    command: ["/bin/demo", "mknod", "/dev/disk", "b", "7", "0"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	d.mustBerth("apply", "-f", p, "--wait=false")

	for _, tt := range []struct {
		pod  string
		args []string
		want string
	}{
		{"devuser", []string{"open", "/tty0", "rw"}, "no such file or directory"},
		{"devuser", []string{"open", "/disk"}, "no such file or directory"},
		{"devuser", []string{"open", "/hostdev/tty0", "rw"}, "permission denied"},
		{"devuser", []string{"open", "/hostdev/disk"}, "permission denied"},
		{"devuser", []string{"open", "/dev/null", "rw"}, "opened /dev/null"},
		{"devuser", []string{"open", "/dev/zero"}, "opened /dev/zero"},
		{"devroot", []string{"mknod", "/dev/disk", "b", "7", "0"}, "operation not permitted"},
		{"devroot", []string{"mknod", "/tmp/tty0", "c", "4", "0"}, "operation not permitted"},
		{"devroot", []string{"open", "/hostdev/tty0"}, "permission denied"},
		{"devroot", []string{"open", "/hostdev/disk", "rw"}, "permission denied"},
		{"devroot", []string{"mknod", "/dev/null2", "c", "1", "3"}, "created /dev/null2"},
		{"devroot", []string{"open", "/dev/null2", "rw"}, "opened /dev/null2"},
		// Privileged: every device, as today (in the rootfs, not the host's /dev).
		{"devpriv", []string{"mknod", "/tmp/disk", "b", "7", "0"}, "created /tmp/disk"},
	} {
		out, _ := d.berth(append([]string{"exec", tt.pod, "--", "/bin/demo"}, tt.args...)...)
		if !strings.Contains(out, tt.want) {
			t.Errorf("%s: demo %s: %q, want %q", tt.pod, strings.Join(tt.args, " "), strings.TrimSpace(out), tt.want)
		}
	}

	testutil.WaitFor(t, 30*time.Second, "the devinit container to end", func() bool {
		cs := d.pod("devinit").Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Terminated != nil
	})
	if term := d.pod("devinit").Status.ContainerStatuses[0].State.Terminated; term.ExitCode != 2 {
		t.Errorf("devinit's mknod of a block device: exit code %d, want 2", term.ExitCode)
	}
	if out := d.mustBerth("logs", "devinit"); !strings.Contains(out, "operation not permitted") {
		t.Errorf("devinit log %q, want operation not permitted", out)
	}

	if after := nodeStates(t, watched); !maps.Equal(before, after) {
		t.Errorf("device nodes changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
