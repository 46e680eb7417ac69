package initbin

import (
	"os"
	"testing"
)

// TestPayloadHoldsOnlyGitkeep guards the rule that the lean binary is never
// written into the source tree, where it could go stale or be committed.
func TestPayloadHoldsOnlyGitkeep(t *testing.T) {
	entries, err := os.ReadDir("payload")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".gitkeep" {
			t.Errorf("payload/%s exists on disk; hack/build adds the lean binary with -overlay only", e.Name())
		}
	}
}

// TestOpenWithoutOverlay: `go test` builds without hack/build's overlay,
// so nothing is embedded.
func TestOpenWithoutOverlay(t *testing.T) {
	if _, size, ok := Open(); ok {
		t.Errorf("Open() found %d bytes, want nothing in a build without -overlay", size)
	}
}
