package volumes

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// hostPathFixture makes one file of each type in a temp dir and returns
// their paths by type name. The block device needs root (mknod); it is
// absent when that is impossible.
func hostPathFixture(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{
		typeDirectory:  filepath.Join(dir, "dir"),
		typeFile:       filepath.Join(dir, "file"),
		typeSocket:     filepath.Join(dir, "sock"),
		typeCharDevice: "/dev/null",
	}
	if err := os.Mkdir(paths[typeDirectory], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[typeFile], nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", paths[typeSocket])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	blk := filepath.Join(dir, "blk")
	// 7:0 is loop0; the node is never opened, only stat'ed.
	if err := unix.Mknod(blk, unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0))); err == nil {
		paths[typeBlockDevice] = blk
	}
	return paths
}

func TestEnsureHostPathTypes(t *testing.T) {
	paths := hostPathFixture(t)
	hpTypes := map[string]string{
		hostPathDirectory:   typeDirectory,
		hostPathFile:        typeFile,
		hostPathSocket:      typeSocket,
		hostPathCharDevice:  typeCharDevice,
		hostPathBlockDevice: typeBlockDevice,
	}
	for hpType, want := range hpTypes {
		for found, p := range paths {
			t.Run(hpType+"/"+found, func(t *testing.T) {
				isFile, err := ensureHostPath(p, hpType)
				if found == want {
					if err != nil {
						t.Fatalf("ensureHostPath(%s, %s) error = %v", p, hpType, err)
					}
					if isFile != (found != typeDirectory) {
						t.Errorf("ensureHostPath(%s, %s) isFile = %v", p, hpType, isFile)
					}
					return
				}
				if !errors.Is(err, ErrHostPathType) {
					t.Fatalf("ensureHostPath(%s, %s) error = %v, want ErrHostPathType", p, hpType, err)
				}
				// The error names the path, the expected and the found type.
				for _, s := range []string{p, want, found} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
			})
		}
	}
	if _, ok := paths[typeBlockDevice]; !ok {
		t.Log("no block device: mknod needs root; BlockDevice only checked against other types")
	}
}

func TestEnsureHostPathCreate(t *testing.T) {
	dir := t.TempDir()
	paths := hostPathFixture(t)

	// DirectoryOrCreate creates parents too, 0755.
	newDir := filepath.Join(dir, "a", "b")
	if isFile, err := ensureHostPath(newDir, hostPathDirectoryOrCreate); err != nil || isFile {
		t.Fatalf("DirectoryOrCreate = %v, %v", isFile, err)
	}
	if fi, err := os.Stat(newDir); err != nil || !fi.IsDir() {
		t.Fatalf("DirectoryOrCreate did not create %s: %v", newDir, err)
	}
	if _, err := ensureHostPath(paths[typeFile], hostPathDirectoryOrCreate); !errors.Is(err, ErrHostPathType) {
		t.Errorf("DirectoryOrCreate on a file: error = %v, want ErrHostPathType", err)
	}

	// FileOrCreate creates an empty 0644 file, but not its parents.
	newFile := filepath.Join(dir, "f")
	if isFile, err := ensureHostPath(newFile, hostPathFileOrCreate); err != nil || !isFile {
		t.Fatalf("FileOrCreate = %v, %v", isFile, err)
	}
	if fi, err := os.Stat(newFile); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Fatalf("FileOrCreate did not create an empty file %s: %v %v", newFile, fi, err)
	}
	if _, err := ensureHostPath(filepath.Join(dir, "missing", "f"), hostPathFileOrCreate); err == nil {
		t.Error("FileOrCreate created missing parent directories")
	}
	if _, err := ensureHostPath(paths[typeDirectory], hostPathFileOrCreate); !errors.Is(err, ErrHostPathType) {
		t.Errorf("FileOrCreate on a directory: error = %v, want ErrHostPathType", err)
	}

	// Symlinks are followed, as kubelet does.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(paths[typeFile], link); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureHostPath(link, hostPathFile); err != nil {
		t.Errorf("File through a symlink: %v", err)
	}

	// Unset type: any type; a missing path becomes a directory.
	if isFile, err := ensureHostPath(paths[typeSocket], ""); err != nil || !isFile {
		t.Errorf("unset type on a socket = %v, %v", isFile, err)
	}
	unset := filepath.Join(dir, "unset")
	if isFile, err := ensureHostPath(unset, ""); err != nil || isFile {
		t.Errorf("unset type on a missing path = %v, %v", isFile, err)
	}

	// Types that must exist.
	for _, typ := range []string{hostPathDirectory, hostPathFile, hostPathSocket, hostPathCharDevice, hostPathBlockDevice} {
		if _, err := ensureHostPath(filepath.Join(dir, "nothing"), typ); !errors.Is(err, ErrHostPathType) {
			t.Errorf("%s on a missing path: error = %v, want ErrHostPathType", typ, err)
		}
	}
}

func TestCheckHostPathSpec(t *testing.T) {
	tests := []struct {
		path, typ string
		ok        bool
	}{
		{"/srv/data", "", true},
		{"/srv/data", "Directory", true},
		{"srv/data", "", false},
		{"/srv/../etc", "", false},
		{"/srv/data", "Dir", false},
		{"/srv/da\x00ta", "", false},
	}
	for _, tt := range tests {
		_, err := checkHostPathSpec(tt.path, tt.typ)
		if (err == nil) != tt.ok {
			t.Errorf("checkHostPathSpec(%q, %q) error = %v, want ok=%v", tt.path, tt.typ, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("checkHostPathSpec(%q, %q) error = %v, want ErrInvalid", tt.path, tt.typ, err)
		}
	}
}
