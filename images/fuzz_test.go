package images

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// maxFuzzInput bounds one fuzz input: a hostile layer needs a handful of
// tar headers, and larger inputs only make every exec slower.
const maxFuzzInput = 64 << 10

// FuzzUnpack unpacks arbitrary bytes as a layer into a root next to
// sentinel files and fails when anything outside the root changed
// (docs/security.md rule 8). Errors are expected; escapes are not.
//
// Each worker process runs inputs one at a time, so it builds one sentinel
// tree and gives every input a fresh, empty root in it.
func FuzzUnpack(f *testing.F) {
	f.Add(buildTar(f, []entry{{name: "a/b", body: "x"}}))
	parent := fuzzParent(f)
	root := makeSentinel(f, parent)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		resetRoot(t, root)
		before := snapshot(t, parent, root)
		_ = unpackBytes(data, root, 1<<20)
		if after := snapshot(t, parent, root); !reflect.DeepEqual(before, after) {
			t.Fatalf("outside of the unpack root changed:\nbefore %v\nafter  %v", before, after)
		}
	})
}

// fuzzParent returns a new private dir for a worker's sentinel tree, on the
// tmpfs at /dev/shm when there is one: on a journaling file system shared
// with busy neighbours, the few creates and unlinks of one exec can wait
// milliseconds on the journal.
func fuzzParent(f *testing.F) string {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		return f.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "berth-fuzzunpack-")
	if err != nil {
		f.Fatal(err)
	}
	return dir
}

// TestSnapshotSeesOutsideChanges checks the fuzzer's oracle: each change
// next to the unpack root shows in the snapshot, and a change inside it
// does not.
func TestSnapshotSeesOutsideChanges(t *testing.T) {
	tests := []struct {
		name    string
		change  func(parent, root string) error
		outside bool
	}{
		{"inside-root", func(_, root string) error {
			if err := os.Mkdir(filepath.Join(root, "d"), 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, "d", "f"), []byte("x"), 0o644)
		}, false},
		{"rewrite-same-size-keep-mtime", func(parent, _ string) error {
			p := filepath.Join(parent, "x")
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte("SENTINEL"), 0o644); err != nil {
				return err
			}
			return os.Chtimes(p, st.ModTime(), st.ModTime())
		}, true},
		{"chmod", func(parent, _ string) error { return os.Chmod(filepath.Join(parent, "outside", "file"), 0o600) }, true},
		{"xattr", func(parent, _ string) error {
			return unix.Setxattr(filepath.Join(parent, "x"), "user.berth-test", []byte("1"), 0)
		}, true},
		{"hardlink-from-root", func(parent, root string) error {
			return os.Link(filepath.Join(parent, "x"), filepath.Join(root, "h"))
		}, true},
		{"new-file-next-to-root", func(parent, _ string) error {
			return os.WriteFile(filepath.Join(parent, "new"), nil, 0o644)
		}, true},
		{"new-file-in-sentinel-dir", func(parent, _ string) error {
			return os.WriteFile(filepath.Join(parent, "outside", "new"), nil, 0o644)
		}, true},
		{"symlink-retargeted", func(parent, _ string) error {
			if err := os.Remove(filepath.Join(parent, "link")); err != nil {
				return err
			}
			return os.Symlink("x", filepath.Join(parent, "link"))
		}, true},
		{"root-replaced-by-symlink", func(_, root string) error {
			if err := os.Remove(root); err != nil {
				return err
			}
			return os.Symlink("outside", root)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, root := sentinel(t)
			before := snapshot(t, parent, root)
			if err := tt.change(parent, root); err == unix.ENOTSUP {
				t.Skipf("%s: %v", tt.name, err)
			} else if err != nil {
				t.Fatal(err)
			}
			after := snapshot(t, parent, root)
			if changed := !reflect.DeepEqual(before, after); changed != tt.outside {
				t.Fatalf("snapshot changed = %v, want %v:\nbefore %v\nafter  %v", changed, tt.outside, before, after)
			}
		})
	}
}
