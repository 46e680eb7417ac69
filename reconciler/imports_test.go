package reconciler

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoSyscallImports keeps the reconciler pure (STYLE.md practice 1):
// neither it nor anything it imports may reach the kernel-facing libraries.
func TestNoSyscallImports(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"golang.org/x/sys/unix",
		"github.com/vishvananda/netlink",
		"github.com/vishvananda/netns",
		"github.com/containerd/cgroups",
		"os/exec",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("reconciler depends on %s", dep)
			}
		}
	}
}
