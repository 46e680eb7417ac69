package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

// Subdirectories of podDir, one per kind of volume berth fills.
const (
	emptyDirDir  = "empty-dir"
	configMapDir = "configmap"
	secretDir    = "secret"
)

// tmpfsSource names berth's tmpfs mounts in mountinfo, so that a leak is
// recognisable in `findmnt`.
const tmpfsSource = "berth"

// Prepare makes every volume of pod ready on the host under podDir
// (<state>/pods/<id>/volumes): emptyDirs and projected configMaps and
// secrets are created there, hostPaths are checked. cms and secrets are the
// documents of the pod's directory by name; a missing one is an error unless
// the volume is optional.
//
// Prepare is idempotent: after a crash at any point, calling it again
// converges (mounted tmpfs are reused, projected files rewritten only when
// they differ). On error nothing is undone; the caller tears down with
// Cleanup.
//
// uid and node are what downwardAPI and projected volumes read besides the
// pod: its uid, and the node's allocatable resources.
func Prepare(podDir string, pod *manifests.Pod, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret, uid string, node downward.Node) (Set, error) {
	podDir, err := ensurePodDir(podDir)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	root, err := os.OpenRoot(podDir)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: open volume dir: %w", pod.Namespace, pod.Name, err)
	}
	defer root.Close()

	set := make(Set, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if err := checkName("volume", v.Name); err != nil {
			return nil, fmt.Errorf("pod %s/%s: volumes[%d]: %w", pod.Namespace, pod.Name, i, err)
		}
		if _, dup := set[v.Name]; dup {
			return nil, fmt.Errorf("pod %s/%s: volume %s declared twice: %w", pod.Namespace, pod.Name, v.Name, ErrInvalid)
		}
		if v.PersistentVolumeClaim != nil || v.Image != nil {
			continue // outlives the pod (ClaimStore.Prepare), or needs its image (MountImage)
		}
		p, err := prepareVolume(root, podDir, downward.Pod{Pod: pod, UID: uid, Node: node}, v, cms, secrets)
		if prop := propagationOf(pod, v.Name); err == nil && prop != "" {
			err = checkPropagation(p.Path, prop)
		}
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: volume %s: %w", pod.Namespace, pod.Name, v.Name, err)
		}
		set[v.Name] = p
	}
	return set, nil
}

