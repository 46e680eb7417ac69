package images

import (
	"reflect"
	"testing"
)

// FuzzUnpack unpacks arbitrary bytes as a layer into a root next to
// sentinel files and fails when anything outside the root changed
// (security.md rule 8). Errors are expected; escapes are not.
func FuzzUnpack(f *testing.F) {
	f.Add(buildTar(f, []entry{{name: "a/b", body: "x"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, root := sentinel(t)
		before := snapshot(t, parent, root)
		_ = unpackBytes(data, root, 1<<20)
		if after := snapshot(t, parent, root); !reflect.DeepEqual(before, after) {
			t.Fatalf("outside of the unpack root changed:\nbefore %v\nafter  %v", before, after)
		}
	})
}
