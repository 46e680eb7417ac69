package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// inRootTree makes a root with the kinds of paths an image holds, and a
// directory beside it that nothing may reach.
func inRootTree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root + "/usr/share", root + "/var", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(root+"/file", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"abs":      "/usr/share",       // absolute: followed inside the root
		"up":       "../../../outside", // climbs: clamped at the root, so /outside
		"dangling": "/host/etc",        // target missing: created inside
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

// wantAt checks one lookup's result: wantErr, or else a handle that
// really is at root/want (read back through procfs). It returns the handle
// when there is one, for the caller to look at further and close.
func wantAt(t *testing.T, call string, f *os.File, err, wantErr error, root, want string) *os.File {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("%s = %v, want %v", call, err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
	got, err := os.Readlink(fdPath(f))
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	if got != filepath.Join(root, want) {
		t.Errorf("%s is at %s, want %s", call, got, filepath.Join(root, want))
	}
	return f
}

func TestMkdirAllInRoot(t *testing.T) {
	root, outside := inRootTree(t)
	r, err := openRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		path, want string // want is relative to the root; "" for an error
		err        error
	}{
		{path: "/usr/share", want: "usr/share"},
		{path: "/var/lib/x", want: "var/lib/x"},
		{path: "/abs/zoneinfo", want: "usr/share/zoneinfo"},
		{path: "/up/x", want: "outside/x"},
		{path: "/../../outside/y", want: "outside/y"},
		{path: "/dangling/ssl", want: "host/etc/ssl"},
		{path: "/file/x", err: unix.ENOTDIR},
		{path: "/", want: "."},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f, err := r.mkdirAll(tt.path)
			if f = wantAt(t, "mkdirAll("+tt.path+")", f, err, tt.err, root, tt.want); f == nil {
				return
			}
			defer f.Close()
			var st unix.Stat_t
			if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				t.Errorf("mkdirAll(%s) gave mode %#o (%v), want a directory", tt.path, st.Mode, err)
			}
		})
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("something was made outside the root: %v", ents)
	}
}

func TestOpenInRoot(t *testing.T) {
	root, _ := inRootTree(t)
	r, err := openRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		path, want string
		err        error
	}{
		{path: "/abs", want: "usr/share"},
		{path: "/up", err: os.ErrNotExist},
		{path: "file", want: "file"},
		{path: "/dangling", err: os.ErrNotExist},
		{path: "/missing/x", err: os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f, err := r.open(tt.path)
			if f = wantAt(t, "open("+tt.path+")", f, err, tt.err, root, tt.want); f != nil {
				f.Close()
			}
		})
	}
	// With the host's procfs as the root, /proc/self/root is a magic link:
	// refused, never followed to the host's /.
	f, err := openInRootPath("/", "/proc/self/root/etc")
	if err == nil {
		f.Close()
		t.Fatal("a lookup through /proc/self/root succeeded")
	}
	if !errors.Is(err, unix.ELOOP) {
		t.Errorf("lookup through /proc/self/root: %v, want ELOOP", err)
	}
}