// ensurePodDir creates podDir (0700: other host users have no business in
// a pod's secrets) and returns its absolute, symlink-free form, the form
// mountinfo shows.
func ensurePodDir(podDir string) (string, error) {
	abs, err := filepath.Abs(podDir)
	if err != nil {
		return "", fmt.Errorf("volume dir %s: %w", podDir, err)
	}
	if abs == "/" {
		return "", fmt.Errorf("volume dir may not be /: %w", ErrInvalid)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("create volume dir %s: %w", abs, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("resolve volume dir %s: %w", abs, err)
	}
	return real, nil
}

// prepareVolume makes one volume ready.
//
// With fsGroup, the emptyDir, configMap and secret volumes get the pod's
// group as the kubelet gives it; a hostPath is the host's and is left
// alone, as the kubelet leaves it.
func prepareVolume(root *os.Root, podDir string, dp downward.Pod, v *manifests.Volume, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret) (Prepared, error) {
	pod := dp.Pod
	if n := countSources(v); n != 1 {
		return Prepared{}, fmt.Errorf("has %d volume sources, want exactly one: %w", n, ErrInvalid)
	}
	switch {
	case v.EmptyDir != nil:
		return prepareEmptyDir(root, podDir, v, podOwnership(pod, false))
	case v.HostPath != nil:
		isFile, err := ensureHostPath(v.HostPath.Path, v.HostPath.Type)
		if err != nil {
			return Prepared{}, err
		}
		return Prepared{Name: v.Name, Path: filepath.Clean(v.HostPath.Path), Kind: KindHostPath, File: isFile}, nil
	case v.ConfigMap != nil:
		if err := checkName("configMap", v.ConfigMap.Name); err != nil {
			return Prepared{}, err
		}
		return prepareConfigMap(root, podDir, v, cms[v.ConfigMap.Name], nestedMountpoints(pod, v.Name), podOwnership(pod, true))
	case v.DownwardAPI != nil:
		return prepareDownwardAPI(root, podDir, v, dp, nestedMountpoints(pod, v.Name), podOwnership(pod, true))
	case v.Projected != nil:
		return prepareProjected(root, podDir, v, dp, cms, secrets, nestedMountpoints(pod, v.Name), podOwnership(pod, true))
	default:
		if err := checkName("secret", v.Secret.SecretName); err != nil {
			return Prepared{}, err
		}
		return prepareSecret(root, podDir, v, secrets[v.Secret.SecretName], nestedMountpoints(pod, v.Name), podOwnership(pod, true))
	}
}

// countSources counts the volume sources set on v.
func countSources(v *manifests.Volume) int {
	n := 0
	for _, set := range []bool{v.EmptyDir != nil, v.HostPath != nil, v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.Projected != nil} {
		if set {
			n++
		}
	}
	return n
}

// prepareEmptyDir creates the emptyDir and, for medium Memory, mounts its
// tmpfs; own (nil without fsGroup) is applied last.
func prepareEmptyDir(root *os.Root, podDir string, v *manifests.Volume, own *ownership) (Prepared, error) {
	plan, err := planEmptyDir(v.EmptyDir)
	if err != nil {
		return Prepared{}, err
	}
	rel := filepath.Join(emptyDirDir, v.Name)
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return Prepared{}, fmt.Errorf("create emptyDir %s: %w", rel, err)
	}
	if plan.tmpfs {
		if err := ensureTmpfs(root, rel, plan.tmpfsData); err != nil {
			return Prepared{}, err
		}
	} else if err := root.Chmod(rel, 0o777); err != nil {
		// Kubernetes makes emptyDirs world-writable so any container user
		// can use them; MkdirAll's mode is cut by the umask.
		return Prepared{}, fmt.Errorf("chmod emptyDir %s: %w", rel, err)
	}
	path := filepath.Join(podDir, rel)
	if own != nil {
		if err := own.apply(path); err != nil {
			return Prepared{}, err
		}
	}
	return Prepared{Name: v.Name, Path: path, Kind: KindEmptyDir}, nil
}

// prepareConfigMap projects cm (nil when missing) into the volume's
// directory on disk, with the mount points nested lists.
func prepareConfigMap(root *os.Root, podDir string, v *manifests.Volume, cm *manifests.ConfigMap, nested []string, own *ownership) (Prepared, error) {
	p, err := configMapPayload(v.ConfigMap, cm)
	if err != nil {
		return Prepared{}, err
	}
	return prepareOnDisk(root, podDir, configMapDir, v.Name, KindConfigMap, p, nested, own)
}

// prepareOnDisk writes p, with the mount points nested lists, into
// <podDir>/<dir>/<name> on the pod directory's file system: a read-only
// volume of kind.
func prepareOnDisk(root *os.Root, podDir, dir, name, kind string, p payload, nested []string, own *ownership) (Prepared, error) {
	rel := filepath.Join(dir, name)
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return Prepared{}, fmt.Errorf("create %s dir %s: %w", kind, rel, err)
	}
	path := filepath.Join(podDir, rel)
	if err := writeOwned(path, p, nested, own); err != nil {
		return Prepared{}, err
	}
	return Prepared{Name: name, Path: path, Kind: kind, ReadOnly: true}, nil
}

// prepareSecret projects s (nil when missing) into the volume's directory,
// on a tmpfs of its own so that secret data never reaches a disk, with the
// mount points nested lists.
func prepareSecret(root *os.Root, podDir string, v *manifests.Volume, s *manifests.Secret, nested []string, own *ownership) (Prepared, error) {
	p, err := secretPayload(v.Secret, s)
	if err != nil {
		return Prepared{}, err
	}
	return prepareOnTmpfs(root, podDir, secretDir, v.Name, KindSecret, p, nested, own)
}

