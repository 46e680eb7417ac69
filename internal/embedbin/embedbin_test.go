package embedbin

import (
	"os"
	"testing"
)

// TestPayloadHoldsOnlyGitkeep guards the rule that an embedded binary is
// never written into the source tree, where it could go stale or be
// committed.
func TestPayloadHoldsOnlyGitkeep(t *testing.T) {
	entries, err := os.ReadDir("payload")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".gitkeep" {
			t.Errorf("payload/%s exists on disk; hack/build adds the embedded binaries with -overlay only", e.Name())
		}
	}
}

// TestOpenWithoutOverlay: `go test` builds without hack/build's overlay,
// so nothing is embedded.
func TestOpenWithoutOverlay(t *testing.T) {
	for _, name := range []string{Init, Full} {
		if _, size, ok := Open(name); ok {
			t.Errorf("Open(%s) found %d bytes, want nothing in a build without -overlay", name, size)
		}
	}
}
