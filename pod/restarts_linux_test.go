package pod

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHashFileOpensOnlyTheRegularFileItSaw: a hostPath file swapped for a
// link to something else between the stat and the read (a container that
// can write its directory) is not opened for reading; the regular file
// is hashed.
func TestHashFileOpensOnlyTheRegularFileItSaw(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "conf")
	if err := os.WriteFile(path, []byte("level=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := statFile(path)
	hashFile(path, &s)
	if s.missing || !s.hashed {
		t.Fatalf("regular file: %+v, want it hashed", s)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{fifo, filepath.Join(dir, "other")} {
		if err := os.WriteFile(path, []byte("level=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "other"), []byte("level=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s := statFile(path)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		hashFile(path, &s)
		if s.hashed {
			t.Errorf("%s swapped in after the stat was read", target)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}
