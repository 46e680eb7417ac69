package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
)

// imageDir is the subdirectory of podDir where image volumes are mounted.
const imageDir = "image"

// MountImage makes the image volume name ready below podDir: the image's
// layers (bottom first, as images.Image.Layers lists them) as a read-only
// overlay with no upper dir, or a read-only bind of the only layer, nosuid
// and nodev, on <podDir>/image/<name>. Every mount of it in a container
// is read-only too.
//
// The image's content is never walked or resolved here: the layers are
// the store's own directories and the mount point is berth's, mounted on
// through its fd. Only the container reads the files, and a subPath into
// the volume is resolved inside it by the container init, as for every
// volume.
//
// A mount left on the mount point by an earlier attempt is replaced: the
// reference may name another image now. Cleanup unmounts it.
func MountImage(podDir, name string, layers []string) (Prepared, error) {
	if err := checkName("volume", name); err != nil {
		return Prepared{}, err
	}
	if len(layers) == 0 {
		return Prepared{}, fmt.Errorf("image volume %s: the image has no layers: %w", name, ErrInvalid)
	}
	podDir, err := ensurePodDir(podDir)
	if err != nil {
		return Prepared{}, err
	}
	root, err := os.OpenRoot(podDir)
	if err != nil {
		return Prepared{}, fmt.Errorf("open volume dir: %w", err)
	}
	defer root.Close()
	rel := filepath.Join(imageDir, name)
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return Prepared{}, fmt.Errorf("create image volume dir %s: %w", rel, err)
	}
	path := filepath.Join(podDir, rel)
	// mountinfo, not the device: a bind of a layer on the same file
	// system has its parent's.
	if err := unmountUnder(path); err != nil {
		return Prepared{}, fmt.Errorf("unmount the image left on %s: %w", rel, err)
	}
	dir, err := root.Open(rel)
	if err != nil {
		return Prepared{}, fmt.Errorf("open %s: %w", rel, err)
	}
	defer dir.Close()
	if len(layers) == 1 {
		err = bindLayer(root, rel, path, dir, layers[0])
	} else {
		err = mountOverlay(dir, layers)
	}
	if err != nil {
		return Prepared{}, fmt.Errorf("image volume %s: %w", name, err)
	}
	return Prepared{Name: name, Path: path, Kind: KindImage, ReadOnly: true}, nil
}

// imageMountFlags are every image volume's mount flags.
const imageMountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV

// bindLayer binds the image's only layer on dir, then makes the bind
// read-only, nosuid and nodev (a bind takes no flags of its own). An
// overlay needs two lower dirs when it has no upper one.
func bindLayer(root *os.Root, rel, path string, dir *os.File, layer string) error {
	if err := unix.Mount(layer, fdPath(dir), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind layer %s: %w", layer, err)
	}
	mounted, err := root.Open(rel)
	if err == nil {
		err = unix.Mount("", fdPath(mounted), "", unix.MS_BIND|unix.MS_REMOUNT|imageMountFlags, "")
		mounted.Close()
	}
	if err != nil {
		return errors.Join(fmt.Errorf("make the layer's bind read-only: %w", err),
			unix.Unmount(path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW))
	}
	return nil
}

// mountOverlay mounts the overlay of layers on dir. When the layers'
// paths do not fit in the mount's one page of options, they are given
// relative to their common parent, from a thread of its own whose working
// directory alone changes (unshare CLONE_FS), which is never used again.
func mountOverlay(dir *os.File, layers []string) error {
	lowers := slices.Clone(layers)
	slices.Reverse(lowers) // overlayfs wants the top layer first
	data, cwd, err := container.ReadOnlyOverlay(lowers)
	if err != nil {
		return err
	}
	target := fdPath(dir)
	if cwd == "" {
		if err := unix.Mount("overlay", target, "overlay", imageMountFlags, data); err != nil {
			return fmt.Errorf("mount overlay %q: %w", data, err)
		}
		return nil
	}
	done := make(chan error, 1)
	go func() {
		// Not unlocked: the thread exits with the goroutine, and its
		// working directory with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- fmt.Errorf("unshare the thread's working directory: %w", err)
			return
		}
		if err := unix.Chdir(cwd); err != nil {
			done <- fmt.Errorf("chdir to layers %s: %w", cwd, err)
			return
		}
		if err := unix.Mount("overlay", target, "overlay", imageMountFlags, data); err != nil {
			done <- fmt.Errorf("mount overlay %q in %s: %w", data, cwd, err)
			return
		}
		done <- nil
	}()
	return <-done
}
