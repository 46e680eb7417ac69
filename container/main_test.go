package container

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testutil"
)

// TestMain lets the test binary be the init stage too: Start re-executes
// /proc/self/exe as `berth container-init`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitSubcommand {
		Main(os.Args[2:])
	}
	os.Exit(testutil.RunTests(m))
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
