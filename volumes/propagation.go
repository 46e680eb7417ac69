package volumes

import (
	"fmt"
	"io"
	"strings"

	"github.com/berth-project/berth/internal/mountinfo"
	"github.com/berth-project/berth/manifests"
)

// The mountPropagation values other than None: under HostToContainer,
// mounts the host makes below a volume's source after the container
// started appear in the container; under Bidirectional (privileged
// containers only), mounts the container makes there reach the host too.
const (
	PropagationHostToContainer = "HostToContainer"
	PropagationBidirectional   = "Bidirectional"
)

// mountPeering is how the mount holding a path propagates, from mountinfo.
type mountPeering struct {
	mountPoint    string
	shared, slave bool
}

// peeringOf returns the mount of a /proc/PID/mountinfo that holds the
// clean absolute path p: the last listed (the top of a stack) of those
// with the longest mount point at or above p.
func peeringOf(r io.Reader, p string) (mountPeering, error) {
	entries, err := mountinfo.Parse(r)
	if err != nil {
		return mountPeering{}, err
	}
	var best mountPeering
	found := false
	for _, e := range entries {
		if !mountinfo.Under(p, e.MountPoint) || (found && len(e.MountPoint) < len(best.mountPoint)) {
			continue
		}
		m := mountPeering{mountPoint: e.MountPoint}
		for _, f := range e.Optional {
			m.shared = m.shared || strings.HasPrefix(f, "shared:")
			m.slave = m.slave || strings.HasPrefix(f, "master:")
		}
		best, found = m, true
	}
	if !found {
		return mountPeering{}, fmt.Errorf("no mount holds %s: %w", p, ErrInvalid)
	}
	return best, nil
}

// checkPeering refuses a source for propagation prop whose mount cannot
// carry it, as containerd's CRI does, saying what to do instead: for
// HostToContainer it must receive mount events (shared or slave), for
// Bidirectional also send them (shared).
func checkPeering(m mountPeering, source, prop string) error {
	switch {
	case m.shared, prop == PropagationHostToContainer && m.slave:
		return nil
	case m.slave:
		return fmt.Errorf("mountPropagation %s: %s is on the mount at %s, which is a slave, so mounts made in the container would never reach the host: make it shared (mount --make-rshared %s) or use HostToContainer: %w",
			prop, source, m.mountPoint, m.mountPoint, ErrInvalid)
	}
	return fmt.Errorf("mountPropagation %s: %s is on the mount at %s, which is private, so mounts made there would never reach the container: make it shared (mount --make-rshared %s) or use no mountPropagation: %w",
		prop, source, m.mountPoint, m.mountPoint, ErrInvalid)
}

// propagationOf is the strongest mountPropagation with which a container
// of pod mounts the volume name: Bidirectional, HostToContainer or "".
func propagationOf(pod *manifests.Pod, name string) string {
	prop := ""
	for _, list := range [][]manifests.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, vm := range c.VolumeMounts {
				if vm.Name != name {
					continue
				}
				switch vm.MountPropagation {
				case PropagationBidirectional:
					return PropagationBidirectional
				case PropagationHostToContainer:
					prop = PropagationHostToContainer
				}
			}
		}
	}
	return prop
}
