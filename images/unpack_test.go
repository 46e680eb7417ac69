package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func unpackBytes(b []byte, dst string, max int64) error {
	dec, closeDec, err := decompress(bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer closeDec()
	bud := newBudget(max)
	_, err = unpackLayer(&limitedReader{r: dec, b: bud}, dst, bud, 1000)
	return err
}

// TestUnpackHostile feeds one hostile layer per case and checks that it is
// refused and that nothing outside the unpack root changed.
func TestUnpackHostile(t *testing.T) {
	hugeFile := gzipBytes(t, buildTar(t, []entry{{name: "zeros", body: string(make([]byte, 4<<20))}}))
	tests := []struct {
		name    string
		layer   func(parent string) []byte
		wantErr error
	}{
		{"dotdot", func(string) []byte {
			return buildTar(t, []entry{{name: "../../x", body: "pwned"}})
		}, ErrUnsafeEntry},
		{"abs-dotdot", func(string) []byte {
			return buildTar(t, []entry{{name: "/abs/../../x", body: "pwned"}})
		}, ErrUnsafeEntry},
		{"symlink-then-write-through", func(parent string) []byte {
			return buildTar(t, []entry{
				{name: "a", typ: tar.TypeSymlink, link: filepath.Join(parent, "outside")},
				{name: "a/file", body: "pwned"},
			})
		}, ErrUnsafeEntry},
		{"relative-symlink-then-write-through", func(string) []byte {
			return buildTar(t, []entry{
				{name: "a", typ: tar.TypeSymlink, link: "../outside"},
				{name: "a/new", body: "pwned"},
			})
		}, ErrUnsafeEntry},
		{"symlink-then-mkdir-through", func(string) []byte {
			return buildTar(t, []entry{
				{name: "a", typ: tar.TypeSymlink, link: "../outside"},
				{name: "a/d/", typ: tar.TypeDir, mode: 0o777},
			})
		}, ErrUnsafeEntry},
		{"hardlink-to-etc-passwd", func(string) []byte {
			return buildTar(t, []entry{{name: "pw", typ: tar.TypeLink, link: "/etc/passwd"}})
		}, ErrUnsafeEntry},
		{"hardlink-to-outside", func(string) []byte {
			return buildTar(t, []entry{{name: "l", typ: tar.TypeLink, link: "../outside/file"}})
		}, ErrUnsafeEntry},
		{"hardlink-through-symlink", func(string) []byte {
			return buildTar(t, []entry{
				{name: "a", typ: tar.TypeSymlink, link: "../outside"},
				{name: "l", typ: tar.TypeLink, link: "a/file"},
			})
		}, ErrUnsafeEntry},
		{"huge-decompression", func(string) []byte { return hugeFile }, ErrTooLarge},
		{"root-opaque-whiteout", func(string) []byte {
			return buildTar(t, []entry{{name: ".wh..wh..opq"}})
		}, ErrUnsafeEntry},
		{"root-opaque-whiteout-spelled-absolute", func(string) []byte {
			return buildTar(t, []entry{{name: "/./.wh..wh..opq"}})
		}, ErrUnsafeEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, root := sentinel(t)
			before := snapshot(t, parent, root)
			err := unpackBytes(tt.layer(parent), root, 1<<20)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("unpack error = %v, want %v", err, tt.wantErr)
			}
			if after := snapshot(t, parent, root); !reflect.DeepEqual(before, after) {
				t.Fatalf("outside of the unpack root changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// TestUnpackDeviceNode checks that character and block device entries
// become overlay whiteouts (0:0 character devices), never nodes with their
// own numbers, and that FIFOs stay FIFOs.
func TestUnpackDeviceNode(t *testing.T) {
	parent, root := sentinel(t)
	before := snapshot(t, parent, root)
	err := unpackBytes(buildTar(t, []entry{
		{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		{name: "dev/tty0", typ: tar.TypeChar, mode: 0o666, major: 4, minor: 0},
		{name: "disk", typ: tar.TypeBlock, mode: 0o666, major: 7, minor: 0},
		{name: "fifo", typ: tar.TypeFifo, mode: 0o644},
	}), root, 1<<20)
	if os.Geteuid() == 0 {
		if err != nil {
			t.Fatalf("device node as root: %v", err)
		}
		for _, p := range []string{"dev/null", "dev/tty0", "disk"} {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(root, p), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
				t.Errorf("%s: mode %#o rdev %#x (%v), want a 0:0 character device", p, st.Mode, st.Rdev, err)
			}
		}
		if st, err := os.Lstat(filepath.Join(root, "fifo")); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("fifo: %v %v", st, err)
		}
	} else if !errors.Is(err, ErrNeedsRoot) {
		t.Fatalf("device node as non-root: %v, want ErrNeedsRoot", err)
	}
	if after := snapshot(t, parent, root); !reflect.DeepEqual(before, after) {
		t.Fatal("outside of the unpack root changed")
	}
}

// TestUnpackContained checks entries that are legal but look dangerous:
// they must land inside the root.
func TestUnpackContained(t *testing.T) {
	parent, root := sentinel(t)
	before := snapshot(t, parent, root)
	layer := buildTar(t, []entry{
		{name: "/abs/file", body: "abs"},
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "link", typ: tar.TypeSymlink, link: "/etc/passwd"},
		{name: "etc/passwd", body: "root:x:0:0::/:/bin/sh\n"},
		{name: "hard", typ: tar.TypeLink, link: "/etc/passwd"},
		{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		{name: "ro/f", body: "x", mode: 0o4755},
	})
	if err := unpackBytes(layer, root, 1<<20); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "abs/file")); err != nil || string(b) != "abs" {
		t.Fatalf("abs/file: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(root, "link")); err != nil || l != "/etc/passwd" {
		t.Fatalf("link: %q %v", l, err)
	}
	a, _ := os.Stat(filepath.Join(root, "etc/passwd"))
	b, _ := os.Stat(filepath.Join(root, "hard"))
	if !os.SameFile(a, b) {
		t.Fatal("hard is not a hardlink of etc/passwd")
	}
	st, err := os.Stat(filepath.Join(root, "ro/f"))
	if err != nil {
		t.Fatal(err)
	}
	if wantSetuid := os.Geteuid() == 0; (st.Mode()&os.ModeSetuid != 0) != wantSetuid {
		t.Fatalf("ro/f mode %v, setuid wanted %v", st.Mode(), wantSetuid)
	}
	if st, _ := os.Stat(filepath.Join(root, "ro")); st.Mode().Perm() != 0o555 {
		t.Fatalf("ro mode %v", st.Mode())
	}
	if after := snapshot(t, parent, root); !reflect.DeepEqual(before, after) {
		t.Fatal("outside of the unpack root changed")
	}
}
