package manifests

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoKernelImports keeps manifests pure (STYLE.md practice 1): it must
// not reach the kernel or start processes, directly or through a
// dependency.
func TestNoKernelImports(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
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
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps printed nothing")
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("manifests depends on %s", dep)
			}
		}
	}
}
