package container

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/hostcheck"
	"github.com/berth-project/berth/internal/mountinfo"
	"github.com/berth-project/berth/internal/testutil"
)

// TestMain lets the test binary be the init stage too: Start re-executes
// /proc/self/exe as `berth container-init`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitSubcommand {
		Main(os.Args[2:])
	}
	ramfsRoot = hostRamfsRoot()
	os.Exit(testutil.RunTests(m))
}

// ramfsRoot is true on a host whose root is the initial ramfs (the VM
// runner's --ramfs-root mode): the tests' containers then move their root
// as the daemon's would there, since pivot_root cannot work.
var ramfsRoot bool

func hostRamfsRoot() bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	entries, err := mountinfo.Parse(f)
	return err == nil && hostcheck.RamfsRoot(entries)
}

// statusField returns a field of /proc/PID/status text (or of `demo id`).
func statusField(status, name string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

func parseHex(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}
