package hostcheck

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/internal/testutil"
)

func randName(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "hostcheck-" + hex.EncodeToString(b)
}

// hostManager is a cgroups.Manager on the host's cgroups (it only reads).
func hostManager(t *testing.T) *cgroups.Manager {
	cg, err := cgroups.New(cgroups.Options{Parent: randName(t)})
	if err != nil {
		t.Skipf("no cgroups on this host: %v", err)
	}
	return cg
}

// TestGatherNoOverlay provokes the overlay check with a /proc/filesystems
// that lacks overlay and a modules directory without the module.
func TestGatherNoOverlay(t *testing.T) {
	dir := t.TempDir()
	fsFile := filepath.Join(dir, "filesystems")
	if err := os.WriteFile(fsFile, []byte("nodev\tsysfs\nnodev\ttmpfs\n\text4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := func() error { return nil }
	r := Evaluate(Gather(Sources{Filesystems: fsFile, Modules: dir, NFTables: ok}, hostManager(t)))
	if !errors.Is(r.Err(), ErrNoOverlay) {
		t.Fatalf("Err() = %v, want ErrNoOverlay", r.Err())
	}
	t.Logf("as the daemon reports it:\n%v", r.Err())

	// The same host with overlay.ko installed: the kernel loads it on mount.
	mods := filepath.Join(dir, "6.1.0-test")
	if err := os.MkdirAll(mods, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mods, "modules.dep"), []byte("kernel/fs/overlayfs/overlay.ko:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := Gather(Sources{Filesystems: fsFile, Modules: dir, Release: "6.1.0-test", NFTables: ok}, hostManager(t))
	if !f.OverlayModule {
		t.Errorf("overlay.ko in modules.dep not seen: %+v", f)
	}
}

// TestGatherOldKernelAndNFTables provokes the kernel and nf_tables checks
// through the sources Gather reads them from.
func TestGatherOldKernelAndNFTables(t *testing.T) {
	cg := hostManager(t)
	noNFT := func() error { return unix.EPROTONOSUPPORT }
	r := Evaluate(Gather(Sources{Release: "4.19.0-27-amd64", NFTables: noNFT}, cg))
	for _, want := range []error{ErrKernelTooOld, ErrNoNFTables} {
		if !errors.Is(r.Err(), want) {
			t.Errorf("Err() = %v, want it to wrap %v", r.Err(), want)
		}
	}
	t.Logf("as the daemon reports it:\n%v", r.Err())
}

// TestGatherThisHost runs every check on the real host as root: the
// machines berth's tests run on (CI, the cgroup v2 VM) must pass them.
func TestGatherThisHost(t *testing.T) {
	testutil.RequireRoot(t)
	f := Gather(Sources{}, hostManager(t))
	r := Evaluate(f)
	t.Logf("kernel %s, cgroups %s, overlay %v, controllers %v, nftables %v, ramfs root %v",
		f.Release, f.CgroupMode, slices.Contains(f.Filesystems, "overlay"), f.Controllers, f.NFTables, f.RamfsRoot)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestGatherMissingMemoryController points berth at a cgroup tree without
// the memory controller: a warning, not a fatal problem, naming the fix.
func TestGatherMissingMemoryController(t *testing.T) {
	testutil.RequireRoot(t)
	root, parent := cgroupsWithoutMemory(t)
	cg, err := cgroups.New(cgroups.Options{Root: root, Parent: parent})
	if err != nil {
		t.Fatal(err)
	}
	ok := func() error { return nil }
	r := Evaluate(Gather(Sources{NFTables: ok}, cg))
	if r.Err() != nil {
		t.Fatalf("a missing memory controller must not be fatal: %v", r.Err())
	}
	// A host without CAP_SYS_RESOURCE, or on the initial ramfs, adds its own
	// warning.
	warnings := slices.DeleteFunc(slices.Clone(r.Warnings), func(err error) bool {
		return errors.Is(err, ErrNoSysResource) || errors.Is(err, ErrRamfsRoot)
	})
	if len(warnings) != 1 || !errors.Is(warnings[0], cgroups.ErrControllerMissing) ||
		!strings.Contains(warnings[0].Error(), "memory") {
		t.Fatalf("warnings %v, want one about the memory controller", r.Warnings)
	}
	t.Logf("cgroup root %s, parent %s (%s): %v", root, parent, cg.Mode(), warnings[0])
}

// cgroupsWithoutMemory returns a cgroup root and parent under which cpu
// and pids are usable and memory is not. On v2 it is a cgroup of the host
// whose subtree_control enables only cpu and pids; on v1 and hybrid hosts,
// a tmpfs with only the cpu and pids hierarchies mounted in it. Both are
// removed after the test.
func cgroupsWithoutMemory(t *testing.T) (root, parent string) {
	const host = "/sys/fs/cgroup"
	name := randName(t)
	if mode, err := cgroups.Detect(host); err == nil && mode == cgroups.V2 {
		top := filepath.Join(host, name)
		if err := os.Mkdir(top, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Rmdir(filepath.Join(top, "mid")); unix.Rmdir(top) })
		if err := os.WriteFile(filepath.Join(top, "cgroup.subtree_control"), []byte("+cpu +pids"), 0o644); err != nil {
			t.Skipf("cannot enable cpu and pids below %s: %v", top, err)
		}
		if err := os.Mkdir(filepath.Join(top, "mid"), 0o755); err != nil {
			t.Fatal(err)
		}
		return host, name + "/mid/berth"
	}
	root = t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	for _, c := range []string{cgroups.CPU, cgroups.Pids} {
		opts := v1Options(t, c)
		dir := filepath.Join(root, c)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// A v1 hierarchy can be mounted again with its controller set.
		if err := unix.Mount("cgroup", dir, "cgroup", 0, opts); err != nil {
			t.Skipf("mount the %s hierarchy (%s) at %s: %v", c, opts, dir, err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	}
	return root, name
}

// v1Options returns the controller list of the host's v1 hierarchy that
// holds controller c (for example "cpu,cpuacct"), from /proc/self/mounts.
func v1Options(t *testing.T, c string) string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "cgroup" {
			continue
		}
		opts := strings.Split(f[3], ",")
		if !slices.Contains(opts, c) {
			continue
		}
		var ctrls []string
		for _, o := range opts {
			if o == "cpu" || o == "cpuacct" || o == "pids" || o == "net_cls" || o == "net_prio" {
				ctrls = append(ctrls, o)
			}
		}
		return strings.Join(ctrls, ",")
	}
	t.Skipf("no v1 hierarchy with %s on this host", c)
	return ""
}
