package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// examplesDir is the repository's examples/ directory.
func examplesDir() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "examples")
}

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestExamplesRun applies every example as it is, except for host-global
// names a test must not take (the host port, the hostPath directory).
func TestExamplesRun(t *testing.T) {
	d := startDaemon(t)
	testutil.WorkloadImage(t, filepath.Join(d.state, "images"), "localhost/berth-demo:latest")
	state := filepath.Join(d.dir, "keeper-state")
	port := freePort(t)
	rewrite := strings.NewReplacer(
		"/var/lib/berth-example/state", state,
		"hostPort: 8080", fmt.Sprintf("hostPort: %d", port),
	)
	for _, name := range []string{"web.yaml", "shared-emptydir.yaml", "control-plane.yaml"} {
		b, err := os.ReadFile(filepath.Join(examplesDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		d.apply(name, rewrite.Replace(string(b)))
	}
	for _, ns := range []string{"default", "kube-system"} {
		out := d.mustBerth("get", "pods", "-n", ns)
		if strings.Count(out, "Running") < 1 {
			t.Errorf("get pods -n %s:\n%s", ns, out)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the keeper to write its state on the host", func() bool {
		b, err := os.ReadFile(filepath.Join(state, "started-by"))
		return err == nil && string(b) == "state-keeper"
	})
	testutil.WaitFor(t, 10*time.Second, "the web example to answer on its host port", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return false
		}
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		c.Close()
		return strings.Contains(string(buf[:n]), "200 OK")
	})
}
