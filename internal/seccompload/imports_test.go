package seccompload

import (
	"os/exec"
	"strings"
	"testing"
)

// TestInitLinksNoCompiler keeps the seccomp profile, its resolution and
// the compiler out of the lean init binary: it links only this package.
func TestInitLinksNoCompiler(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/berth-project/berth/cmd/berth-init").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !strings.Contains(string(out), "github.com/berth-project/berth/internal/seccompload") {
		t.Fatalf("cmd/berth-init does not link seccompload; deps:\n%s", out)
	}
	for _, dep := range deps {
		for _, f := range []string{"github.com/berth-project/berth/seccomp", "github.com/moby/profiles", "github.com/opencontainers/runtime-spec", "golang.org/x/net/bpf"} {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("cmd/berth-init links %s", dep)
			}
		}
	}
}
