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

// TestBinaryWithoutOverlay: `go test` builds without hack/build's overlay,
// so nothing is embedded.
func TestBinaryWithoutOverlay(t *testing.T) {
	if b := Binary(); b != nil {
		t.Errorf("Binary() = %d bytes, want nil in a build without -overlay", len(b))
	}
}
