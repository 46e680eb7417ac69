package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// TestDeviceAccessEnforced checks, on the host's cgroups and on a hybrid
// host's cgroup2 mount too, that a container cgroup lets its processes open
// /dev/null but neither open a terminal device (tty0, 4:0) nor create a
// block device node, and that a privileged container's cgroup lets it open
// tty0. The nodes are made by the test in a directory of its own (the
// checks are by device number, not by path).
func TestDeviceAccessEnforced(t *testing.T) {
	dir := t.TempDir()
	null, tty0 := filepath.Join(dir, "null"), filepath.Join(dir, "tty0")
	for _, n := range []struct {
		path         string
		major, minor uint32
	}{{null, 1, 3}, {tty0, 4, 0}} {
		if err := unix.Mknod(n.path, unix.S_IFCHR|0o600, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Skipf("cannot make device nodes here: %v", err)
		}
	}
	for _, root := range roots(t) {
		t.Run(root, func(t *testing.T) {
			m := newTestManager(t, root)
			pod := "default_devices"
			if err := m.EnsurePod(pod, Resources{}); err != nil {
				t.Fatal(err)
			}
			app, err := m.EnsureContainer(pod, "app", Resources{Devices: DevicesDefault})
			if err != nil {
				t.Fatal(err)
			}
			// A re-ensure (as `berth exec` does) keeps one program on v2.
			if _, err := m.EnsureContainer(pod, "app", Resources{Devices: DevicesDefault}); err != nil {
				t.Fatal(err)
			}
			privileged, err := m.EnsureContainer(pod, "priv", Resources{Devices: DevicesAll})
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				name, mode, path string
				p                Placement
				want             int
			}{
				{"open null", "open", null, app, 0},
				{"open tty0", "open", tty0, app, exitEPERM},
				{"mknod block", "mknod", "", app, exitEPERM},
				{"privileged open tty0", "open", tty0, privileged, 0},
				{"privileged mknod block", "mknod", "", privileged, 0},
			} {
				t.Run(tt.name, func(t *testing.T) {
					if tt.mode == "mknod" {
						tt.path = filepath.Join(t.TempDir(), "loop0")
					}
					t.Setenv(pathEnv, tt.path)
					if got := exitCode(t, startHelper(t, tt.mode, tt.p).wait(t, 10*time.Second)); got != tt.want {
						t.Errorf("%s %s: exit %d, want %d", tt.mode, tt.path, got, tt.want)
					}
				})
			}
			if m.Mode() == V2 {
				if n := devicePrograms(t, app.Dir); n != 1 {
					t.Errorf("%d device programs on %s, want 1", n, app.Dir)
				}
				if n := devicePrograms(t, privileged.Dir); n != 0 {
					t.Errorf("%d device programs on %s, want none", n, privileged.Dir)
				}
			}
		})
	}
}

// TestDevicesNeedV1Hierarchy checks that a v1 host without a devices
// hierarchy refuses a restricted container instead of running it with
// every device.
func TestDevicesNeedV1Hierarchy(t *testing.T) {
	m := &Manager{mode: V1, root: DefaultRoot, l: layout{mode: V1, parent: "berth", hierarchies: map[string]string{}}}
	if err := m.ensure(Resources{Devices: DevicesDefault}, true, "pod", "app"); !errors.Is(err, ErrControllerMissing) {
		t.Fatalf("ensure without a devices hierarchy: %v, want %v", err, ErrControllerMissing)
	}
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("helper: %v", err)
	}
	return ee.ExitCode()
}

// devicePrograms counts the device programs attached to a v2 cgroup.
func devicePrograms(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Programs)
}

func TestDeviceSpecs(t *testing.T) {
	got := deviceSpecs(DevicesDefault.Access())
	if len(got) != len(DefaultDevices)+1 {
		t.Fatalf("%d specs, want %d", len(got), len(DefaultDevices)+1)
	}
	if first := got[0]; first.Allow || first.Type != "a" || *first.Major != -1 || *first.Minor != -1 || first.Access != "rwm" {
		t.Errorf("first spec %+v, want deny a *:* rwm", first)
	}
	for i, r := range DefaultDevices {
		s := got[i+1]
		if !s.Allow || s.Type != string(r.Type) || *s.Major != r.Major || *s.Minor != r.Minor || s.Access != r.Access {
			t.Errorf("spec %d = %+v, want allow %s", i+1, s, r)
		}
	}
}