// prepareOnTmpfs writes p, with the mount points nested lists, into
// <podDir>/<dir>/<name> on a tmpfs of its own sized for p: a read-only
// volume of kind that may hold secrets.
func prepareOnTmpfs(root *os.Root, podDir, dir, name, kind string, p payload, nested []string, own *ownership) (Prepared, error) {
	rel := filepath.Join(dir, name)
	if err := root.MkdirAll(rel, 0o700); err != nil {
		return Prepared{}, fmt.Errorf("create %s dir %s: %w", kind, rel, err)
	}
	size := secretTmpfsSize(p, int64(os.Getpagesize()))
	if err := ensureTmpfs(root, rel, "mode=0755,size="+strconv.FormatInt(size, 10)); err != nil {
		return Prepared{}, err
	}
	path := filepath.Join(podDir, rel)
	if err := writeSecret(path, p, nested, own); err != nil {
		return Prepared{}, err
	}
	return Prepared{Name: name, Path: path, Kind: kind, ReadOnly: true}, nil
}

// writeSecret writes p into the secret volume at path after checking that
// path is a tmpfs big enough for it (growing it when not).
func writeSecret(path string, p payload, nested []string, own *ownership) error {
	if err := growTmpfs(path, secretTmpfsSize(p, int64(os.Getpagesize()))); err != nil {
		return err
	}
	return writeOwned(path, p, nested, own)
}

// writeOwned writes p and the mount points nested lists (writePayload)
// into the configMap, secret, downwardAPI or projected volume at path with own (nil
// without fsGroup): files group-readable from the start, a new version
// owned before ..data points at it (so no container sees it half done),
// then the whole volume (as the kubelet, on every write: its policy does
// not apply to configMap and secret volumes). Update runs after every
// reconcile pass, so an unchanged volume is walked only when its root
// does not match.
func writeOwned(path string, p payload, nested []string, own *ownership) error {
	var before func(string) error
	if own != nil {
		p = p.groupReadable()
		before = own.apply
	}
	changed, err := writePayload(path, p, nested, before)
	if err != nil || own == nil {
		return err
	}
	o := *own
	o.onRootMismatch = !changed
	return o.apply(path)
}

// Projected returns the configMap, secret, downwardAPI and projected
// volumes of pod as Prepare put them under podDir, for Update. It touches
// nothing.
func Projected(podDir string, pod *manifests.Pod) Set {
	set := Set{}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.ConfigMap != nil:
			set[v.Name] = Prepared{Name: v.Name, Path: filepath.Join(podDir, configMapDir, v.Name), Kind: KindConfigMap, ReadOnly: true}
		case v.Secret != nil:
			set[v.Name] = Prepared{Name: v.Name, Path: filepath.Join(podDir, secretDir, v.Name), Kind: KindSecret, ReadOnly: true}
		case v.DownwardAPI != nil:
			set[v.Name] = Prepared{Name: v.Name, Path: filepath.Join(podDir, downwardAPIDir, v.Name), Kind: KindDownwardAPI, ReadOnly: true}
		case v.Projected != nil:
			set[v.Name] = Prepared{Name: v.Name, Path: filepath.Join(podDir, projectedDir, v.Name), Kind: KindProjected, ReadOnly: true}
		}
	}
	return set
}

