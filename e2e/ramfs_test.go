package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/hostcheck"
	"github.com/berth-project/berth/internal/mountinfo"
)

// TestRamfsRootHost runs on a host whose root is the initial ramfs (the VM
// runner's --ramfs-root mode), where pivot_root(2) fails: the daemon says
// so at start, pods run rooted by a move and chroot, `berth exec` lands in
// the container's root, and the chroot breakout stays inside it.
func TestRamfsRootHost(t *testing.T) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := mountinfo.Parse(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !hostcheck.RamfsRoot(entries) {
		t.Skip("the root is not the initial ramfs (hack/vmtest/run --ramfs-root runs this)")
	}
	d := startDaemon(t)
	if !strings.Contains(d.logBuf.String(), "initial ramfs") {
		t.Errorf("no start-up warning about the ramfs root:\n%s", d.logBuf.String())
	}
	marker := filepath.Join(t.TempDir(), "host-marker")
	if err := os.WriteFile(marker, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.apply("escape.yaml", podYAML("escape", "Never", `["/bin/demo", "escape", "`+marker+`"]`))
	waitPhase(t, d, "escape", "Succeeded")
	if out := d.mustBerth("logs", "escape"); !strings.Contains(out, "contained") {
		t.Errorf("escape attempt: %q", out)
	}

	d.apply("keep.yaml", podYAML("keep", "Always", `["/bin/demo", "sleep"]`))
	d.pod("keep")
	if out := d.mustBerth("exec", "keep", "--", "/bin/demo", "read", "/etc/passwd"); !strings.Contains(out, "app:x:1000") {
		t.Errorf("exec read the container's /etc/passwd: %q", out)
	}
	if out, err := d.berth("exec", "keep", "--", "/bin/demo", "read", marker); err == nil || !strings.Contains(out, "no such file") {
		t.Errorf("exec read the host's file %s: %q, %v", marker, out, err)
	}
}
