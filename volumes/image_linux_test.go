package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// writeLayers makes n layer dirs below parent, each named by prefix and
// its index, holding "layer" (its index) and a file of its own; the
// bottom one also holds a symlink to the host's /etc/hostname.
func writeLayers(t *testing.T, parent, prefix string, n int) []string {
	t.Helper()
	var layers []string
	for i := range n {
		d := filepath.Join(parent, fmt.Sprintf("%s%03d", prefix, i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"layer": fmt.Sprint(i), fmt.Sprintf("only-%d", i): "x"} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		layers = append(layers, d)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(layers[0], "escape")); err != nil {
		t.Fatal(err)
	}
	return layers
}

func TestMountImage(t *testing.T) {
	needRoot(t)
	long := strings.Repeat("l", 120)
	for _, tc := range []struct {
		name   string
		prefix string
		layers int
	}{
		{"one layer: a bind", "layer", 1},
		{"three layers: an overlay", "layer", 3},
		// 30 paths of about 190 bytes: relative to their parent, from
		// a thread of its own.
		{"options past a page", long, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			podDir := newPodDir(t)
			layers := writeLayers(t, filepath.Join(t.TempDir(), "store"), tc.prefix, tc.layers)
			p, err := MountImage(podDir, "img", layers)
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind != KindImage || !p.ReadOnly || p.File {
				t.Errorf("Prepared = %+v, want a read-only image volume", p)
			}
			if got, err := os.ReadFile(filepath.Join(p.Path, "layer")); err != nil || string(got) != fmt.Sprint(tc.layers-1) {
				t.Errorf("layer = %q, %v; want the top layer's %d", got, err, tc.layers-1)
			}
			for i := range tc.layers {
				if _, err := os.Stat(filepath.Join(p.Path, fmt.Sprintf("only-%d", i))); err != nil {
					t.Errorf("layer %d's file: %v", i, err)
				}
			}
			if got, err := os.Readlink(filepath.Join(p.Path, "escape")); err != nil || got != "/etc/hostname" {
				t.Errorf("the image's link = %q, %v; want it kept as it is", got, err)
			}
			err = os.WriteFile(filepath.Join(p.Path, "new"), nil, 0o644)
			if !errors.Is(err, unix.EROFS) {
				t.Errorf("write into the volume: %v, want EROFS", err)
			}
			st := statfs(t, p.Path)
			for flag, name := range map[int64]string{unix.ST_RDONLY: "ro", unix.ST_NOSUID: "nosuid", unix.ST_NODEV: "nodev"} {
				if st.Flags&flag == 0 {
					t.Errorf("the volume's mount is not %s (flags %#x)", name, st.Flags)
				}
			}
			if got := mountsAt(t, podDir); len(got) != 1 {
				t.Errorf("mounts below the pod dir = %v, want the volume's", got)
			}

			// Again, as a retry after a crash: the old mount is replaced.
			if _, err := MountImage(podDir, "img", layers[:1]); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(filepath.Join(p.Path, "layer")); err != nil || string(got) != "0" {
				t.Errorf("after a second mount layer = %q, %v; want 0", got, err)
			}
			if got := mountsAt(t, podDir); len(got) != 1 {
				t.Errorf("mounts below the pod dir after a second mount = %v, want one", got)
			}

			if err := Cleanup(podDir); err != nil {
				t.Fatal(err)
			}
			if got := mountsAt(t, podDir); len(got) != 0 {
				t.Errorf("mounts left after Cleanup: %v", got)
			}
			for _, l := range layers {
				if _, err := os.Stat(filepath.Join(l, "layer")); err != nil {
					t.Errorf("Cleanup reached the store's layer %s: %v", l, err)
				}
			}
		})
	}
}

func TestMountImageRefuses(t *testing.T) {
	needRoot(t)
	podDir := newPodDir(t)
	for _, tc := range []struct {
		name   string
		layers []string
	}{
		{"../up", []string{t.TempDir()}},
		{"img", nil},
	} {
		if _, err := MountImage(podDir, tc.name, tc.layers); !errors.Is(err, ErrInvalid) {
			t.Errorf("MountImage(%q, %v) = %v, want ErrInvalid", tc.name, tc.layers, err)
		}
	}
	if got := mountsAt(t, podDir); len(got) != 0 {
		t.Errorf("mounts left: %v", got)
	}
}
