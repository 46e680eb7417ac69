package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestImportWhiteoutsOverlay imports a two-layer image whose top layer
// deletes a file, makes a directory opaque and carries device nodes (one
// over a file of the base layer), and checks the result through a real
// overlayfs mount (root only; as non-root the import must refuse with
// ErrNeedsRoot). Device nodes are unpacked as whiteouts: absent, and
// hiding what the layers below had there.
func TestImportWhiteoutsOverlay(t *testing.T) {
	s := openStore(t)
	base := layerFromDir(t, writeTree(t, map[string]string{"etc/hello": "hi", "opq/old": "old", "keep": "k", "bin/tool": "t"}), nil)
	top := layerFromDir(t, writeTree(t, map[string]string{"opq/new": "new", "etc/": ""}),
		[]entry{{name: "etc/.wh.hello"}, {name: "opq/.wh..wh..opq"},
			{name: "etc/tty0", typ: tar.TypeChar, major: 4, minor: 0},
			{name: "bin/tool", typ: tar.TypeBlock, major: 7, minor: 0}})
	arch := dockerArchive(t, [][]byte{base, top}, "wh:1", testConfig(t, [][]byte{base, top}, "x"))
	imgs, err := s.Import(bytes.NewReader(arch))
	if os.Geteuid() != 0 {
		if !errors.Is(err, ErrNeedsRoot) {
			t.Fatalf("whiteouts as non-root: %v, want ErrNeedsRoot", err)
		}
		t.Skip("needs root: overlayfs whiteouts are device nodes and trusted xattrs")
	}
	if err != nil {
		t.Fatal(err)
	}
	layers := imgs[0].Layers
	for _, p := range []string{"etc/hello", "etc/tty0", "bin/tool"} {
		st, err := os.Lstat(filepath.Join(layers[1], p))
		if err != nil || st.Mode()&os.ModeCharDevice == 0 || st.Sys().(*syscall.Stat_t).Rdev != 0 {
			t.Fatalf("whiteout %s: %v %v", p, st, err)
		}
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(layers[1], "opq"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Fatalf("opaque xattr: %q %v", buf[:n], err)
	}

	dir := t.TempDir()
	merged, upper, work := filepath.Join(dir, "merged"), filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{merged, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := "lowerdir=" + layers[1] + ":" + layers[0] + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", merged, err)
		}
	})
	for p, want := range map[string]bool{"keep": true, "etc": true, "etc/hello": false, "opq/old": false, "opq/new": true,
		"etc/tty0": false, "bin/tool": false, "bin": true} {
		_, err := os.Lstat(filepath.Join(merged, p))
		if got := err == nil; got != want {
			t.Errorf("%s visible in overlay = %v, want %v (%v)", p, got, want, err)
		}
	}
}
