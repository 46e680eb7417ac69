package metrics

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLayerCache: a layer is measured again only once its sample is
// layerUsageAge old, and a layer no pod has is forgotten.
func TestLayerCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	c := layerCache{now: func() time.Time { return now }}
	first, _, err := c.usage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.usage(dir); n != first {
		t.Errorf("within the age: %d bytes, want the sample's %d", n, first)
	}
	now = now.Add(layerUsageAge)
	if n, _, _ := c.usage(dir); n < first+1<<20 {
		t.Errorf("after the age: %d bytes, want the new file counted (at least %d)", n, first+1<<20)
	}
	c.keepOnly([]Pod{{Containers: []Container{{Layer: "/other"}}}})
	if len(c.samples) != 0 {
		t.Errorf("samples kept for layers no pod has: %v", c.samples)
	}
}