// Update rewrites the configMap and secret volumes of pod in set from the
// current documents, in place: a volume whose files differ gets a new
// version and an atomic ..data swap, so running containers see the change
// (except through subPath mounts, as in Kubernetes). A volume whose
// document went missing keeps its files and reports an error, unless it is
// optional, in which case it is emptied. downwardAPI and projected volumes
// are rewritten the same way from the pod's current labels and
// annotations, uid and node as Prepare. Every volume is tried; the errors
// are joined.
func Update(set Set, pod *manifests.Pod, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret, uid string, node downward.Node) error {
	own := podOwnership(pod, true)
	dp := downward.Pod{Pod: pod, UID: uid, Node: node}
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		var err error
		switch {
		case v.ConfigMap != nil || v.Secret != nil:
			err = updateVolume(set, v, cms, secrets, nestedMountpoints(pod, v.Name), own)
		case v.DownwardAPI != nil || v.Projected != nil:
			prep, ok := set[v.Name]
			if !ok {
				err = fmt.Errorf("not prepared: %w", ErrUnknownVolume)
			} else {
				err = updateDownward(prep, v, dp, cms, secrets, nestedMountpoints(pod, v.Name), own)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pod %s/%s: update volume %s: %w", pod.Namespace, pod.Name, v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// updateVolume rewrites one prepared configMap or secret volume.
func updateVolume(set Set, v *manifests.Volume, cms map[string]*manifests.ConfigMap, secrets map[string]*manifests.Secret, nested []string, own *ownership) error {
	prep, ok := set[v.Name]
	if !ok {
		return fmt.Errorf("not prepared: %w", ErrUnknownVolume)
	}
	if v.ConfigMap != nil {
		if prep.Kind != KindConfigMap {
			return fmt.Errorf("prepared as %s, not %s: %w", prep.Kind, KindConfigMap, ErrInvalid)
		}
		p, err := configMapPayload(v.ConfigMap, cms[v.ConfigMap.Name])
		if err != nil {
			return err
		}
		return writeOwned(prep.Path, p, nested, own)
	}
	if prep.Kind != KindSecret {
		return fmt.Errorf("prepared as %s, not %s: %w", prep.Kind, KindSecret, ErrInvalid)
	}
	p, err := secretPayload(v.Secret, secrets[v.Secret.SecretName])
	if err != nil {
		return err
	}
	return writeSecret(prep.Path, p, nested, own)
}

// ensureTmpfs mounts a tmpfs with mount data data on the directory rel of
// root, unless one is mounted there already (a retry after a crash).
func ensureTmpfs(root *os.Root, rel, data string) error {
	dir, err := root.Open(rel)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer dir.Close()
	mounted, err := isMountPoint(root, rel, dir)
	if err != nil {
		return err
	}
	target := fdPath(dir)
	if mounted {
		var st unix.Statfs_t
		if err := unix.Statfs(target, &st); err != nil {
			return fmt.Errorf("statfs %s: %w", rel, err)
		}
		if st.Type != unix.TMPFS_MAGIC {
			return fmt.Errorf("%s has a mount that is not a tmpfs (type %#x): %w", rel, st.Type, ErrInvalid)
		}
		return nil
	}
	// Mount through the fd: the directory checked is the one mounted on.
	if err := unix.Mount(tmpfsSource, target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount tmpfs (%s) on %s: %w", data, rel, err)
	}
	return nil
}

// isMountPoint reports whether rel (opened as dir) is a directory with a
// file system mounted on it: a device other than its parent's.
func isMountPoint(root *os.Root, rel string, dir *os.File) (bool, error) {
	fi, err := dir.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", rel, err)
	}
	lfi, err := root.Lstat(rel)
	if err != nil {
		return false, fmt.Errorf("lstat %s: %w", rel, err)
	}
	if !lfi.IsDir() || !os.SameFile(fi, lfi) {
		return false, fmt.Errorf("%s is not a plain directory: %w", rel, ErrInvalid)
	}
	parent, err := root.Lstat(filepath.Dir(rel))
	if err != nil {
		return false, fmt.Errorf("lstat parent of %s: %w", rel, err)
	}
	return devOf(fi) != devOf(parent), nil
}

// devOf is the device a file lives on (os.Stat on Linux always gives a
// *syscall.Stat_t).
func devOf(fi os.FileInfo) uint64 {
	return fi.Sys().(*syscall.Stat_t).Dev
}

// growTmpfs checks that dir is the root of a tmpfs (a mount point, so that
// secret data never lands on the file system below) and grows it to size
// bytes when it is smaller.
func growTmpfs(dir string, size int64) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	target := "/proc/self/fd/" + strconv.Itoa(fd)
	var self, parent unix.Stat_t
	if err := unix.Fstat(fd, &self); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return fmt.Errorf("stat parent of %s: %w", dir, err)
	}
	if self.Dev == parent.Dev {
		return fmt.Errorf("%s has no tmpfs mounted, refusing to write secret data to it: %w", dir, ErrInvalid)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		return fmt.Errorf("%s is not a tmpfs (type %#x), refusing to write secret data to it: %w", dir, st.Type, ErrInvalid)
	}
	if int64(st.Blocks)*st.Bsize >= size {
		return nil
	}
	// A remount resets the per-mount flags to those given: restate them.
	flags := uintptr(unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", target, "", flags, "size="+strconv.FormatInt(size, 10)); err != nil {
		return fmt.Errorf("grow tmpfs %s to %d bytes: %w", dir, size, err)
	}
	return nil
}

// fdPath is the /proc path that names f's directory.
func fdPath(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}
