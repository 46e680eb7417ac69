package container

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testutil"
)

// TestNoPivotRoot runs containers rooted by moveRoot, as on a host whose
// root is the initial ramfs (the VM runner's --ramfs-root mode runs the
// whole suite that way): the image is the root, and the chroot breakout
// ends inside it (it leaves a plain chroot).
func TestNoPivotRoot(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	marker := filepath.Join(t.TempDir(), "host-marker")
	writeFile(t, marker, "host")

	cfg := r.config("escape", marker)
	cfg.NoPivot = true
	if out := mustRun(t, cfg); strings.TrimSpace(out) != "contained" {
		t.Errorf("escape: %q, want contained", out)
	}
	if out := mustRun(t, withArgs(cfg, "ps")); strings.TrimSpace(out) != "1 demo" {
		t.Errorf("ps = %q, want only \"1 demo\"", out)
	}

	pid := running(t, cfg, StartOptions{})
	if got := ls(t, "/proc/"+strconv.Itoa(pid)+"/root"); !strings.Contains(got, "bin") || strings.Contains(got, "upper") {
		t.Errorf("root = %q, want the image", got)
	}
}

func withArgs(cfg Config, args ...string) Config {
	cfg.Args = append([]string{"demo"}, args...)
	return cfg
}
