package manifestdir

import (
	"strings"
	"testing"
)

// TestClaimsIndexed indexes the PersistentVolumeClaim documents by
// namespace and name; the second file declaring a name is refused.
func TestClaimsIndexed(t *testing.T) {
	dir := t.TempDir()
	const claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: shop\nspec:\n  accessModes: [%s]\n"
	writeRaw(t, dir, "a.yaml", strings.Replace(claim, "%s", "ReadWriteOncePod", 1))
	writeRaw(t, dir, "b.yaml", strings.Replace(claim, "%s", "ReadWriteOnce", 1))
	snap := mustLoad(t, NewLoader(dir))
	c := snap.Claims[ObjectKey{"shop", "data"}]
	if c == nil || c.Spec.AccessModes[0] != "ReadWriteOncePod" {
		t.Fatalf("claims = %v, want shop/data from a.yaml", snap.Claims)
	}
	if len(snap.Duplicates) != 1 || !strings.Contains(snap.Duplicates[0].Error(), "duplicate PersistentVolumeClaim shop/data") {
		t.Errorf("duplicates = %v, want b.yaml's claim refused", snap.Duplicates)
	}
}
