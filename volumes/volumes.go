package volumes

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/manifests"
)

// Volume kinds as they appear in Prepared.Kind.
const (
	KindEmptyDir  = "emptyDir"
	KindHostPath  = "hostPath"
	KindConfigMap = "configMap"
	KindSecret    = "secret"
	KindImage     = "image"
)

// Sentinel errors; every error returned by this package that matches one of
// them wraps it, so callers can tell a user's mistake from a host problem.
var (
	// ErrInvalid is a value in the manifest that can never work.
	ErrInvalid = errors.New("invalid")
	// ErrNotSupported is valid Kubernetes that berth does not implement yet.
	ErrNotSupported = errors.New("not supported yet")
	// ErrNotFound is a ConfigMap, Secret or key that a volume requires and
	// that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnknownVolume is a volumeMount naming no volume of the pod.
	ErrUnknownVolume = errors.New("unknown volume")
	// ErrHostPathType is a hostPath whose type check failed.
	ErrHostPathType = errors.New("hostPath type check failed")
)

// Set is the prepared volumes of one pod, by volume name.
type Set map[string]Prepared

// Prepared is one volume ready on the host.
type Prepared struct {
	Name string
	// Path is the host path the container binds.
	Path string
	// Kind is one of the Kind* constants.
	Kind string
	// ReadOnly forces every mount of the volume read-only (configMap and
	// secret volumes are always read-only, as in Kubernetes).
	ReadOnly bool
	// File is true for a hostPath that is not a directory (a file, socket
	// or device), so the mount target is created as a file.
	File bool
}

// Mounts plans the bind mounts for c's volumeMounts. SubPath is carried
// for the container init to resolve in-root; it is only checked here.
//
// Mounts are ordered by the depth of their target (stable, so equal depths
// keep the manifest's order), the way containerd's CRI orders them, so a
// mount at /a never hides one at /a/b listed before it.
func Mounts(c *manifests.Container, set Set) ([]container.Mount, error) {
	mounts := make([]container.Mount, 0, len(c.VolumeMounts))
	targets := make(map[string]bool, len(c.VolumeMounts))
	privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
	for i, vm := range c.VolumeMounts {
		m, err := mountFor(vm, set, privileged)
		if err != nil {
			return nil, fmt.Errorf("container %s: volumeMounts[%d] (%s): %w", c.Name, i, vm.Name, err)
		}
		if targets[m.Target] {
			return nil, fmt.Errorf("container %s: volumeMounts[%d] (%s): mountPath %s used twice: %w",
				c.Name, i, vm.Name, m.Target, ErrInvalid)
		}
		targets[m.Target] = true
		mounts = append(mounts, m)
	}
	sort.SliceStable(mounts, func(i, j int) bool {
		return depth(mounts[i].Target) < depth(mounts[j].Target)
	})
	return mounts, nil
}

// mountFor plans one volumeMount of a container, privileged or not.
func mountFor(vm manifests.VolumeMount, set Set, privileged bool) (container.Mount, error) {
	p, ok := set[vm.Name]
	if !ok {
		return container.Mount{}, fmt.Errorf("volume %q: %w", vm.Name, ErrUnknownVolume)
	}
	if vm.SubPathExpr != "" {
		return container.Mount{}, fmt.Errorf("subPathExpr %q was not expanded (pod.ExpandSubPaths): %w", vm.SubPathExpr, ErrInvalid)
	}
	// As the kubelet: a container that is not privileged could otherwise
	// mount over the host's directories.
	if vm.MountPropagation == PropagationBidirectional && !privileged {
		return container.Mount{}, fmt.Errorf("mountPropagation Bidirectional is available only to privileged containers: %w", ErrInvalid)
	}
	if !path.IsAbs(vm.MountPath) || strings.ContainsRune(vm.MountPath, 0) {
		return container.Mount{}, fmt.Errorf("mountPath %q must be an absolute path: %w", vm.MountPath, ErrInvalid)
	}
	if vm.SubPath != "" {
		if err := checkSubPath(vm.SubPath); err != nil {
			return container.Mount{}, fmt.Errorf("subPath: %w", err)
		}
	}
	return container.Mount{
		Source:  p.Path,
		Target:  path.Clean(vm.MountPath),
		Type:    "bind",
		Options: bindOptions(p, vm.ReadOnly, privileged, vm.MountPropagation),
		SubPath: vm.SubPath,
		// With a subPath the target's type is that of what the subPath
		// resolves to, which only the init learns (by fstat of the fd).
		File: p.File && vm.SubPath == "",
	}, nil
}

// bindOptions are the options of a volume bind: recursive and private as
// containerd's CRI makes them (slave with HostToContainer: the source's
// mount, shared or slave on the host, passes the host's later mounts below
// it on to the container; shared with Bidirectional, which the container
// init binds as a peer of the host's mount), read-only when asked or
// forced, nosuid for
// the volumes berth fills itself, and nodev for every volume of a container
// that is not privileged, so that no device node in a volume can be opened.
// A privileged container's hostPath keeps the host's flags: binding the
// host's /dev must keep working there. The container init applies nodev
// to the mounts below a recursive bind too (Linux 5.12+).
func bindOptions(p Prepared, readOnly, privileged bool, propagation string) []string {
	opts := []string{"rbind", "rprivate"}
	switch propagation {
	case PropagationHostToContainer:
		opts[1] = "rslave"
	case PropagationBidirectional:
		opts[1] = "rshared"
	}
	if readOnly || p.ReadOnly {
		opts = append(opts, "ro")
	}
	switch {
	case p.Kind != KindHostPath:
		opts = append(opts, "nosuid", "nodev")
	case !privileged:
		opts = append(opts, "nodev")
	}
	return opts
}

// depth is the number of components of a clean absolute path ("/" is 0).
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// checkName rejects a manifest name that is unsafe as one host path
// component. manifests validates names already; this is defence in depth.
func checkName(kind, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%s name %q cannot be a path component: %w", kind, name, ErrInvalid)
	}
	return nil
}

// checkSubPath rejects a subPath that is absolute or has a ".." element,
// as Kubernetes validation does; the init still resolves it in-root.
func checkSubPath(p string) error {
	if path.IsAbs(p) || strings.ContainsRune(p, 0) {
		return fmt.Errorf("subPath %q must be a relative path: %w", p, ErrInvalid)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Errorf("subPath %q may not contain '..': %w", p, ErrInvalid)
		}
	}
	return nil
}

// checkItemPath rejects a projected file path that is empty, absolute or
// unclean, or has an element starting with ".." (".." itself, and the names
// the atomic writer reserves, as kubelet does).
func checkItemPath(p string) error {
	if p == "" || path.IsAbs(p) || strings.ContainsRune(p, 0) || path.Clean(p) != p {
		return fmt.Errorf("path %q must be a clean relative path: %w", p, ErrInvalid)
	}
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, "..") {
			return fmt.Errorf("path %q: element %q may not start with '..': %w", p, el, ErrInvalid)
		}
	}
	return nil
}
